package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/network"
	"github.com/berthvm/berth/core/volume"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// createFlags are the flags of `run` and `create`.
type createFlags struct {
	name, workdir, user, entrypoint, memory, kernel, hostname, platform string
	restart, logDriver                                                  string
	env, envFiles, labels, networks, publish, addHosts, logOpts         []string
	volumes, mounts, tmpfs                                              []string
	cpus                                                                float64
	interactive, tty, rm, nested, rosetta, publishAll, readOnly         bool
}

func (f *createFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.SetInterspersed(false) // flags after the image belong to the container's command
	fl.StringVar(&f.name, "name", "", "name the container (default: a generated name)")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable: KEY=VALUE, or KEY to pass yours")
	fl.StringArrayVar(&f.envFiles, "env-file", nil, "read environment variables from a file")
	fl.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&f.user, "user", "u", "", "user: name, uid, name:group or uid:gid")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "replace the image's entrypoint (\"\" clears it)")
	fl.StringArrayVarP(&f.labels, "label", "l", nil, "set a label: KEY=VALUE")
	fl.Float64VarP(&f.cpus, "cpus", "c", 0, "virtual CPUs of the container's VM; a fraction is rounded up (default: see berth system info)")
	fl.StringVarP(&f.memory, "memory", "m", "", "memory of the container's VM, e.g. 512m or 2g (default: see berth system info)")
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "keep stdin open and feed it to the container")
	fl.BoolVarP(&f.tty, "tty", "t", false, "give the container a terminal")
	fl.BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	fl.StringVar(&f.restart, "restart", "no", restartHelp)
	fl.BoolVar(&f.nested, "virtualization", false, "expose virtualization to the container (nested; Apple M3+ and macOS 15+, or KVM with nesting)")
	fl.BoolVar(&f.rosetta, "rosetta", false, "run linux/amd64 binaries with Rosetta (Apple silicon)")
	fl.StringVar(&f.kernel, "kernel", "", "boot this kernel file instead of the default one")
	fl.StringVar(&f.hostname, "hostname", "", "the container's hostname (default: its short id)")
	fl.StringVar(&f.platform, "platform", "", "os/arch to pull if the image is not local (default linux/<host arch>)")
	fl.StringArrayVar(&f.networks, "network", nil, "join a network (repeat for more; default: the default network; none: no network)")
	fl.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a port: [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp], ranges too")
	fl.BoolVarP(&f.publishAll, "publish-all", "P", false, "publish the image's exposed ports on free host ports")
	fl.StringArrayVar(&f.addHosts, "add-host", nil, "add an /etc/hosts line: NAME:IP, or NAME:host-gateway for the host (needs a network with --host-access)")
	fl.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind a host path or mount a volume: HOST_PATH|VOLUME:CONTAINER_PATH[:ro], or CONTAINER_PATH for an anonymous volume;\n"+
		"a volume is a disk: one running container mounts it at a time (docker shares it between running containers);\n"+
		"a host file is shared through its folder, which its VM sees (the container sees only the file)")
	fl.StringArrayVar(&f.mounts, "mount", nil, "attach a mount: type=bind|volume|tmpfs,source=...,target=...[,readonly][,volume-nocopy][,tmpfs-size=...]")
	fl.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs: CONTAINER_PATH[:size=64m,mode=1777,exec]")
	fl.BoolVar(&f.readOnly, "read-only", false, "mount the container's root file system read-only (writes go to mounts only)")
	fl.StringVar(&f.logDriver, "log-driver", "", "log driver: json-file (the only one; local is taken as json-file)")
	fl.StringArrayVar(&f.logOpts, "log-opt", nil, "log option: max-size=SIZE (rotate past it, default 10m) or max-file=N (files kept, default 3)")
	registerUnsupported(fl)
}

