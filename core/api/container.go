package api

import "time"

// ContainerState is where a container is in its life. The transitions are
// decided by core/runtime (lifecycle.go); this is only the vocabulary.
type ContainerState string

const (
	StateCreated  ContainerState = "created"  // disks prepared, never started
	StateStarting ContainerState = "starting" // VM booting, process not yet running
	StateRunning  ContainerState = "running"  // the process runs in its VM
	StateStopping ContainerState = "stopping" // asked to stop; the process or VM is going down
	StatePaused   ContainerState = "paused"   // its processes are frozen in its running VM
	StateExited   ContainerState = "exited"   // the process ended; exit code recorded; VM off
	StateDead     ContainerState = "dead"     // the VM failed (crash, lost); Error says why
	// StateRestarting: it ended and its restart policy starts it again
	// after a back-off; ExitCode and Finished are those of the run that
	// ended. No VM runs meanwhile.
	StateRestarting ContainerState = "restarting"
)

// Active reports whether the container has a VM that may be running.
func (s ContainerState) Active() bool {
	return s == StateStarting || s == StateRunning || s == StateStopping || s == StatePaused
}

// ContainerSpec is what the user asked for: image and overrides of its
// config, resources, and how to attach. It is plain data so it can be
// stored, sent over the socket and validated in one place.
type ContainerSpec struct {
	Name  string `json:"name,omitempty"`
	Image string `json:"image"`

	// Entrypoint replaces the image's when set; an empty, non-nil slice
	// clears it (docker's --entrypoint "").
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Cmd        []string          `json:"cmd,omitempty"`
	Env        []string          `json:"env,omitempty"` // KEY=VALUE, merged over the image's
	WorkingDir string            `json:"workingDir,omitempty"`
	User       string            `json:"user,omitempty"` // name, uid, uid:gid, name:group
	Hostname   string            `json:"hostname,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`

	CPUs      int `json:"cpus,omitempty"`      // 0: the default
	MemoryMiB int `json:"memoryMiB,omitempty"` // 0: the default

	TTY        bool `json:"tty,omitempty"`
	OpenStdin  bool `json:"openStdin,omitempty"`
	AutoRemove bool `json:"autoRemove,omitempty"`
	// RestartPolicy says when the daemon starts it again by itself
	// (docker's --restart).
	RestartPolicy RestartPolicy `json:"restartPolicy,omitzero"`

	// Networks are the networks to join by name; none joins the default
	// network, ["none"] joins none (no NIC at all).
	Networks []string `json:"networks,omitempty"`
	// NetworkAliases are extra DNS names on some of those networks, by
	// the name Networks gives each (docker's --network-alias): other
	// members of that network resolve them, as they resolve its name.
	NetworkAliases map[string][]string `json:"networkAliases,omitempty"`
	// Ports are published when it runs (docker's -p); PublishAll also
	// publishes the image's exposed ports on free host ports (-P).
	Ports      []PortBinding `json:"ports,omitempty"`
	PublishAll bool          `json:"publishAll,omitempty"`
	// AddHosts are extra /etc/hosts lines, "NAME:IP" or
	// "NAME:host-gateway" (the host, on a network with host access).
	AddHosts []string `json:"addHosts,omitempty"`

	// Mounts are binds, volumes and tmpfs mounts (-v, --mount, --tmpfs);
	// ReadOnlyRoot makes the root file system read-only (--read-only):
	// writes go only to mounts.
	Mounts       []Mount `json:"mounts,omitempty"`
	ReadOnlyRoot bool    `json:"readOnlyRoot,omitempty"`

	// Log bounds the container's log (docker's --log-opt max-size and
	// max-file); the zero value is the default, 3 files of 10 MB.
	Log LogConfig `json:"log,omitzero"`

	NestedVirtualization bool   `json:"nestedVirtualization,omitempty"`
	Rosetta              bool   `json:"rosetta,omitempty"`
	Kernel               string `json:"kernel,omitempty"` // a kernel file instead of the default
}

// NoNetwork reports --network none: no NIC at all, loopback only.
func (s ContainerSpec) NoNetwork() bool {
	return len(s.Networks) == 1 && s.Networks[0] == "none"
}

