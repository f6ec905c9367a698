package guest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
)

// System is what the server needs from the machine beyond running
// processes. The guest uses RealSystem; tests of the server on a host
// pass harmless versions so a test never sets the host's clock or powers
// it off.
type System struct {
	SetTime          func(time.Time) error
	SetHostname      func(string) error
	ConfigureNetwork func(proto.NetworkConfig) error
	// Network, if set, is used instead of ConfigureNetwork: it also
	// gets DHCP leases (ctx ends with the host's session) and reports
	// what it configured. Setting it announces FeatureDHCP.
	Network func(ctx context.Context, cfg proto.NetworkConfig) (proto.NetworkStatus, error)
	// MountContainer mounts cfg's disks under dir and returns the root
	// and the mount points to undo at shutdown, innermost first.
	MountContainer func(cfg proto.ContainerConfig, dir string) (root string, mounts []string, err error)
	// MountVolumes mounts cfg.Mounts over root, once the identity files
	// are written, and makes the root read-only if cfg asks; it returns
	// the mount points to undo, innermost first. Nil refuses mounts.
	MountVolumes func(cfg proto.ContainerConfig, root, dir string) (mounts []string, err error)
	// PowerOff ends the machine after processes are stopped and disks
	// unmounted.
	PowerOff func() error
}

// ServerOptions configure a Server.
type ServerOptions struct {
	Version     string // agent version reported in Info
	System      System
	StateDir    string        // where container roots are mounted; default /run/berth
	OutputLimit int           // bytes kept per output stream; default DefaultOutputLimit
	StopTimeout time.Duration // SIGTERM→SIGKILL grace at shutdown; default 3s
	Features    []string      // extra features to announce (e.g. FeatureACPIButton)
	InitUptime  time.Duration // guest uptime when PID 1 started (see Uptime)
	// DisksReady and NetworkReady, if set, are closed once the disks and
	// overlayfs, and the NICs, can be used: their modules load while the
	// agent already serves, and calls that need them wait.
	DisksReady, NetworkReady <-chan struct{}
	// Trace, if set, hears the steps of each call (boot timing).
	Trace func(string)
	// FirstStart, if set, is closed when the first process has started:
	// work that can wait (loading the power-button modules) waits for it
	// rather than compete with the container's start for the CPU.
	FirstStart chan struct{}
}

func (s *Server) trace(what string) {
	if s.opts.Trace != nil {
		s.opts.Trace(what)
	}
}

// Uptime is the time since the guest kernel started (CLOCK_BOOTTIME).
func Uptime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// Server is the guest side of the protocol: it runs containers' processes
// and keeps them, and their output, across host sessions.
type Server struct {
	opts    ServerOptions
	reapAll bool

	mu         sync.Mutex
	containers map[string]*container
	procs      map[proto.ProcessRef]*process
	byPID      map[int]*process
	shutdown   bool
	stopReaper chan struct{}
	firstStart sync.Once
	freezeMu   sync.Mutex // one freeze or thaw at a time (top_linux.go)
	finished   []*process // ended exec processes, oldest first
}

// keepFinished bounds how many ended exec processes (and their unread
// output) the guest keeps for a host to wait on or re-attach to.
const keepFinished = 32

type container struct {
	id     string
	root   string
	mounts []string
	main   *process
}

type process struct {
	ref      proto.ProcessRef
	pid      int
	terminal bool
	pty      *os.File // master, for a terminal
	stdin    *os.File // write end of the stdin pipe, or the master
	stdinMu  sync.Mutex
	stdout   *outBuffer
	stderr   *outBuffer
	done     chan struct{}
	status   proto.ExitStatus
}

// NewServer creates a server and starts reaping its children. As PID 1
// it also reaps orphans that the kernel hands to it.
func NewServer(opts ServerOptions) *Server {
	if opts.StateDir == "" {
		opts.StateDir = "/run/berth"
	}
	if opts.OutputLimit == 0 {
		opts.OutputLimit = DefaultOutputLimit
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 3 * time.Second
	}
	s := &Server{opts: opts, reapAll: os.Getpid() == 1,
		containers: map[string]*container{}, procs: map[proto.ProcessRef]*process{}, byPID: map[int]*process{},
		stopReaper: make(chan struct{})}
	go s.reaper()
	return s
}