// spec turns flags and arguments (IMAGE [COMMAND [ARG...]]) into a
// container spec. It is pure apart from reading env files.
func (f *createFlags) spec(cmd *cobra.Command, args []string, lookup func(string) (string, bool)) (s api.ContainerSpec, err error) {
	if err := checkUnsupported(cmd.Flags()); err != nil {
		return api.ContainerSpec{}, &usageError{err: err}
	}
	if err := checkImageRef(args[0]); err != nil {
		return api.ContainerSpec{}, &usageError{err: err}
	}
	if f.workdir != "" && !path.IsAbs(f.workdir) {
		return api.ContainerSpec{}, &usageError{err: fmt.Errorf("the working directory '%s' is invalid, it needs to be an absolute path", f.workdir)}
	}
	cpus := int(math.Ceil(f.cpus))
	if float64(cpus) != f.cpus && f.cpus > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "berth: --cpus %g rounded up to %d: a VM has whole virtual CPUs\n", f.cpus, cpus)
	}
	s = api.ContainerSpec{Name: f.name, Image: args[0], WorkingDir: f.workdir, User: f.user, CPUs: cpus,
		TTY: f.tty, OpenStdin: f.interactive, AutoRemove: f.rm, NestedVirtualization: f.nested, Rosetta: f.rosetta,
		Hostname: f.hostname}
	if len(args) > 1 {
		s.Cmd = args[1:]
	}
	if s.RestartPolicy, err = restartFlag(f.restart, f.rm); err != nil {
		return s, err
	}
	if cmd.Flags().Changed("entrypoint") {
		s.Entrypoint = []string{}
		if f.entrypoint != "" {
			s.Entrypoint = []string{f.entrypoint}
		}
	}
	if f.cpus < 0 || (cmd.Flags().Changed("cpus") && f.cpus == 0) {
		return s, &usageError{err: fmt.Errorf("--cpus %g: must be more than 0", f.cpus)}
	}
	if f.memory != "" {
		mib, err := parseMemory(f.memory)
		if err != nil {
			return s, &usageError{err: err}
		}
		s.MemoryMiB = mib
	}
	env, err := envFrom(f.envFiles, f.env, lookup)
	if err != nil {
		return s, &usageError{err: err}
	}
	s.Env = env
	if s.Labels, err = parseLabels(f.labels); err != nil {
		return s, &usageError{err: err}
	}
	for _, p := range f.publish {
		bs, err := network.ParsePublish(p)
		if err != nil {
			return s, &usageError{err: err}
		}
		s.Ports = append(s.Ports, bs...)
	}
	s.PublishAll, s.AddHosts = f.publishAll, f.addHosts
	for _, n := range f.networks {
		// docker takes --network a,b too.
		s.Networks = append(s.Networks, strings.Split(n, ",")...)
	}
	if s.Mounts, err = f.parseMounts(); err != nil {
		return s, &usageError{err: err}
	}
	s.ReadOnlyRoot = f.readOnly
	opts, err := api.ParseLogOpts(f.logOpts)
	if err != nil {
		return s, &usageError{err: err}
	}
	if s.Log, err = api.ParseLogConfig(f.logDriver, opts); err != nil {
		return s, &usageError{err: err}
	}
	if f.kernel != "" {
		abs, err := filepath.Abs(f.kernel)
		if err != nil {
			return s, &usageError{err: fmt.Errorf("--kernel %q: %w", f.kernel, err)}
		}
		s.Kernel = abs
	}
	return s, nil
}

func (a *app) createCommand() *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:   "create [flags] IMAGE [COMMAND [ARG...]]",
		Short: "Create a container (its disks, not yet its VM)",
		Args:  minArgs(1, "IMAGE [COMMAND [ARG...]]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := f.spec(cmd, args, os.LookupEnv)
			if err != nil {
				return err
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			created, err := a.createPulling(cmd.Context(), c, spec, f.platform)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.streams.Out, created.ID)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func (a *app) runCommand() *cobra.Command {
	var f createFlags
	var detach bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "run [flags] IMAGE [COMMAND [ARG...]]",
		Short: "Run a command in a new container, in its own VM",
		Example: "  berth run --rm berth/demo\n  berth run -it --rm alpine sh\n" +
			"  berth run -d --name web -m 1g nginx",
		Args: minArgs(1, "IMAGE [COMMAND [ARG...]]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := f.spec(cmd, args, os.LookupEnv)
			if err != nil {
				return err
			}
			keys, err := ParseDetachKeys(detachKeys)
			if err != nil {
				return &usageError{err: err}
			}
			ctx := cmd.Context()
			c, err := a.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			created, err := a.createPulling(ctx, c, spec, f.platform)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			if detach {
				if _, err := a.startWithProgress(ctx, c, created.ID); err != nil {
					return startError(err)
				}
				fmt.Fprintln(a.streams.Out, created.ID)
				return nil
			}
			err = a.attachSession(ctx, c, created, session{stdin: spec.OpenStdin, tty: spec.TTY, start: true, detachKeys: keys})
			if spec.AutoRemove && !errors.Is(err, errDetachedQuiet) {
				awaitRemoval(ctx, c, created)
			}
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "run in the background and print the container id")
	detachKeysFlag(cmd, &detachKeys)
	return cmd
}

// createPulling creates the container, pulling its image first if it is
// not local (as docker run does), with progress on stderr.
func (a *app) createPulling(ctx context.Context, c *client.Client, spec api.ContainerSpec, platform string) (api.Container, error) {
	if platform != "" {
		// docker run --platform: a local image of another platform is
		// not the one asked for; pull the one that is.
		if det, err := c.ImageInspect(ctx, spec.Image); err == nil && !samePlatform(det.Platform, platform) {
			fmt.Fprintf(a.streams.Err, "Image %q is %s locally, not %s; pulling %s\n", spec.Image, det.Platform, platform, platform)
			b := newBars(a.streams.Err)
			_, perr := c.ImagePull(ctx, api.ImagePullRequest{Ref: spec.Image, Platform: platform}, b.update)
			b.finish()
			if perr != nil {
				return api.Container{}, perr
			}
		}
	}
	created, err := c.CreateContainer(ctx, spec)
	if err == nil || !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "not found locally") {
		return created, err
	}
	fmt.Fprintf(a.streams.Err, "Unable to find image %q locally; pulling it\n", spec.Image)
	b := newBars(a.streams.Err)
	_, perr := c.ImagePull(ctx, api.ImagePullRequest{Ref: spec.Image, Platform: platform}, b.update)
	b.finish()
	if perr != nil {
		// The daemon's message names the pull already.
		if near := nearImages(ctx, c, spec.Image); len(near) > 0 {
			return api.Container{}, &hintError{err: perr, hint: "A local image has a name one letter away: " + strings.Join(near, ", ")}
		}
		return api.Container{}, perr
	}
	return c.CreateContainer(ctx, spec)
}