// Container is a container as the daemon reports it.
type Container struct {
	ID      string         `json:"id"`
	Name    string         `json:"name"`
	Spec    ContainerSpec  `json:"spec"`
	Image   string         `json:"image"`       // the reference it was created from
	ImageID string         `json:"imageDigest"` // the image's digest
	State   ContainerState `json:"state"`

	Created  time.Time `json:"created"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`

	// ExitCode is the process's status once exited (128+n for signal n).
	ExitCode int `json:"exitCode"`
	// RestartCount is how many times its restart policy started it since
	// a user last started it (or the daemon did, at its own start).
	RestartCount int `json:"restartCount"`
	// Error says why a container is dead or failed to start.
	Error string `json:"error,omitempty"`
	// ConsoleTail is the end of the VM's console when it died.
	ConsoleTail string `json:"consoleTail,omitempty"`

	// Resources actually given (defaults applied).
	CPUs      int `json:"cpus"`
	MemoryMiB int `json:"memoryMiB"`

	// Paths of the container's files on the host.
	Dir        string `json:"dir"`
	LogPath    string `json:"logPath"`
	ConsoleLog string `json:"consoleLog"`
	// PID of the VM process on the host, while active.
	PID int `json:"pid,omitempty"`
	// IPAddress is the container's address on its first network (or in
	// its VM's own NAT without one).
	IPAddress string `json:"ipAddress,omitempty"`
	// Networks are its addresses, one per network; they are kept across
	// stop and start.
	Networks []ContainerNetwork `json:"networks,omitempty"`
	// Ports are its published ports while it runs.
	Ports []PortMapping `json:"ports,omitempty"`
}

// ShortID is the first 12 characters of a container id, as docker shows.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ContainerStats is one sample of a running container's resource use.
// CPU use is a counter: a client samples twice and divides.
type ContainerStats struct {
	ID   string    `json:"id"`
	Name string    `json:"name"`
	Time time.Time `json:"time"`
	CPUs int       `json:"cpus"`
	// CPUNanos is CPU time the guest spent since boot, all CPUs together.
	CPUNanos uint64 `json:"cpuNanos"`
	// MemoryUsed and MemoryTotal are the guest's own view, in bytes.
	MemoryUsed  uint64 `json:"memoryUsed"`
	MemoryTotal uint64 `json:"memoryTotal"`
	Processes   int    `json:"processes"`
	// HostRSS is what the VM's process occupies in host memory, in bytes
	// (0 where it cannot be read).
	HostRSS uint64 `json:"hostRSS"`
}

// RemoveOptions are the options of a container's removal.
type RemoveOptions struct {
	// Force kills a running container first; without it a running one
	// is refused.
	Force bool
	// Volumes also removes the container's anonymous volumes (docker's
	// rm -v); one another container also mounts stays. Without it they
	// outlive the container, as docker's do, except those of an
	// AutoRemove container, which go with it.
	Volumes bool
}

// ExecSpec is a process to run in a running container (berth exec).
type ExecSpec struct {
	Cmd        []string `json:"cmd"`
	Env        []string `json:"env,omitempty"`
	User       string   `json:"user,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	TTY        bool     `json:"tty,omitempty"`
	Stdin      bool     `json:"stdin,omitempty"`
	Detach     bool     `json:"detach,omitempty"`
	// Size is the client's terminal size, for a TTY: the process starts
	// with it (docker's ConsoleSize).
	Size *TermSize `json:"size,omitempty"`
}

// LogEntry is one line of a container's output, as the daemon stores it
// (docker's json-file format) and streams it to `berth logs`.
type LogEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"` // "stdout" or "stderr"
	Time   time.Time `json:"time"`
}

// ContainerTop is what `berth top` shows: the processes of a container as
// its guest sees them, at the guest's Time.
type ContainerTop struct {
	Time      time.Time      `json:"time"`
	Processes []GuestProcess `json:"processes"`
}

// GuestProcess is one process of a container, from the guest's /proc.
type GuestProcess struct {
	PID  int `json:"pid"`
	PPID int `json:"ppid"`
	UID  int `json:"uid"`
	// User is UID's name in the container's /etc/passwd, if it has one.
	User  string    `json:"user,omitempty"`
	Start time.Time `json:"start"`
	// CPUTime is the user and system time it has used.
	CPUTime time.Duration `json:"cpuTime"`
	// TTY is its terminal ("pts/0"), or "?" without one.
	TTY string `json:"tty"`
	// Cmd is its command line (its name in brackets if it has none).
	Cmd string `json:"cmd"`
}