// Close stops the reaper; running processes are left alone.
func (s *Server) Close() { close(s.stopReaper) }

func (s *Server) reaper() {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGCHLD)
	defer signal.Stop(ch)
	tick := time.NewTicker(time.Second) // in case a SIGCHLD coalesced away
	defer tick.Stop()
	for {
		select {
		case <-ch:
		case <-tick.C:
		case <-s.stopReaper:
			return
		}
		s.reap()
	}
}

// reap collects exited children. It holds s.mu across wait4 and lookup so
// a child that exits before start has registered it is found once start
// releases the lock.
func (s *Server) reap() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reapAll {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				return
			}
			if p := s.byPID[pid]; p != nil {
				s.exited(p, ws)
			}
		}
	}
	for pid, p := range s.byPID {
		var ws unix.WaitStatus
		if got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); got == pid && err == nil {
			s.exited(p, ws)
		}
	}
}

// exited records p's end; s.mu is held.
func (s *Server) exited(p *process, ws unix.WaitStatus) {
	delete(s.byPID, p.pid)
	if ws.Signaled() {
		p.status = proto.ExitStatus{Code: 128 + int(ws.Signal()), Signal: int(ws.Signal())}
	} else {
		p.status = proto.ExitStatus{Code: ws.ExitStatus()}
	}
	close(p.done)
	c := s.containers[p.ref.Container]
	if c == nil || c.main != p {
		s.finished = append(s.finished, p)
		if len(s.finished) > keepFinished {
			delete(s.procs, s.finished[0].ref)
			s.finished = s.finished[1:]
		}
	}
	// The container ends with its main process: kill what was exec'd.
	if c != nil && c.main == p {
		for _, q := range s.byPID {
			if q.ref.Container == c.id {
				_ = unix.Kill(q.pid, unix.SIGKILL)
			}
		}
	}
}

// session is one host connection.
type session struct {
	s *Server
	m *proto.Mux
	// detach undoes this session's attachments when it ends.
	mu      sync.Mutex
	detachs []func()
	cancels map[uint32]func() // transfers under way, by stream (archive_linux.go)
}

// errHostGone is what a transport's Read returns while no host is
// connected but one may come back on the same stream (virtio-serial).
var errHostGone = errors.New("no host connected")

// Serve runs sessions on conn until it fails or, on a transport without
// reconnection, the host goes away. On virtio-serial (ServePort) the host
// may leave and come back on the same stream; a host that comes back
// before the guest noticed it left simply starts a new session with its
// sync marker. Processes keep running when a session ends.
func (s *Server) Serve(conn io.ReadWriteCloser) error {
	br := bufio.NewReaderSize(conn, 64<<10)
	wmu := &sync.Mutex{}
	for {
		n, err := proto.ReadSync(br, nil)
		if errors.Is(err, errHostGone) {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err != nil {
			conn.Close()
			return fmt.Errorf("wait for the host's sync: %w", err)
		}
		ss := &session{s: s}
		ss.m = proto.NewMux(br, conn, conn, ss.onControl, proto.MuxOptions{WriteLock: wmu, Resync: true})
		wmu.Lock()
		err = proto.WriteSync(conn, n)
		wmu.Unlock()
		if err != nil {
			conn.Close()
			return fmt.Errorf("send sync: %w", err)
		}
		ss.m.Run()
		ss.mu.Lock()
		for _, d := range ss.detachs {
			d()
		}
		ss.mu.Unlock()
		if err := ss.m.Err(); !errors.Is(err, proto.ErrNewSession) && !errors.Is(err, errHostGone) {
			return err
		}
	}
}

func (ss *session) onControl(payload []byte) {
	var msg proto.Message
	if err := json.Unmarshal(payload, &msg); err != nil || msg.Op == "" {
		ss.m.Fail(fmt.Errorf("host sent a bad control message: %w", api.ErrCorrupt))
		return
	}
	// What must happen before the next frame is read (a stream that
	// data may follow at once, a cancel) happens here; the rest of
	// each call runs on its own so a blocking Wait holds up nothing.
	handle := ss.prepare(msg.Op, msg.Body)
	go func() {
		body, err := handle()
		reply := proto.Message{ID: msg.ID}
		if err != nil {
			reply.Error = api.ToRemote(err)
		} else if body != nil {
			reply.Body, _ = json.Marshal(body)
		}
		_ = ss.m.Send(reply)
		if msg.Op == proto.OpShutdown && err == nil {
			ss.s.finishShutdown()
		}
	}()
}

func decode[T any](body json.RawMessage) (T, error) {
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return v, fmt.Errorf("bad request: %v: %w", err, api.ErrInvalidArgument)
	}
	return v, nil
}