// startError maps a failed start to docker's exit codes.
func startError(err error) error {
	switch {
	case errors.Is(err, api.ErrCommandNotFound):
		return withCode(ExitCmdNotFound, err)
	case errors.Is(err, api.ErrCommandNotRunnable):
		return withCode(ExitCannotRun, err)
	}
	return withCode(ExitUsage, err)
}

// attachAndStart is `run` in the foreground and `start -a`: attach first
// (so no output is missed), then start, then relay until the process
// exits, and exit with its status. Ctrl-P Ctrl-Q detaches. run and start
// now call attachSession (for --detach-keys); this stays for callers
// written against it.
//
//lint:ignore U1000 kept for callers on other branches (attach)
func (a *app) attachAndStart(ctx context.Context, c *client.Client, ctr api.Container, stdin, tty, start bool) error {
	return a.attachSession(ctx, c, ctr, session{stdin: stdin, tty: tty, start: start})
}

// session says what attachSession connects.
type session struct {
	stdin, tty bool
	// start starts the container once attached (run, start -a).
	start bool
	// detachKeys is the escape sequence (ParseDetachKeys); nil: docker's
	// default, Ctrl-P Ctrl-Q.
	detachKeys []byte
}

// attachSession attaches to ctr's main process (starting it if s.start)
// and relays until the process ends or the user detaches; attach is this
// with start false.
func (a *app) attachSession(ctx context.Context, c *client.Client, ctr api.Container, s session) error {
	opts := client.AttachOptions{Stdin: s.stdin}
	if s.tty {
		// The process starts with the user's terminal size, not 0x0.
		opts.Size = a.termSize()
	}
	// The stream outlives an interrupt of the CLI: the interrupt goes to
	// the container (proxySignals) and its exit still comes back.
	stream, err := c.Attach(context.WithoutCancel(ctx), ctr.ID, opts)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	if !s.tty {
		stopProxy := a.proxySignals(ctx, c, ctr.ID)
		defer stopProxy()
	}
	var begin func() error
	if s.start {
		begin = func() error {
			_, err := a.startWithProgress(ctx, c, ctr.ID)
			if err != nil && ctx.Err() != nil {
				// Ctrl-C during the boot: the start is called off (the
				// daemon stops the VM); the shell already showed ^C.
				return &exitError{code: ExitInterrupted}
			}
			return startError(err)
		}
	}
	return a.relayKeys(ctx, stream, s.stdin, s.tty, s.detachKeys, begin)
}

// errDetachedQuiet ends a session the user detached from: exit 0 and
// nothing printed, as docker does.
var errDetachedQuiet = &exitError{code: ExitOK}

// relay connects the user's terminal to an attach or exec stream, with
// docker's default detach keys (see relayKeys).
func (a *app) relay(ctx context.Context, stream *client.Stream, stdin, tty bool, begin func() error) error {
	return a.relayKeys(ctx, stream, stdin, tty, nil, begin)
}

