package runtime

import (
	"fmt"
	"strings"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
)

// ImageConfig is the part of an image's config (api.ImageConfig) that
// decides how its process runs.
type ImageConfig struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
}

// Overrides are what the user asked for on top of the image (berth run
// flags). A nil slice keeps the image's value; Entrypoint set (even to an
// empty, non-nil slice) replaces the image's entrypoint and drops its
// Cmd, as docker run --entrypoint does.
type Overrides struct {
	Entrypoint       []string
	Cmd              []string
	Env              []string // KEY=VALUE, replacing the image's value of KEY
	WorkingDir       string
	User             string
	AdditionalGroups []string
	Terminal         bool
	Size             *proto.WinSize
}

// Merge computes the process to run from an image config and the user's
// overrides: a host decision, the guest runs what it is given. The user
// and groups stay names here: they are resolved in the guest against the
// container's own /etc/passwd and /etc/group.
func Merge(img ImageConfig, o Overrides) (proto.ProcessSpec, error) {
	entry, cmd := img.Entrypoint, img.Cmd
	if o.Entrypoint != nil {
		entry, cmd = o.Entrypoint, nil
	}
	if o.Cmd != nil {
		cmd = o.Cmd
	}
	args := append(append([]string{}, entry...), cmd...)
	if len(args) == 0 {
		return proto.ProcessSpec{}, fmt.Errorf("no command to run: the image has no entrypoint or cmd, give one: %w", api.ErrInvalidArgument)
	}
	env, err := mergeEnv(img.Env, o.Env)
	if err != nil {
		return proto.ProcessSpec{}, err
	}
	if _, ok := lookupEnv(env, "PATH"); !ok {
		env = append(env, "PATH="+proto.DefaultPath)
	}
	if o.Terminal {
		if _, ok := lookupEnv(env, "TERM"); !ok {
			env = append(env, "TERM=xterm")
		}
	}
	spec := proto.ProcessSpec{
		Args:             args,
		Env:              env,
		Cwd:              firstNonEmpty(o.WorkingDir, img.WorkingDir, "/"),
		User:             firstNonEmpty(o.User, img.User),
		AdditionalGroups: o.AdditionalGroups,
		Terminal:         o.Terminal,
		Size:             o.Size,
	}
	if !strings.HasPrefix(spec.Cwd, "/") {
		return proto.ProcessSpec{}, fmt.Errorf("working directory %q is not absolute: %w", spec.Cwd, api.ErrInvalidArgument)
	}
	if err := checkExecSize(spec.Args, spec.Env); err != nil {
		return proto.ProcessSpec{}, err
	}
	return spec, nil
}

// Linux's limits on what execve(2) takes: one argument or environment
// string (MAX_ARG_STRLEN, 32 pages), and all of them with their pointers
// (ARG_MAX: a quarter of the default 8 MiB stack). A process past them
// cannot start in any container runtime (docker's says "argument list
// too long" when it starts it); Berth says so when the container is
// created, before a VM boots.
const (
	maxExecString = 128 << 10
	maxExecTotal  = 2 << 20
)

// checkExecSize refuses a command and environment the guest kernel would
// not start, naming the limit.
func checkExecSize(args, env []string) error {
	total := 0
	for i, s := range append(append([]string{}, args...), env...) {
		if len(s)+1 > maxExecString {
			what := fmt.Sprintf("argument %d of the command", i)
			if i >= len(args) {
				k, _, _ := strings.Cut(s, "=")
				what = "environment variable " + k
			}
			return &execSizeError{fmt.Sprintf("%s is %d bytes, more than the %d (128 KiB) Linux lets one argument or variable of a process have",
				what, len(s), maxExecString-1)}
		}
		total += len(s) + 1 + 8 // the string, its NUL, its pointer
	}
	if total > maxExecTotal {
		return &execSizeError{fmt.Sprintf("the command and environment take %d bytes, more than the %d (2 MiB) Linux lets a process start with (argument list too long)",
			total, maxExecTotal)}
	}
	return nil
}

// execSizeError is checkExecSize's: an api.ErrInvalidArgument that Create
// tells from the other errors of a merge.
type execSizeError struct{ msg string }

func (e *execSizeError) Error() string        { return e.msg }
func (e *execSizeError) Is(target error) bool { return target == api.ErrInvalidArgument }

// mergeEnv applies overrides to base, keeping base's order and appending
// new keys in the order given.
func mergeEnv(base, over []string) ([]string, error) {
	out := append([]string{}, base...)
	for _, kv := range over {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("environment variable %q is not KEY=VALUE: %w", kv, api.ErrInvalidArgument)
		}
		replaced := false
		for i, old := range out {
			if ok, _ := envKeyIs(old, k); ok {
				out[i] = kv
				replaced = true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out, nil
}

func envKeyIs(kv, key string) (bool, string) {
	k, v, _ := strings.Cut(kv, "=")
	return k == key, v
}

func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if ok, v := envKeyIs(env[i], key); ok {
			return v, true
		}
	}
	return "", false
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