func (ss *session) handle(op string, body json.RawMessage) (any, error) {
	s := ss.s
	switch op {
	case proto.OpHello:
		return s.info(), nil
	case proto.OpSetTime:
		req, err := decode[proto.SetTime](body)
		if err != nil {
			return nil, err
		}
		if err := s.opts.System.SetTime(time.Unix(0, req.UnixNano)); err != nil {
			return nil, fmt.Errorf("set the guest clock: %w", err)
		}
		return nil, nil
	case proto.OpConfigureNetwork:
		req, err := decode[proto.NetworkConfig](body)
		if err != nil {
			return nil, err
		}
		if err := ss.await(s.opts.NetworkReady); err != nil {
			return nil, err
		}
		if s.opts.System.Network == nil {
			return nil, s.opts.System.ConfigureNetwork(req)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-ss.m.Done():
				cancel()
			case <-ctx.Done():
			}
		}()
		s.trace("network: configuring")
		defer s.trace("network: configured")
		return s.opts.System.Network(ctx, req)
	case proto.OpCreateContainer:
		req, err := decode[proto.ContainerConfig](body)
		if err != nil {
			return nil, err
		}
		if err := ss.await(s.opts.DisksReady); err != nil {
			return nil, err
		}
		s.trace("disks ready")
		defer s.trace("container created")
		return nil, s.createContainer(req)
	case proto.OpStart, proto.OpExec:
		req, err := decode[proto.StartRequest](body)
		if err != nil {
			return nil, err
		}
		return ss.start(req, op == proto.OpExec)
	case proto.OpAttach:
		req, err := decode[proto.AttachRequest](body)
		if err != nil {
			return nil, err
		}
		return ss.attach(req)
	case proto.OpSignal:
		req, err := decode[proto.SignalRequest](body)
		if err != nil {
			return nil, err
		}
		p, err := s.process(req.ProcessRef)
		if err != nil {
			return nil, err
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("process %q has already exited: %w", req.ID, api.ErrConflict)
		default:
		}
		if err := unix.Kill(p.pid, unix.Signal(req.Signal)); err != nil {
			return nil, fmt.Errorf("signal %d to process %q: %w", req.Signal, req.ID, err)
		}
		return nil, nil
	case proto.OpWait:
		req, err := decode[proto.ProcessRef](body)
		if err != nil {
			return nil, err
		}
		p, err := s.process(req)
		if err != nil {
			return nil, err
		}
		select {
		case <-p.done:
			return p.status, nil
		case <-ss.m.Done():
			return nil, ss.m.Err()
		}
	case proto.OpResize:
		req, err := decode[proto.ResizeRequest](body)
		if err != nil {
			return nil, err
		}
		p, err := s.process(req.ProcessRef)
		if err != nil {
			return nil, err
		}
		if p.pty == nil {
			return nil, fmt.Errorf("process %q has no terminal: %w", req.ID, api.ErrInvalidArgument)
		}
		return nil, setWinSize(p.pty, req.WinSize)
	case proto.OpList:
		return s.list(), nil
	case proto.OpStats:
		return readStats()
	case proto.OpTop:
		req, err := decode[proto.ContainerRef](body)
		if err != nil {
			return nil, err
		}
		return s.top(req.Container)
	case proto.OpFreeze:
		req, err := decode[proto.FreezeRequest](body)
		if err != nil {
			return nil, err
		}
		return s.freeze(req)
	case proto.OpStatPath:
		req, err := decode[proto.PathRequest](body)
		if err != nil {
			return nil, err
		}
		return s.statPath(req)
	case proto.OpShutdown:
		s.mu.Lock()
		s.shutdown = true
		s.mu.Unlock()
		return nil, nil
	}
	return nil, fmt.Errorf("unknown operation %q: %w", op, api.ErrUnsupported)
}

