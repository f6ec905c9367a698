package api

import "time"

// Version is the build's version information, reported by `berth version`
// and by the daemon so the CLI can notice a mismatch.
type Version struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	// APIVersion is bumped on incompatible changes to the daemon API.
	APIVersion int `json:"apiVersion"`
}

// APIVersion is the daemon API version this build speaks.
const APIVersion = 1

// SystemInfo is what `berth system info` shows: the daemon's view of the
// host and of its own configuration.
type SystemInfo struct {
	Daemon        DaemonInfo   `json:"daemon"`
	Host          Capabilities `json:"host"`
	Defaults      Defaults     `json:"defaults"`
	Containers    int          `json:"containers"`
	Running       int          `json:"running"`
	Images        int          `json:"images"`
	SchemaVersion int          `json:"schemaVersion"`
	// Network is how containers reach the outside.
	Network NetworkInfo `json:"network"`
	// ContainersError says why containers cannot run here, if they
	// cannot (no VM backend, a build that cannot run VMs on this host).
	ContainersError string `json:"containersError,omitempty"`
	// DockerAPI is the Docker Engine API the daemon serves beside its own.
	DockerAPI DockerAPIInfo `json:"dockerAPI"`
}

// DockerAPIInfo is where the daemon serves the Docker Engine API, and
// which versions of it: what DOCKER_HOST or a docker context points at.
type DockerAPIInfo struct {
	Socket     string `json:"socket"`
	MinVersion string `json:"minVersion"`
	MaxVersion string `json:"maxVersion"`
}

// Host is the socket as DOCKER_HOST or a docker context's endpoint says it.
func (d DockerAPIInfo) Host() string { return "unix://" + d.Socket }

// NetworkInfo is how this host carries Berth's networks.
type NetworkInfo struct {
	// Mode is the engine of every network: "user" (user-mode networking
	// in a process per network, unprivileged, on every platform: DNS,
	// host access, published ports and the way out by NAT through the
	// host's sockets) or "vmnet" (macOS: the same processes, each with a
	// vmnet interface in shared mode as its way out; a network whose
	// interface vmnet refuses keeps the user-mode way out).
	Mode string `json:"mode"`
	// Engine names it for people ("user-mode (gvisor-tap-vsock)").
	Engine string `json:"engine,omitempty"`
	// Reason says why this mode was chosen, and what another would need.
	Reason string `json:"reason,omitempty"`
}

// DaemonInfo describes the running daemon.
type DaemonInfo struct {
	// ID identifies the data dir; it is made once and survives restarts.
	ID      string    `json:"id"`
	Version Version   `json:"version"`
	PID     int       `json:"pid"`
	Home    string    `json:"home"`
	Socket  string    `json:"socket"`
	Started time.Time `json:"started"`
}

// Defaults are the resources a container gets when the user names none.
type Defaults struct {
	CPUs      int `json:"cpus"`
	MemoryMiB int `json:"memoryMiB"`
}

// DiskUsage is what `berth system df` counts: each image, container and
// volume with the bytes it takes on the host.
type DiskUsage struct {
	Images     []ImageUsage     `json:"images"`
	Containers []ContainerUsage `json:"containers"`
	Volumes    []VolumeUsage    `json:"volumes"`
}

// ImageUsage is an image and how many containers use it.
type ImageUsage struct {
	Image
	Containers int `json:"containers"`
}

// ContainerUsage is a container and the bytes its files take (its
// writable disk, logs and console): allocated blocks, not apparent sizes.
type ContainerUsage struct {
	ID     string         `json:"id"`
	Name   string         `json:"name"`
	Image  string         `json:"image"`
	State  ContainerState `json:"state"`
	Size   int64          `json:"size"`
	Status string         `json:"status,omitempty"`
}

// VolumeUsage is a volume, the bytes its disk image takes (allocated, not
// its file system's size) and how many containers use it.
type VolumeUsage struct {
	Name       string `json:"name"`
	Anonymous  bool   `json:"anonymous,omitempty"`
	Size       int64  `json:"size"`
	Containers int    `json:"containers"`
}
