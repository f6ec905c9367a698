package dockerapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/volume"
)

// CreateRequest is the part of docker's POST /containers/create body that
// Berth maps onto an api.ContainerSpec. Fields Berth has no meaning for
// are ignored, as an older dockerd ignores newer fields.
type CreateRequest struct {
	Hostname     string
	User         string
	Env          []string
	Cmd          strSlice
	Entrypoint   strSlice
	Image        string
	WorkingDir   string
	Labels       map[string]string
	Tty          bool
	OpenStdin    bool
	ExposedPorts map[string]struct{}
	// Volumes are paths that get an anonymous volume unless a mount
	// covers them (docker run -v /data; docker-compose lists every
	// volume's path here, its binds in HostConfig.Binds).
	Volumes    map[string]struct{}
	HostConfig *CreateHostConfig
	// NetworkingConfig's endpoints give the container aliases on its
	// networks (docker-compose names each service so), and, as from API
	// 1.44, more networks to join.
	NetworkingConfig *struct {
		EndpointsConfig map[string]*endpointConfig
	}
}

// CreateHostConfig is the part of docker's HostConfig Berth maps.
type CreateHostConfig struct {
	AutoRemove      bool
	Binds           []string
	Mounts          []createMount
	PortBindings    map[string][]hostPort
	PublishAllPorts bool
	NetworkMode     string
	RestartPolicy   struct {
		Name              string
		MaximumRetryCount int
	}
	Memory         int64
	NanoCpus       int64 `json:"NanoCpus"`
	ReadonlyRootfs bool
	Tmpfs          map[string]string
	ExtraHosts     []string
	// Refused unless empty: Berth has no equivalent.
	Links       []string
	VolumesFrom []string
	LogConfig   struct {
		Type   string
		Config map[string]string
	}
}

type createMount struct {
	Type          string
	Source        string
	Target        string
	ReadOnly      bool
	VolumeOptions *struct{ NoCopy bool }
	TmpfsOptions  *struct {
		SizeBytes int64
		Mode      uint32
	}
}

type hostPort struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// strSlice is docker's string-or-array (Cmd and Entrypoint accept both);
// null stays nil so that "not set" differs from "set to nothing".
type strSlice []string

func (s *strSlice) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = strSlice{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	if many == nil {
		many = []string{}
	}
	*s = many
	return nil
}

const mib = 1 << 20

// ceilDiv is n/d rounded up, for n >= 0 and d > 0. (n+d-1)/d would
// overflow for n near math.MaxInt64, which a request may send.
func ceilDiv(n, d int64) int64 {
	q := n / d
	if n%d != 0 {
		q++
	}
	return q
}

