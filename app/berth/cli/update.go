package cli

import (
	"errors"
	"fmt"

	"github.com/berthvm/berth/core/api"
	"github.com/spf13/cobra"
)

// restartHelp is --restart's help, on run, create and update.
const restartHelp = "restart policy when the container exits: no, on-failure[:MAX-RETRIES], always or unless-stopped"

// restartFlag reads --restart as docker's CLI does, --rm included.
func restartFlag(value string, autoRemove bool) (api.RestartPolicy, error) {
	p, err := api.ParseRestartPolicy(value)
	if err != nil {
		return p, &usageError{err: err}
	}
	if autoRemove && !p.IsNone() {
		//lint:ignore ST1005 docker's own words, which scripts may match
		return p, &usageError{err: errors.New("Conflicting options: --restart and --rm")}
	}
	return p, nil
}

// updateUnsupported are docker's update flags for cgroup limits, which a
// container's own VM has no use for.
var updateUnsupported = []string{"blkio-weight", "cpu-period", "cpu-quota", "cpu-rt-period", "cpu-rt-runtime",
	"cpu-shares", "cpuset-cpus", "cpuset-mems", "kernel-memory", "memory-reservation", "memory-swap", "pids-limit"}

// updateFlags are `berth update`'s flags.
type updateFlags struct {
	restart, memory string
	cpus            int
	unsupported     map[string]*string
}

func (f *updateFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.restart, "restart", "", restartHelp+"; takes effect at once")
	fl.IntVarP(&f.cpus, "cpus", "c", 0, "virtual CPUs of the container's VM; takes effect when the container next starts")
	fl.StringVarP(&f.memory, "memory", "m", "", "memory of the container's VM, e.g. 512m or 2g; takes effect when the container next starts")
	f.unsupported = map[string]*string{}
	for _, name := range updateUnsupported {
		f.unsupported[name] = fl.String(name, "", "")
		fl.MarkHidden(name)
	}
}

// update turns the flags into a change; flags docker has and Berth has
// not are refused by name.
func (f *updateFlags) update(cmd *cobra.Command) (api.ContainerUpdate, error) {
	var u api.ContainerUpdate
	fl := cmd.Flags()
	for _, name := range updateUnsupported {
		if fl.Changed(name) {
			return u, &usageError{err: fmt.Errorf("--%s is not supported: each container has its own VM, sized with --cpus and --memory", name)}
		}
	}
	if fl.Changed("restart") {
		p, err := restartFlag(f.restart, false)
		if err != nil {
			return u, err
		}
		u.RestartPolicy = &p
	}
	if fl.Changed("cpus") {
		if f.cpus < 1 {
			return u, &usageError{err: fmt.Errorf("--cpus %d: must be at least 1", f.cpus)}
		}
		u.CPUs = &f.cpus
	}
	if fl.Changed("memory") {
		mib, err := parseMemory(f.memory)
		if err != nil {
			return u, &usageError{err: err}
		}
		u.MemoryMiB = &mib
	}
	if u.RestartPolicy == nil && u.CPUs == nil && u.MemoryMiB == nil {
		return u, &usageError{err: errors.New("you must provide one or more flags when using this command")}
	}
	return u, nil
}

func (a *app) updateCommand() *cobra.Command {
	var f updateFlags
	cmd := &cobra.Command{
		Use:   "update [flags] CONTAINER...",
		Short: "Update the restart policy, CPUs or memory of containers",
		Long: "Update the restart policy, CPUs or memory of containers.\n\n" +
			"A new restart policy takes effect at once. --cpus and --memory size the container's VM,\n" +
			"which cannot change while it runs: they take effect when the container next starts.",
		Example: "  berth update --restart unless-stopped web\n  berth update -m 2g -c 2 web",
		Args:    minArgs(1, "CONTAINER..."),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := f.update(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := a.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			return eachContainer(args, a.streams, func(ref string) error {
				ctr, err := c.UpdateContainer(ctx, ref, u)
				if err != nil {
					return err
				}
				if u.CPUs != nil || u.MemoryMiB != nil {
					fmt.Fprintf(a.streams.Err, "%s: --cpus and --memory take effect when %s next starts\n", ref, ctr.Name)
				}
				return nil
			})
		},
	}
	f.register(cmd)
	return cmd
}
