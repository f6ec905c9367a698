package runtime

import (
	"fmt"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/capabilities"
	"github.com/berthvm/berth/core/network"
)

// Limits a single container may ask for. The Virtualization framework and
// QEMU both accept more, but a guest agent VM with under 128 MiB does not
// boot a stock kernel reliably.
const (
	MinMemoryMiB = 128
)

// Resources resolves a spec's CPU and memory against the host: zero takes
// the default; anything the host cannot give is refused with a message
// naming the flag, the value and the host's limit.
func Resources(spec api.ContainerSpec, host api.Capabilities) (cpus, memMiB int, err error) {
	def := capabilities.DefaultResources(host)
	cpus, memMiB = spec.CPUs, spec.MemoryMiB
	if cpus == 0 {
		cpus = def.CPUs
	}
	if memMiB == 0 {
		memMiB = def.MemoryMiB
	}
	switch {
	case cpus < 0:
		return 0, 0, fmt.Errorf("--cpus %d: must be at least 1: %w", cpus, api.ErrInvalidArgument)
	case host.CPUs > 0 && cpus > host.CPUs:
		return 0, 0, fmt.Errorf("--cpus %d: this host has %d CPUs; ask for %d or fewer: %w",
			cpus, host.CPUs, host.CPUs, api.ErrInvalidArgument)
	case memMiB < MinMemoryMiB:
		return 0, 0, fmt.Errorf("--memory %dMiB: a container VM needs at least %d MiB: %w",
			memMiB, MinMemoryMiB, api.ErrInvalidArgument)
	case host.MemoryMiB > 0 && memMiB > host.MemoryMiB:
		return 0, 0, fmt.Errorf("--memory %dMiB: this host has %d MiB; ask for less: %w",
			memMiB, host.MemoryMiB, api.ErrInvalidArgument)
	}
	return cpus, memMiB, nil
}

// CheckSpec validates everything about a spec that does not need the
// image: name, env syntax, feature requests against the host. It runs
// before anything is created so that a bad request leaves nothing behind.
func CheckSpec(spec api.ContainerSpec, host api.Capabilities) error {
	if spec.Image == "" {
		return fmt.Errorf("no image given: %w", api.ErrInvalidArgument)
	}
	if spec.Name != "" {
		if err := CheckName(spec.Name); err != nil {
			return err
		}
	}
	for _, kv := range spec.Env {
		if k, _, _ := strings.Cut(kv, "="); k == "" || strings.ContainsAny(k, " \t\n") {
			return fmt.Errorf("environment entry %q: want KEY=VALUE with a non-empty KEY without spaces: %w",
				kv, api.ErrInvalidArgument)
		}
	}
	if spec.WorkingDir != "" && !strings.HasPrefix(spec.WorkingDir, "/") {
		return fmt.Errorf("the working directory '%s' is invalid, it needs to be an absolute path: %w", spec.WorkingDir, api.ErrInvalidArgument)
	}
	if spec.Hostname != "" && (len(spec.Hostname) > 63 || strings.ContainsAny(spec.Hostname, " /\t\n")) {
		return fmt.Errorf("hostname %q: at most 63 characters, no spaces or slashes: %w", spec.Hostname, api.ErrInvalidArgument)
	}
	if err := spec.RestartPolicy.Validate(); err != nil {
		return err
	}
	if err := spec.Log.Validate(); err != nil {
		return err
	}
	if spec.AutoRemove && !spec.RestartPolicy.IsNone() {
		return fmt.Errorf("conflicting options: --restart and --rm (a container removed when it exits cannot be restarted): %w", api.ErrInvalidArgument)
	}
	if err := network.CheckBindings(spec.Ports); err != nil {
		return err
	}
	if spec.NoNetwork() && (len(spec.Ports) > 0 || spec.PublishAll) {
		return fmt.Errorf("--network none has no network to publish ports on: drop -p/-P or join a network: %w", api.ErrInvalidArgument)
	}
	if spec.NestedVirtualization {
		if err := capabilities.CheckNested(host); err != nil {
			return err
		}
	}
	if spec.Rosetta {
		if err := capabilities.CheckRosetta(host); err != nil {
			return err
		}
	}
	_, _, err := Resources(spec, host)
	return err
}