// await waits for ready (nil: nothing to wait for) or the session's end.
func (ss *session) await(ready <-chan struct{}) error {
	if ready == nil {
		return nil
	}
	select {
	case <-ready:
		return nil
	case <-ss.m.Done():
		return ss.m.Err()
	}
}

func (s *Server) info() proto.Info {
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	feats := []string{proto.FeatureTTY, proto.FeatureOverlay, proto.FeatureNetwork, proto.FeatureReattach, proto.FeatureStats,
		proto.FeatureArchive, proto.FeatureTop, proto.FeatureFreeze}
	if s.opts.System.Network != nil {
		feats = append(feats, proto.FeatureDHCP)
	}
	feats = append(feats, s.opts.Features...)
	return proto.Info{ProtocolVersion: proto.ProtocolVersion, AgentVersion: s.opts.Version,
		Kernel: unix.ByteSliceToString(uts.Release[:]), Arch: runtime.GOARCH, Features: feats,
		InitUptime: s.opts.InitUptime, Uptime: Uptime()}
}

func (s *Server) process(ref proto.ProcessRef) (*process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[ref]
	if p == nil {
		return nil, fmt.Errorf("process %q in container %q: %w", ref.ID, ref.Container, api.ErrNotFound)
	}
	return p, nil
}

func (s *Server) list() []proto.ProcessStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []proto.ProcessStatus{}
	for _, p := range s.procs {
		st := proto.ProcessStatus{ProcessRef: p.ref, PID: p.pid, Running: true}
		select {
		case <-p.done:
			exit := p.status
			st.Running, st.Exit = false, &exit
		default:
		}
		out = append(out, st)
	}
	return out
}

func (s *Server) createContainer(cfg proto.ContainerConfig) error {
	if cfg.ID == "" || strings.ContainsAny(cfg.ID, "/\x00") || cfg.ID == "." || cfg.ID == ".." {
		return fmt.Errorf("container id %q is not a plain name: %w", cfg.ID, api.ErrInvalidArgument)
	}
	s.mu.Lock()
	if _, ok := s.containers[cfg.ID]; ok {
		s.mu.Unlock()
		return fmt.Errorf("container %q: %w", cfg.ID, api.ErrAlreadyExists)
	}
	// Reserve the id while mounting, outside the lock.
	c := &container{id: cfg.ID}
	s.containers[cfg.ID] = c
	s.mu.Unlock()
	root, mounts, err := s.prepareRoot(cfg)
	if err != nil {
		s.mu.Lock()
		delete(s.containers, cfg.ID)
		s.mu.Unlock()
		return fmt.Errorf("container %q: %w", cfg.ID, err)
	}
	s.mu.Lock()
	c.root, c.mounts = root, mounts
	s.mu.Unlock()
	return nil
}

func (s *Server) prepareRoot(cfg proto.ContainerConfig) (string, []string, error) {
	var root string
	var mounts []string
	if cfg.Rootfs != "" {
		fi, err := os.Stat(cfg.Rootfs)
		if err != nil || !fi.IsDir() {
			return "", nil, fmt.Errorf("root directory %q does not exist: %w", cfg.Rootfs, api.ErrNotFound)
		}
		root = cfg.Rootfs
	} else {
		if cfg.Base == (proto.Device{}) {
			return "", nil, fmt.Errorf("no base disk and no root directory given: %w", api.ErrInvalidArgument)
		}
		var err error
		root, mounts, err = s.opts.System.MountContainer(cfg, filepath.Join(s.opts.StateDir, "containers", cfg.ID))
		if err != nil {
			return "", nil, err
		}
		s.trace("mounted")
	}
	if cfg.Hostname != "" {
		if err := s.opts.System.SetHostname(cfg.Hostname); err != nil {
			unmountAll(mounts)
			return "", nil, fmt.Errorf("set hostname: %w", err)
		}
	}
	if err := writeIdentity(root, cfg); err != nil {
		unmountAll(mounts)
		return "", nil, err
	}
	if len(cfg.Mounts) > 0 || cfg.ReadOnlyRoot {
		if s.opts.System.MountVolumes == nil {
			unmountAll(mounts)
			return "", nil, fmt.Errorf("this agent cannot mount volumes: %w", api.ErrUnsupported)
		}
		more, err := s.opts.System.MountVolumes(cfg, root, filepath.Join(s.opts.StateDir, "containers", cfg.ID))
		if err != nil {
			unmountAll(mounts)
			return "", nil, err
		}
		mounts = append(more, mounts...)
		s.trace("volumes mounted")
	}
	return root, mounts, nil
}

