package types

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
)

// ContainerJSON is `docker inspect`'s container object (the Engine API's
// ContainerJSON), with the fields Berth can fill.
type ContainerJSON struct {
	ID              string `json:"Id"`
	Created         string
	Path            string
	Args            []string
	State           *ContainerState
	Image           string
	ResolvConfPath  string
	HostnamePath    string
	HostsPath       string
	LogPath         string
	Name            string
	RestartCount    int
	Driver          string
	Platform        string
	MountLabel      string
	ProcessLabel    string
	AppArmorProfile string
	ExecIDs         []string
	HostConfig      *HostConfig
	Mounts          []MountPoint
	Config          *Config
	NetworkSettings *NetworkSettings
	// Berth holds what Docker has no field for.
	Berth *ContainerBerth
}

// ContainerState is docker's State object. Status is one of docker's
// words: created, running, paused, restarting, removing, exited, dead.
type ContainerState struct {
	Status     string
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	// Pid is the host process that runs the container: for Berth, its VM.
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  string
	FinishedAt string
}

// HostConfig is the part of docker's HostConfig that Berth's run flags set.
type HostConfig struct {
	Binds           []string
	NetworkMode     string
	PortBindings    map[string][]PortBinding
	RestartPolicy   RestartPolicy
	AutoRemove      bool
	PublishAllPorts bool
	ReadonlyRootfs  bool
	ExtraHosts      []string
	Tmpfs           map[string]string `json:",omitempty"`
	Mounts          []Mount           `json:",omitempty"`
	Memory          int64
	NanoCpus        int64
	Privileged      bool
	Runtime         string
	LogConfig       LogConfig
}

// RestartPolicy is docker's; Name is "no", "always", "unless-stopped" or
// "on-failure".
type RestartPolicy struct {
	Name              string
	MaximumRetryCount int
}

// LogConfig names the log driver: Berth keeps docker's json-file format.
type LogConfig struct {
	Type   string
	Config map[string]string
}

// PortBinding is one host side of a published port.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// Mount is a --mount as docker's HostConfig.Mounts records it.
type Mount struct {
	Type     string
	Source   string `json:",omitempty"`
	Target   string
	ReadOnly bool `json:",omitempty"`
}

// MountPoint is one entry of docker's top-level Mounts list.
type MountPoint struct {
	Type        string
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation string
}

// Config is docker's container (and image) Config object.
type Config struct {
	Hostname     string
	Domainname   string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          []string
	Image        string
	Volumes      map[string]struct{} `json:",omitempty"`
	WorkingDir   string
	Entrypoint   []string
	Labels       map[string]string
	StopSignal   string `json:",omitempty"`
}

// NetworkSettings is docker's; the top-level address fields describe the
// first network, as docker's do for the default bridge.
type NetworkSettings struct {
	Bridge      string
	SandboxID   string
	SandboxKey  string
	Ports       map[string][]PortBinding
	Gateway     string
	IPAddress   string
	IPPrefixLen int
	MacAddress  string
	Networks    map[string]*EndpointSettings
}

// EndpointSettings is a container's place on one network.
type EndpointSettings struct {
	Aliases     []string
	DNSNames    []string
	NetworkID   string
	EndpointID  string
	Gateway     string
	IPAddress   string
	IPPrefixLen int
	MacAddress  string
}

// ContainerBerth is what Berth knows that Docker has no field for.
type ContainerBerth struct {
	// State is Berth's own state, finer than docker's: starting and
	// stopping are reported to docker as created and running.
	State api.ContainerState
	// CPUs and MemoryMiB are the container's VM's.
	CPUs                 int
	MemoryMiB            int
	ImageDigest          string
	Dir                  string
	ConsoleLog           string
	ConsoleTail          string `json:",omitempty"`
	NestedVirtualization bool
	Rosetta              bool
	Kernel               string `json:",omitempty"`
}

// DockerStatus is the docker state word for a Berth state: a booting VM is
// "created" (its process has not started), a stopping one still "running";
// the others (running, paused, exited, dead…) are docker's words already.
func DockerStatus(s api.ContainerState) string {
	switch s {
	case api.StateStarting:
		return "created"
	case api.StateStopping:
		return "running"
	case "":
		return "created"
	}
	return string(s)
}

