package volume

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/units"
)

// The parsers below read docker's three mount flags into api.Mount. They
// check syntax only; the runtime checks what needs the host (a bind's
// source exists) when it creates the container. Host paths must be
// absolute here: the CLI makes `-v ./src:/src` absolute before it sends
// the spec, as docker's CLI does.

// ParseVolume reads -v/--volume: CONTAINER_PATH (an anonymous volume),
// NAME:CONTAINER_PATH (a named volume), HOST_PATH:CONTAINER_PATH (a bind),
// each with an optional :OPTIONS (ro, rw, nocopy; docker's SELinux and
// consistency options z, Z, cached, delegated, consistent are accepted
// and have no effect).
func ParseVolume(s string) (api.Mount, error) {
	bad := func(why string) error {
		return fmt.Errorf("invalid volume specification %q: %s: %w", s, why, api.ErrInvalidArgument)
	}
	parts := strings.Split(s, ":")
	var m api.Mount
	switch len(parts) {
	case 1:
		m = api.Mount{Type: api.MountVolume, Target: parts[0]}
	case 2, 3:
		m = api.Mount{Source: parts[0], Target: parts[1]}
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				switch o {
				case "ro":
					m.ReadOnly = true
				case "rw":
					m.ReadOnly = false
				case "nocopy":
					m.NoCopy = true
				case "z", "Z", "cached", "delegated", "consistent":
				default:
					return api.Mount{}, bad(fmt.Sprintf("unknown option %q (want ro, rw or nocopy)", o))
				}
			}
		}
	default:
		return api.Mount{}, bad("want [SOURCE:]CONTAINER_PATH[:OPTIONS]")
	}
	if m.Source == "" && len(parts) > 1 {
		return api.Mount{}, bad("empty source")
	}
	switch {
	case m.Type == api.MountVolume:
	case strings.HasPrefix(m.Source, "/"):
		m.Type = api.MountBind
		if m.NoCopy {
			return api.Mount{}, bad("nocopy applies to volumes, not to host paths")
		}
	default:
		m.Type = api.MountVolume
		if CheckName(m.Source) != nil {
			return api.Mount{}, bad(fmt.Sprintf("%q includes invalid characters for a volume name, only %q are allowed; if you intended to pass a host directory, use an absolute path",
				m.Source, "[a-zA-Z0-9][a-zA-Z0-9_.-]"))
		}
	}
	return m, CheckTarget(m.Target)
}

// ParseMount reads --mount: comma-separated key=value fields, docker's
// keys: type (bind, volume, tmpfs; default volume), source|src,
// target|destination|dst, readonly|ro[=true|false], volume-nocopy,
// tmpfs-size, tmpfs-mode.
func ParseMount(s string) (api.Mount, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("invalid argument %q for --mount: %s: %w", s, fmt.Sprintf(format, a...), api.ErrInvalidArgument)
	}
	m := api.Mount{Type: api.MountVolume}
	flag := func(k, v string, set bool) (bool, error) {
		if !set {
			return true, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, bad("%s=%q: want true or false", k, v)
		}
		return b, nil
	}
	var sawTarget bool
	var err error
	for _, field := range strings.Split(s, ",") {
		k, v, set := strings.Cut(field, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "type":
			switch api.MountType(v) {
			case api.MountBind, api.MountVolume, api.MountTmpfs:
				m.Type = api.MountType(v)
			default:
				return api.Mount{}, bad("type %q: want bind, volume or tmpfs", v)
			}
		case "source", "src":
			m.Source = v
		case "target", "destination", "dst":
			m.Target, sawTarget = v, true
		case "readonly", "ro":
			if m.ReadOnly, err = flag(k, v, set); err != nil {
				return api.Mount{}, err
			}
		case "volume-nocopy":
			if m.NoCopy, err = flag(k, v, set); err != nil {
				return api.Mount{}, err
			}
		case "tmpfs-size":
			if m.TmpfsSize, err = units.ParseSize(v); err != nil {
				return api.Mount{}, bad("tmpfs-size: %v", err)
			}
		case "tmpfs-mode":
			if m.TmpfsMode, err = parseMode(v); err != nil {
				return api.Mount{}, bad("tmpfs-mode: %v", err)
			}
		case "consistency", "bind-propagation":
			// docker's options for its own VM's file sharing and mount
			// propagation: nothing to do in a VM of one's own.
		default:
			return api.Mount{}, bad("unknown field %q", k)
		}
	}
	if !sawTarget || m.Target == "" {
		return api.Mount{}, bad("target is required")
	}
	switch m.Type {
	case api.MountBind:
		if m.Source == "" {
			return api.Mount{}, bad("source is required for a bind mount")
		}
		if !path.IsAbs(m.Source) {
			return api.Mount{}, bad("bind source %q must be an absolute path", m.Source)
		}
		if m.NoCopy || m.TmpfsSize != 0 || m.TmpfsMode != 0 {
			return api.Mount{}, bad("volume and tmpfs options do not apply to a bind mount")
		}
	case api.MountVolume:
		if m.Source != "" {
			if err := CheckName(m.Source); err != nil {
				return api.Mount{}, err
			}
		}
		if m.TmpfsSize != 0 || m.TmpfsMode != 0 {
			return api.Mount{}, bad("tmpfs options do not apply to a volume")
		}
	case api.MountTmpfs:
		if m.Source != "" {
			return api.Mount{}, bad("a tmpfs mount has no source")
		}
		if m.NoCopy {
			return api.Mount{}, bad("volume-nocopy does not apply to tmpfs")
		}
	}
	return m, CheckTarget(m.Target)
}

// ParseTmpfs reads --tmpfs: CONTAINER_PATH[:OPTIONS], options size=,
// mode=, exec/noexec, ro/rw (docker's nosuid, nodev and the like are
// always on and accepted).
func ParseTmpfs(s string) (api.Mount, error) {
	target, opts, _ := strings.Cut(s, ":")
	m := api.Mount{Type: api.MountTmpfs, Target: target}
	for _, o := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(o, "=")
		var err error
		switch k {
		case "", "nosuid", "nodev", "noexec", "rw":
		case "exec":
			m.TmpfsExec = true
		case "ro":
			m.ReadOnly = true
		case "size":
			m.TmpfsSize, err = units.ParseSize(v)
		case "mode":
			m.TmpfsMode, err = parseMode(v)
		default:
			err = fmt.Errorf("unknown option %q (want size=, mode=, exec, ro)", o)
		}
		if err != nil {
			return api.Mount{}, fmt.Errorf("invalid --tmpfs %q: %v: %w", s, err, api.ErrInvalidArgument)
		}
	}
	return m, CheckTarget(m.Target)
}

// CheckTarget checks a container path: absolute, and not the root.
func CheckTarget(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("a mount needs a container path: %w", api.ErrInvalidArgument)
	case !path.IsAbs(p):
		return fmt.Errorf("invalid mount path %q: the container path must be absolute: %w", p, api.ErrInvalidArgument)
	case path.Clean(p) == "/":
		return fmt.Errorf("invalid mount path %q: cannot mount over the container's root: %w", p, api.ErrInvalidArgument)
	}
	return nil
}

// parseMode reads an octal file mode (tmpfs-mode=1770).
func parseMode(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return 0, fmt.Errorf("mode %q: want an octal mode such as 1777", s)
	}
	return uint32(v), nil
}