// writeIdentity writes /etc/hostname, /etc/hosts and /etc/resolv.conf in
// the container's root (in its writable layer when there is one).
func writeIdentity(root string, cfg proto.ContainerConfig) error {
	files := map[string]string{}
	if cfg.Hostname != "" {
		files["/etc/hostname"] = cfg.Hostname + "\n"
	}
	if cfg.Hostname != "" || len(cfg.Hosts) > 0 {
		var b strings.Builder
		b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
		for _, h := range cfg.Hosts {
			fmt.Fprintf(&b, "%s\t%s\n", h.IP, strings.Join(h.Names, " "))
		}
		if cfg.Hostname != "" {
			fmt.Fprintf(&b, "127.0.1.1\t%s\n", cfg.Hostname)
		}
		files["/etc/hosts"] = b.String()
	}
	if cfg.DNS != nil {
		var b strings.Builder
		for _, ns := range cfg.DNS.Servers {
			fmt.Fprintf(&b, "nameserver %s\n", ns)
		}
		if len(cfg.DNS.Search) > 0 {
			fmt.Fprintf(&b, "search %s\n", strings.Join(cfg.DNS.Search, " "))
		}
		if len(cfg.DNS.Options) > 0 {
			fmt.Fprintf(&b, "options %s\n", strings.Join(cfg.DNS.Options, " "))
		}
		files["/etc/resolv.conf"] = b.String()
	}
	for name, content := range files {
		p, err := InRoot(root, name)
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		// The image's file may be a symlink into a read-only place; write
		// a fresh file instead of through it.
		_ = os.Remove(p)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

func unmountAll(mounts []string) {
	for _, m := range mounts {
		if err := unix.Unmount(m, 0); err != nil {
			_ = unix.Unmount(m, unix.MNT_DETACH)
		}
	}
}

// start runs a process; for a container's main process (exec false) the
// container must have none yet, for exec its main process must be running.
func (ss *session) start(req proto.StartRequest, exec bool) (any, error) {
	s := ss.s
	if req.ID == "" {
		return nil, fmt.Errorf("process id is empty: %w", api.ErrInvalidArgument)
	}
	if len(req.Process.Args) == 0 {
		return nil, fmt.Errorf("process %q has no command: %w", req.ID, api.ErrInvalidArgument)
	}
	s.mu.Lock()
	c := s.containers[req.Container]
	var err error
	switch {
	case c == nil:
		err = fmt.Errorf("container %q: %w", req.Container, api.ErrNotFound)
	case c.root == "":
		err = fmt.Errorf("container %q is still being created: %w", req.Container, api.ErrConflict)
	case s.procs[proto.ProcessRef{Container: req.Container, ID: req.ID}] != nil:
		err = fmt.Errorf("process %q in container %q: %w", req.ID, req.Container, api.ErrAlreadyExists)
	case s.shutdown:
		err = fmt.Errorf("the guest is shutting down: %w", api.ErrConflict)
	case !exec && c.main != nil:
		err = fmt.Errorf("container %q already has a main process, use exec: %w", req.Container, api.ErrConflict)
	case exec && c.main == nil:
		err = fmt.Errorf("container %q has not started, start it before exec: %w", req.Container, api.ErrConflict)
	case exec && isDone(c.main):
		err = fmt.Errorf("container %q is not running: %w", req.Container, api.ErrConflict)
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.trace("starting " + req.ID)
	p, err := s.spawn(c, req)
	if err != nil {
		return nil, err
	}
	s.trace("started " + req.ID)
	if s.opts.FirstStart != nil {
		s.firstStart.Do(func() { close(s.opts.FirstStart) })
	}
	ss.connect(p, req.Streams)
	return proto.StartReply{PID: p.pid}, nil
}

// lookupEnv finds key's value in a KEY=VALUE list; the last one wins, as
// in the host's merge of the image's and the user's environment.
func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(env[i], "="); k == key {
			return v, true
		}
	}
	return "", false
}

func isDone(p *process) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (s *Server) spawn(c *container, req proto.StartRequest) (*process, error) {
	spec := req.Process
	cwd := spec.Cwd
	if cwd == "" {
		cwd = "/"
	}
	cred, err := ResolveUserInRoot(c.root, spec.User, spec.AdditionalGroups)
	if err != nil {
		return nil, err
	}
	env := append([]string{}, spec.Env...)
	pathEnv, ok := lookupEnv(env, "PATH")
	if !ok {
		pathEnv = proto.DefaultPath
		env = append(env, "PATH="+proto.DefaultPath)
	}
	if _, ok := lookupEnv(env, "HOME"); !ok {
		env = append(env, "HOME="+cred.Home)
	}
	if _, ok := lookupEnv(env, "HOSTNAME"); !ok {
		if h, err := os.Hostname(); err == nil {
			env = append(env, "HOSTNAME="+h)
		}
	}
	argv0, err := LookPath(c.root, spec.Args[0], pathEnv, cwd)
	if err != nil {
		return nil, err
	}
	// Docker creates a missing working directory; so do we.
	if dir, err := InRoot(c.root, cwd); err == nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("working directory %q: %w", cwd, err)
		}
	}

	p := &process{ref: proto.ProcessRef{Container: req.Container, ID: req.ID}, terminal: spec.Terminal, done: make(chan struct{}),
		stdout: newOutBuffer(s.opts.OutputLimit), stderr: newOutBuffer(s.opts.OutputLimit)}
	var childFiles []*os.File // closed in the parent after the fork
	defer func() {
		for _, f := range childFiles {
			f.Close()
		}
	}()
	var files [3]*os.File
	sys := &syscall.SysProcAttr{Setsid: true}
	if c.root != "/" {
		sys.Chroot = c.root
	}
	if os.Geteuid() == 0 {
		// Always set, even for root: it also clears inherited groups.
		sys.Credential = &syscall.Credential{Uid: cred.UID, Gid: cred.GID, Groups: cred.Groups}
	}
	if spec.Terminal {
		master, slave, err := openPTY()
		if err != nil {
			return nil, fmt.Errorf("open a terminal: %w", err)
		}
		if spec.Size != nil {
			_ = setWinSize(master, *spec.Size)
		}
		childFiles = append(childFiles, slave)
		files = [3]*os.File{slave, slave, slave}
		sys.Setctty, sys.Ctty = true, 0
		p.pty, p.stdin = master, master
	} else {
		if req.Streams.Stdin != 0 {
			r, w, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			childFiles = append(childFiles, r)
			files[0], p.stdin = r, w
		} else {
			null, err := os.Open(os.DevNull)
			if err != nil {
				return nil, err
			}
			childFiles = append(childFiles, null)
			files[0] = null
		}
		for i, buf := range []*outBuffer{p.stdout, p.stderr} {
			r, w, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			childFiles = append(childFiles, w)
			files[i+1] = w
			go pump(r, buf)
		}
	}
	fds := []uintptr{files[0].Fd(), files[1].Fd(), files[2].Fd()}
	s.mu.Lock()
	pid, err := syscall.ForkExec(argv0, spec.Args, &syscall.ProcAttr{Dir: cwd, Env: env, Files: fds, Sys: sys})
	if err != nil {
		s.mu.Unlock()
		if p.stdin != nil {
			p.stdin.Close()
		}
		// Closing our ends of the output pipes ends their pumps.
		return nil, startError(spec.Args[0], err)
	}
	p.pid = pid
	s.procs[p.ref] = p
	s.byPID[pid] = p
	if c.main == nil {
		c.main = p
	}
	s.mu.Unlock()
	if spec.Terminal {
		go pump(p.pty, p.stdout)
		p.stderr.close()
	}
	slog.Debug("process started", "container", c.id, "id", req.ID, "pid", pid, "args", spec.Args)
	return p, nil
}