// Process is what a container runs, from its spec over its image's config,
// with docker's (and core/runtime.Merge's) rule: --entrypoint replaces the
// image's entrypoint and drops its cmd; a cmd replaces the image's cmd.
func Process(spec api.ContainerSpec, img api.ImageConfig) (entrypoint, cmd []string) {
	entrypoint, cmd = img.Entrypoint, img.Cmd
	if spec.Entrypoint != nil {
		entrypoint, cmd = spec.Entrypoint, nil
	}
	if spec.Cmd != nil {
		cmd = spec.Cmd
	}
	return entrypoint, cmd
}

// Timestamp is docker's way of writing a time in inspect: RFC 3339 with
// nanoseconds, UTC; the zero time is "0001-01-01T00:00:00Z".
func Timestamp(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// Container is `docker inspect`'s object for c, made from the image image
// (the zero value when the image is gone): docker's Config shows the
// image's config merged with the container's, and Image is the image's ID.
func Container(c api.Container, image api.ImageDetail) ContainerJSON {
	img := image.Config
	entry, cmd := Process(c.Spec, img)
	args := append(append([]string{}, entry...), cmd...)
	var path string
	if len(args) > 0 {
		path, args = args[0], args[1:]
	}
	status := DockerStatus(c.State)
	out := ContainerJSON{
		ID:      c.ID,
		Created: Timestamp(c.Created),
		Path:    path,
		Args:    nonNil(args),
		State: &ContainerState{
			Status: status,
			// As in docker, a paused or restarting container is still running.
			Running:    status == "running" || status == "paused" || status == "restarting",
			Paused:     status == "paused",
			Restarting: status == "restarting",
			Dead:       status == "dead",
			Pid:        c.PID,
			ExitCode:   c.ExitCode,
			Error:      c.Error,
			StartedAt:  Timestamp(c.Started),
			FinishedAt: Timestamp(c.Finished),
		},
		Image:        firstNonEmpty(image.ID, c.ImageID),
		LogPath:      c.LogPath,
		RestartCount: c.RestartCount,
		Name:         "/" + c.Name,
		Driver:       "overlay",
		Platform:     "linux",
		HostConfig:   hostConfig(c),
		Mounts:       mountPoints(c),
		Config: &Config{
			Hostname:     firstNonEmpty(c.Spec.Hostname, api.ShortID(c.ID)),
			User:         firstNonEmpty(c.Spec.User, img.User),
			AttachStdin:  c.Spec.OpenStdin,
			AttachStdout: true,
			AttachStderr: true,
			ExposedPorts: set(img.ExposedPorts, exposed(c.Spec.Ports)),
			Tty:          c.Spec.TTY,
			OpenStdin:    c.Spec.OpenStdin,
			StdinOnce:    c.Spec.OpenStdin,
			Env:          mergeEnv(img.Env, c.Spec.Env),
			Cmd:          cmd,
			Image:        c.Image,
			Volumes:      set(img.Volumes, nil),
			WorkingDir:   firstNonEmpty(c.Spec.WorkingDir, img.WorkingDir),
			Entrypoint:   entry,
			Labels:       mergeLabels(img.Labels, c.Spec.Labels),
			StopSignal:   img.StopSignal,
		},
		NetworkSettings: networkSettings(c),
		Berth: &ContainerBerth{
			State:                c.State,
			CPUs:                 c.CPUs,
			MemoryMiB:            c.MemoryMiB,
			ImageDigest:          c.ImageID,
			Dir:                  c.Dir,
			ConsoleLog:           c.ConsoleLog,
			ConsoleTail:          c.ConsoleTail,
			NestedVirtualization: c.Spec.NestedVirtualization,
			Rosetta:              c.Spec.Rosetta,
			Kernel:               c.Spec.Kernel,
		},
	}
	return out
}

func hostConfig(c api.Container) *HostConfig {
	h := &HostConfig{
		NetworkMode:     "default",
		PortBindings:    map[string][]PortBinding{},
		RestartPolicy:   restartPolicy(c.Spec.RestartPolicy),
		AutoRemove:      c.Spec.AutoRemove,
		PublishAllPorts: c.Spec.PublishAll,
		ReadonlyRootfs:  c.Spec.ReadOnlyRoot,
		ExtraHosts:      c.Spec.AddHosts,
		Memory:          int64(c.MemoryMiB) << 20,
		NanoCpus:        int64(c.CPUs) * 1e9,
		Runtime:         "berth",
		LogConfig:       LogConfig{Type: "json-file", Config: c.Spec.Log.Options()},
	}
	if len(c.Spec.Networks) > 0 {
		h.NetworkMode = c.Spec.Networks[0]
	}
	for _, p := range c.Spec.Ports {
		k := PortKey(p.ContainerPort, p.Proto)
		hp := ""
		if p.HostPort != 0 {
			hp = fmt.Sprint(p.HostPort)
		}
		h.PortBindings[k] = append(h.PortBindings[k], PortBinding{HostIP: p.HostIP, HostPort: hp})
	}
	for _, m := range c.Spec.Mounts {
		switch m.Type {
		case api.MountBind:
			b := m.Source + ":" + m.Target
			if m.ReadOnly {
				b += ":ro"
			}
			h.Binds = append(h.Binds, b)
		case api.MountTmpfs:
			if h.Tmpfs == nil {
				h.Tmpfs = map[string]string{}
			}
			h.Tmpfs[m.Target] = ""
		default:
			h.Mounts = append(h.Mounts, Mount{Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
		}
	}
	return h
}

func mountPoints(c api.Container) []MountPoint {
	out := []MountPoint{}
	for _, m := range c.Spec.Mounts {
		mp := MountPoint{Type: string(m.Type), Source: m.Source, Destination: m.Target, RW: !m.ReadOnly}
		switch m.Type {
		case api.MountVolume:
			mp.Name, mp.Driver, mp.Source, mp.Mode = m.Source, "local", "", "z"
		case api.MountBind:
			mp.Propagation = "rprivate"
			if m.ReadOnly {
				mp.Mode = "ro"
			}
		case api.MountTmpfs:
			mp.Source = ""
		}
		out = append(out, mp)
	}
	return out
}

func networkSettings(c api.Container) *NetworkSettings {
	n := &NetworkSettings{Ports: map[string][]PortBinding{}, Networks: map[string]*EndpointSettings{}, IPAddress: c.IPAddress}
	for _, p := range c.Ports {
		k := PortKey(p.ContainerPort, p.Proto)
		n.Ports[k] = append(n.Ports[k], PortBinding{HostIP: p.HostIP, HostPort: fmt.Sprint(p.HostPort)})
	}
	for i, cn := range c.Networks {
		n.Networks[cn.Network] = &EndpointSettings{
			Aliases:     cn.Aliases,
			DNSNames:    dnsNames(c, cn),
			NetworkID:   cn.NetworkID,
			Gateway:     cn.Gateway,
			IPAddress:   cn.IP,
			IPPrefixLen: cn.Prefix,
			MacAddress:  cn.MAC,
		}
		if i == 0 {
			// The top-level address is the running container's only, as in
			// docker; a stopped one keeps its address on each network.
			n.Gateway, n.IPPrefixLen, n.MacAddress = cn.Gateway, cn.Prefix, cn.MAC
		}
	}
	return n
}

// dnsNames are a container's names on one network: its own, its short
// id, its aliases there.
func dnsNames(c api.Container, cn api.ContainerNetwork) []string {
	out := []string{c.Name, api.ShortID(c.ID)}
	for _, a := range cn.Aliases {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// PortKey is docker's name for a container port: "80/tcp".
func PortKey(port int, proto string) string {
	if proto == "" {
		proto = "tcp"
	}
	return fmt.Sprintf("%d/%s", port, proto)
}

func exposed(ports []api.PortBinding) []string {
	var out []string
	for _, p := range ports {
		out = append(out, PortKey(p.ContainerPort, p.Proto))
	}
	return out
}

// set makes docker's map-as-set ({"80/tcp": {}}); nil when empty. A port
// without a protocol is tcp.
func set(a, b []string) map[string]struct{} {
	if len(a)+len(b) == 0 {
		return nil
	}
	m := map[string]struct{}{}
	for _, s := range append(append([]string{}, a...), b...) {
		if !strings.Contains(s, "/") && s != "" && s[0] >= '0' && s[0] <= '9' {
			s += "/tcp"
		}
		m[s] = struct{}{}
	}
	return m
}

// mergeEnv is the image's environment with the container's KEY=VALUEs
// replacing or added to it, in order.
func mergeEnv(base, over []string) []string {
	out := append([]string{}, base...)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for j, old := range out {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				out[j], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

func mergeLabels(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// restartPolicy is docker's view of a policy: "no" when unset.
func restartPolicy(p api.RestartPolicy) RestartPolicy {
	if p.IsNone() {
		return RestartPolicy{Name: "no"}
	}
	return RestartPolicy{Name: p.Name, MaximumRetryCount: p.MaximumRetryCount}
}