// Spec translates a create request into Berth's container spec.
func (c CreateRequest) Spec(name string) (api.ContainerSpec, error) {
	if c.Image == "" {
		return api.ContainerSpec{}, fmt.Errorf("create: no image given: %w", api.ErrInvalidArgument)
	}
	spec := api.ContainerSpec{
		Name: name, Image: c.Image, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir, User: c.User,
		Hostname: c.Hostname, Labels: c.Labels, TTY: c.Tty, OpenStdin: c.OpenStdin,
	}
	if c.Entrypoint != nil {
		// docker run --entrypoint "" sends [""]: clear the image's.
		spec.Entrypoint = []string(c.Entrypoint)
		if len(spec.Entrypoint) == 1 && spec.Entrypoint[0] == "" {
			spec.Entrypoint = []string{}
		}
	}
	h := c.HostConfig
	if h == nil {
		h = &CreateHostConfig{}
	}
	switch {
	case len(h.Links) > 0:
		return spec, fmt.Errorf("create: links are not supported by Berth: containers on one network find each other by name and alias: %w", api.ErrInvalidArgument)
	case len(h.VolumesFrom) > 0:
		return spec, fmt.Errorf("create: --volumes-from is not supported by Berth: mount the same named volumes instead: %w", api.ErrInvalidArgument)
	}
	log, err := api.ParseLogConfig(h.LogConfig.Type, h.LogConfig.Config)
	if err != nil {
		return spec, fmt.Errorf("create: %w", err)
	}
	spec.Log = log
	spec.AutoRemove = h.AutoRemove
	spec.ReadOnlyRoot = h.ReadonlyRootfs
	spec.PublishAll = h.PublishAllPorts
	spec.AddHosts = h.ExtraHosts
	if h.Memory < 0 || h.NanoCpus < 0 {
		return spec, fmt.Errorf("create: negative memory or CPUs: %w", api.ErrInvalidArgument)
	}
	spec.MemoryMiB = int(ceilDiv(h.Memory, mib))
	// A VM has whole vCPUs: 1.5 CPUs rounds up to 2, as berth run -c does.
	spec.CPUs = int(ceilDiv(h.NanoCpus, 1e9))
	if p := h.RestartPolicy; p.Name != "" && p.Name != api.RestartNo {
		spec.RestartPolicy = api.RestartPolicy{Name: p.Name, MaximumRetryCount: p.MaximumRetryCount}
		if err := spec.RestartPolicy.Validate(); err != nil {
			return spec, err
		}
	}
	nets, err := networks(h.NetworkMode)
	if err != nil {
		return spec, err
	}
	if c.NetworkingConfig != nil {
		if nets, spec.NetworkAliases, err = endpoints(nets, c.NetworkingConfig.EndpointsConfig); err != nil {
			return spec, err
		}
	}
	spec.Networks = nets
	if spec.Ports, err = portBindings(h.PortBindings); err != nil {
		return spec, err
	}
	for _, b := range h.Binds {
		m, err := volume.ParseVolume(b)
		if err != nil {
			return spec, err
		}
		spec.Mounts = append(spec.Mounts, m)
	}
	for _, m := range h.Mounts {
		am, err := mount(m)
		if err != nil {
			return spec, err
		}
		spec.Mounts = append(spec.Mounts, am)
	}
	anon := make([]string, 0, len(c.Volumes))
	for t := range c.Volumes {
		anon = append(anon, t)
	}
	sort.Strings(anon)
	for _, t := range anon {
		_, onTmpfs := h.Tmpfs[t]
		if onTmpfs || slices.ContainsFunc(spec.Mounts, func(m api.Mount) bool { return m.Target == t }) {
			continue
		}
		if err := volume.CheckTarget(t); err != nil {
			return spec, err
		}
		spec.Mounts = append(spec.Mounts, api.Mount{Type: api.MountVolume, Target: t})
	}
	targets := make([]string, 0, len(h.Tmpfs))
	for t := range h.Tmpfs {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	for _, t := range targets {
		arg := t
		if opts := h.Tmpfs[t]; opts != "" {
			arg += ":" + opts
		}
		m, err := volume.ParseTmpfs(arg)
		if err != nil {
			return spec, err
		}
		spec.Mounts = append(spec.Mounts, m)
	}
	return spec, nil
}

// networks maps docker's NetworkMode: the default network, none, or a
// network by name. host and container:ID have no meaning for a VM.
func networks(mode string) ([]string, error) {
	switch {
	case mode == "" || mode == "default" || mode == "bridge":
		return nil, nil
	case mode == "none":
		return []string{"none"}, nil
	case mode == "host" || strings.HasPrefix(mode, "container:"):
		return nil, fmt.Errorf("network mode %q: each Berth container has its own VM and network stack; use a network (docker network create) instead: %w",
			mode, api.ErrInvalidArgument)
	}
	return []string{mode}, nil
}

// defaultNetwork is the network a container joins without --network
// (core/network's DefaultName; that package is not imported for a name).
const defaultNetwork = "default"

// endpoints applies create's endpoints to nets, the networks NetworkMode
// names: an endpoint on one of those gives its aliases, one on another
// network joins that too (with the default network when NetworkMode
// names none, as dockerd: testcontainers-go's reaper_default). The
// default network (nets nil) has no aliases, as docker's bridge has none.
func endpoints(nets []string, eps map[string]*endpointConfig) ([]string, map[string][]string, error) {
	keys := make([]string, 0, len(eps))
	for k := range eps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var aliases map[string][]string
	for _, k := range keys {
		a, err := eps[k].aliases(k)
		if err != nil {
			return nil, nil, err
		}
		onDefault := nets == nil && (k == "default" || k == "bridge")
		switch {
		case onDefault && len(a) > 0:
			return nil, nil, api.Exactly(api.ErrInvalidArgument, "network-scoped alias is supported only for containers in user defined networks")
		case onDefault:
			continue
		case k == "none" && slices.Equal(nets, []string{"none"}):
			continue
		case nets == nil:
			// As dockerd: the default network, and this one too.
			nets = []string{defaultNetwork, k}
		case !slices.Contains(nets, k):
			nets = append(nets, k)
		}
		if len(a) > 0 {
			if aliases == nil {
				aliases = map[string][]string{}
			}
			aliases[k] = a
		}
	}
	return nets, aliases, nil
}

// portBindings maps docker's {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}.
func portBindings(pb map[string][]hostPort) ([]api.PortBinding, error) {
	keys := make([]string, 0, len(pb))
	for k := range pb {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []api.PortBinding
	for _, k := range keys {
		port, proto, _ := strings.Cut(k, "/")
		if proto == "" {
			proto = "tcp"
		}
		cp, err := strconv.Atoi(port)
		if err != nil || cp < 1 || cp > 65535 || (proto != "tcp" && proto != "udp") {
			return nil, fmt.Errorf("port binding %q: want PORT/tcp or PORT/udp: %w", k, api.ErrInvalidArgument)
		}
		binds := pb[k]
		if len(binds) == 0 {
			binds = []hostPort{{}}
		}
		for _, b := range binds {
			hp := 0
			if b.HostPort != "" {
				if hp, err = strconv.Atoi(b.HostPort); err != nil || hp < 0 || hp > 65535 {
					return nil, fmt.Errorf("port binding %q: host port %q: want one port number: %w", k, b.HostPort, api.ErrInvalidArgument)
				}
			}
			out = append(out, api.PortBinding{HostIP: b.HostIP, HostPort: hp, ContainerPort: cp, Proto: proto})
		}
	}
	return out, nil
}

func mount(m createMount) (api.Mount, error) {
	out := api.Mount{Type: api.MountType(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
	switch out.Type {
	case api.MountBind, api.MountVolume:
		if m.VolumeOptions != nil {
			out.NoCopy = m.VolumeOptions.NoCopy
		}
	case api.MountTmpfs:
		if m.TmpfsOptions != nil {
			out.TmpfsSize, out.TmpfsMode = m.TmpfsOptions.SizeBytes, m.TmpfsOptions.Mode
		}
	default:
		return out, fmt.Errorf("mount type %q: Berth mounts bind, volume and tmpfs: %w", m.Type, api.ErrInvalidArgument)
	}
	if err := volume.CheckTarget(out.Target); err != nil {
		return out, err
	}
	return out, nil
}