func startError(cmd string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("start %q: no such file or directory (a missing interpreter or library?): %w", cmd, api.ErrCommandNotFound)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("start %q: permission denied: %w", cmd, api.ErrCommandNotRunnable)
	case errors.Is(err, unix.ENOEXEC):
		return fmt.Errorf("start %q: not an executable for this architecture (%s): %w", cmd, runtime.GOARCH, api.ErrCommandNotRunnable)
	}
	return fmt.Errorf("start %q: %w", cmd, err)
}

// pump copies a process's output into its buffer until the process
// closes it (a terminal master reports EIO then).
func pump(r *os.File, b *outBuffer) {
	_, _ = io.Copy(b, r)
	r.Close()
	b.close()
}

// connect attaches this session's streams to p.
func (ss *session) connect(p *process, st proto.Streams) (stdoutFrom, stderrFrom uint64) {
	if st.Stdin != 0 {
		in := ss.m.OpenRecv(st.Stdin)
		ss.onEnd(func() { ss.m.ForgetRecv(st.Stdin) })
		go func() {
			p.stdinMu.Lock()
			defer p.stdinMu.Unlock()
			if p.stdin == nil {
				in.Close()
				return
			}
			_, err := io.Copy(p.stdin, in)
			if err == nil && !p.terminal {
				// The host closed stdin: the process sees EOF.
				p.stdin.Close()
				p.stdin = nil
			}
		}()
	}
	stdoutFrom = ss.feed(p.stdout, st.Stdout)
	stderrFrom = ss.feed(p.stderr, st.Stderr)
	return
}