// relayKeys runs begin (starting the container, for run) while the
// terminal is still as the user left it, so boot progress draws and
// clears cleanly and Ctrl-C interrupts the start instead of reaching the
// container; then raw mode and resizes for a TTY, stdin if asked (ending
// at the detach keys), and output until the exit frame. The process's
// status becomes this command's; a process that could not run maps to
// docker's 126/127, anything else that failed to 125.
func (a *app) relayKeys(ctx context.Context, stream *client.Stream, stdin, tty bool, keys []byte, begin func() error) error {
	defer stream.Close()
	if begin != nil {
		if err := begin(); err != nil {
			return err
		}
	}
	restore := func() {}
	if tty {
		restore = a.rawTerminal(ctx, stream)
	}
	defer restore()
	if keys == nil {
		keys, _ = ParseDetachKeys(DefaultDetachKeys)
	}
	detached := make(chan struct{})
	if stdin {
		go func() {
			_, err := io.Copy(stream.Stdin(), NewDetachReader(a.streams.In, keys))
			if errors.Is(err, ErrDetached) {
				close(detached)
				stream.Close() // no end of input: the container keeps its stdin
				return
			}
			stream.Stdin().Close()
		}()
	}
	exit, err := stream.Copy(a.streams.Out, a.streams.Err)
	restore()
	select {
	case <-detached:
		return errDetachedQuiet
	default:
	}
	if err != nil {
		return startError(err)
	}
	if exit.ExitCode != 0 {
		return &exitError{code: exit.ExitCode}
	}
	return nil
}

// termSize is the user's terminal size (stdin's, else stdout's), or nil.
func (a *app) termSize() *api.TermSize {
	for _, f := range []any{a.streams.In, a.streams.Out} {
		if file, ok := f.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
			if w, h, err := term.GetSize(int(file.Fd())); err == nil && w > 0 && h > 0 {
				return &api.TermSize{Rows: uint16(h), Cols: uint16(w)}
			}
		}
	}
	return nil
}

// rawTerminal puts the user's terminal in raw mode for a TTY session and
// keeps the container's terminal size in step with it.
func (a *app) rawTerminal(ctx context.Context, stream *client.Stream) (restore func()) {
	in, ok := a.streams.In.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return func() {}
	}
	old, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return func() {}
	}
	sendSize := func() {
		if sz := a.termSize(); sz != nil {
			stream.Resize(*sz)
		}
	}
	sendSize() // it may have changed during the boot
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-winch:
				sendSize()
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	restored := false
	return func() {
		if restored {
			return
		}
		restored = true
		signal.Stop(winch)
		close(done)
		term.Restore(int(in.Fd()), old)
	}
}

// proxySignals forwards the interrupt and terminate signals the CLI gets
// to the container's process, as docker run's --sig-proxy does.
func (a *app) proxySignals(ctx context.Context, c *client.Client, id string) (stop func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				name := "TERM"
				if s == os.Interrupt {
					name = "INT"
				}
				c.KillContainer(context.WithoutCancel(ctx), id, name)
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// startWithProgress starts a container, drawing what takes time (a first
// kernel download, an initramfs build, the boot) on a terminal's stderr.
func (a *app) startWithProgress(ctx context.Context, c *client.Client, id string) (api.Container, error) {
	b := newBars(a.streams.Err)
	ctr, err := c.StartContainer(ctx, id, b.update)
	if err == nil || ctx.Err() != nil {
		// The container's output follows, or the user called the start
		// off: no trace of the bars.
		b.clear()
	} else {
		b.finish()
	}
	return ctr, err
}

// parseMounts reads -v, --mount and --tmpfs. A -v host path that starts
// with "." is made absolute, as docker's CLI does; --mount's must be
// absolute already.
func (f *createFlags) parseMounts() ([]api.Mount, error) {
	var out []api.Mount
	for _, v := range f.volumes {
		if strings.HasPrefix(v, ".") {
			if src, rest, ok := strings.Cut(v, ":"); ok {
				abs, err := filepath.Abs(src)
				if err != nil {
					return nil, fmt.Errorf("-v %q: %w", v, err)
				}
				v = abs + ":" + rest
			}
		}
		m, err := volume.ParseVolume(v)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for _, v := range f.mounts {
		m, err := volume.ParseMount(v)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for _, v := range f.tmpfs {
		m, err := volume.ParseTmpfs(v)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// awaitRemoval waits, up to a few seconds, until the daemon has removed an
// ended --rm container and its anonymous volumes (its destroy event), as
// docker's run --rm does: a script's next command finds them gone.
func awaitRemoval(ctx context.Context, c *client.Client, ctr api.Container) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	opts := client.EventOptions{Since: ctr.Created, Filters: map[string][]string{"container": {ctr.ID}, "action": {"destroy"}}}
	_ = c.Events(ctx, opts, func(api.Event) bool { return false })
}