// feed sends buf to the host on stream id: a new reader generation that
// ends with the session or with a newer attachment.
func (ss *session) feed(buf *outBuffer, id uint32) uint64 {
	if id == 0 {
		return 0
	}
	gen, from := buf.attach()
	out := ss.m.OpenSend(id, buf.consumed)
	ss.onEnd(func() { buf.detach(gen); ss.m.ForgetSend(id) })
	go func() {
		pos := from
		for {
			chunk, eof, stale := buf.next(gen, pos, proto.DataChunk)
			if stale {
				return
			}
			if eof {
				out.Close()
				return
			}
			if _, err := out.Write(chunk); err != nil {
				return
			}
			pos += uint64(len(chunk))
		}
	}()
	return from
}

func (ss *session) onEnd(f func()) {
	ss.mu.Lock()
	ss.detachs = append(ss.detachs, f)
	ss.mu.Unlock()
}

func (ss *session) attach(req proto.AttachRequest) (any, error) {
	p, err := ss.s.process(req.ProcessRef)
	if err != nil {
		return nil, err
	}
	var reply proto.AttachReply
	reply.StdoutOffset, reply.StderrOffset = ss.connect(p, req.Streams)
	reply.Exited = isDone(p)
	return reply, nil
}

// finishShutdown stops every process, unmounts the containers and powers
// off. It runs after the shutdown reply has been sent.
func (s *Server) finishShutdown() {
	s.mu.Lock()
	var running []*process
	for _, p := range s.procs {
		if !isDone(p) {
			running = append(running, p)
			_ = unix.Kill(p.pid, unix.SIGTERM)
		}
	}
	s.mu.Unlock()
	deadline := time.After(s.opts.StopTimeout)
	for _, p := range running {
		select {
		case <-p.done:
		case <-deadline:
			_ = unix.Kill(p.pid, unix.SIGKILL)
		}
	}
	for _, p := range running {
		select {
		case <-p.done:
		case <-time.After(time.Second):
		}
	}
	unix.Sync()
	s.mu.Lock()
	for _, c := range s.containers {
		unmountAll(c.mounts)
	}
	s.mu.Unlock()
	unix.Sync()
	if err := s.opts.System.PowerOff(); err != nil {
		slog.Error("power off", "err", err)
	}
}

// RequestShutdown is the guest's own shutdown (ACPI power button).
func (s *Server) RequestShutdown() {
	s.mu.Lock()
	already := s.shutdown
	s.shutdown = true
	s.mu.Unlock()
	if !already {
		s.finishShutdown()
	}
}
