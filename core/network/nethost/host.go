package nethost

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/buildinfo"
)

// HostArg is the hidden first argument that turns a berth executable
// into a network's process: berth net-host RUN_DIR. Every main that can
// run the core calls MaybeRun first.
const HostArg = "net-host"

// Files in a network's run directory.
const (
	planName        = "plan.json"
	controlSockName = "control.sock"
	handleName      = "handle.json"
	// LogName is where the core points the process's output.
	LogName = "net.log"
)

// MaybeRun runs a network's process and exits if the command line asks
// for it (os.Args[1] == HostArg), and returns at once otherwise.
func MaybeRun() {
	if len(os.Args) < 2 || os.Args[1] != HostArg {
		return
	}
	os.Exit(Main(os.Args[2:]))
}

// Main is the network's process: args are [RUN_DIR]. It returns the exit
// status: 0 after a Stop or a SIGTERM, 1 if the network could not start,
// 2 for bad usage.
func Main(args []string) int {
	if len(args) != 1 || !filepath.IsAbs(args[0]) {
		fmt.Fprintf(os.Stderr, "usage: berth %s RUN_DIR (absolute; started by the Berth core, not by hand)\n", HostArg)
		return 2
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	routeLogrus()
	// A hang-up of a terminal the core once had must not end networks.
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := Run(ctx, args[0]); err != nil {
		fmt.Fprintln(os.Stderr, "berth net-host:", err)
		return 1
	}
	return 0
}

// routeLogrus sends gvisor-tap-vsock's logrus lines (information and
// worse) to slog, tagged with their source.
func routeLogrus() {
	logrus.SetOutput(io.Discard)
	logrus.SetLevel(logrus.InfoLevel)
	logrus.AddHook(slogHook{})
}

type slogHook struct{}

func (slogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (slogHook) Fire(e *logrus.Entry) error {
	level := slog.LevelInfo
	switch {
	case e.Level <= logrus.ErrorLevel:
		level = slog.LevelError
	case e.Level == logrus.WarnLevel:
		level = slog.LevelWarn
	case e.Level >= logrus.DebugLevel:
		level = slog.LevelDebug
	}
	// The switch reports every detached VM as an error: its port's
	// socket was closed, on purpose.
	if strings.Contains(e.Message, net.ErrClosed.Error()) {
		level = slog.LevelDebug
	}
	slog.Log(context.Background(), level, e.Message, "source", "gvisor-tap-vsock")
	return nil
}

// Run runs the network planned in runDir until ctx ends or a Stop
// request comes, then removes every socket it made and runDir itself. An
// error means the network never ran; runDir then stays, for the core to
// read the log.
func Run(ctx context.Context, runDir string) error {
	b, err := os.ReadFile(filepath.Join(runDir, planName))
	if err != nil {
		return fmt.Errorf("read the network plan: %w", err)
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("network plan %s: %v: %w", filepath.Join(runDir, planName), err, api.ErrCorrupt)
	}
	r, err := p.resolve()
	if err != nil {
		return err
	}
	sock := filepath.Join(runDir, controlSockName)
	if c, err := net.DialTimeout("unix", sock, 200*time.Millisecond); err == nil {
		c.Close()
		return fmt.Errorf("network %q: %s is served by another process: %w", r.Name, sock, api.ErrAlreadyExists)
	}
	_ = os.Remove(sock)
	eng, err := newEngine(r)
	if err != nil {
		return err
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		eng.close()
		return fmt.Errorf("network %q: control socket: %w", r.Name, err)
	}
	h := &host{r: r, eng: eng, atts: map[string]*nic{}, fwds: map[ForwardKey]*forward{}, stop: make(chan struct{})}
	if r.Uplink != "" {
		h.up = startUplink(r, uplinkPort(r))
	}
	slog.Info("network started", "network", r.Name, "id", r.ID, "subnet", r.subnet, "gateway", r.gateway,
		"internal", r.Internal, "host_access", r.HostAccess, "host_ip", r.HostIP, "blocked", r.Blocked,
		"uplink", r.Uplink, "uplink_ip", r.UplinkIP)
	var serving sync.WaitGroup
	serving.Add(1)
	go func() {
		defer serving.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			serving.Add(1)
			go func() {
				defer serving.Done()
				h.serve(c)
			}()
		}
	}()
	select {
	case <-ctx.Done():
		slog.Info("network stopping on a signal", "network", r.Name)
	case <-h.stop:
		slog.Info("network stopping on request", "network", r.Name)
	}
	ln.Close()
	serving.Wait()
	h.shutdown()
	if h.up != nil {
		h.up.close()
	}
	eng.close()
	// Everything in the run directory was this network's.
	if err := os.RemoveAll(runDir); err != nil {
		slog.Warn("remove the run directory", "dir", runDir, "err", err)
	}
	slog.Info("network stopped", "network", r.Name)
	return nil
}

// host is a running network: the engine and what the core asked of it.
type host struct {
	r   *resolved
	eng *engine
	up  *uplink // nil without one

	mu      sync.Mutex // serializes requests that change the network
	atts    map[string]*nic
	fwds    map[ForwardKey]*forward
	records []Record

	stopOnce sync.Once
	stop     chan struct{}
}

func (h *host) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var req request
	if err := readJSON(c, &req); err != nil {
		return
	}
	// A Sync of many ports may take a while; the client bounds it.
	_ = c.SetDeadline(time.Time{})
	rep := h.handle(req)
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_ = writeJSON(c, rep)
	if req.Op == opStop {
		h.stopOnce.Do(func() { close(h.stop) })
	}
}

func (h *host) handle(req request) reply {
	fail := func(err error) reply { return errorReply(err) }
	missing := func(what string) reply {
		return fail(fmt.Errorf("network %q: %s request without %s: %w", h.r.Name, req.Op, what, api.ErrInvalidArgument))
	}
	switch req.Op {
	case opHello:
		hello := h.hello()
		return reply{OK: true, Hello: &hello}
	case opStatus:
		st := h.status()
		return reply{OK: true, Status: &st}
	case opAttach:
		if req.Attach == nil {
			return missing("an attachment")
		}
		a, err := req.Attach.check(h.r)
		if err != nil {
			return fail(err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := h.attach(a); err != nil {
			return fail(err)
		}
		return reply{OK: true}
	case opDetach:
		h.mu.Lock()
		defer h.mu.Unlock()
		h.detach(req.VM)
		return reply{OK: true}
	case opRecords:
		rs, err := checkRecords(h.r, req.Records)
		if err != nil {
			return fail(err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.setRecords(rs)
		return reply{OK: true}
	case opExpose:
		if req.Forward == nil {
			return missing("a port")
		}
		f, err := req.Forward.check(h.r, true)
		if err != nil {
			return fail(err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		got, err := h.expose(f)
		if err != nil {
			return fail(err)
		}
		return reply{OK: true, Forward: &got}
	case opUnexpose:
		if req.Key == nil {
			return missing("a port")
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.unexpose(*req.Key)
		return reply{OK: true}
	case opSync:
		if req.State == nil {
			return missing("a state")
		}
		want, err := req.State.check(h.r)
		if err != nil {
			return fail(err)
		}
		h.mu.Lock()
		res, err := h.sync(want)
		h.mu.Unlock()
		st := h.status()
		rep := reply{OK: err == nil, Sync: &res, Status: &st}
		if err != nil {
			rep.Error = api.ToRemote(err)
		}
		return rep
	case opStop:
		return reply{OK: true}
	}
	return fail(fmt.Errorf("network %q: unknown control operation %q: %w", h.r.Name, req.Op, api.ErrInvalidArgument))
}

func (h *host) hello() Hello {
	return Hello{ID: h.r.ID, Name: h.r.Name, PID: os.Getpid(), Version: buildinfo.Get().Version, Protocol: ProtocolVersion}
}

// attach binds a's socket and starts moving its frames. The very same
// attachment again does nothing (a VM process may come and go behind it:
// frames go to Peer by path), unless its pump had failed; another
// attachment of the same VM replaces it, keeping its counts.
func (h *host) attach(a Attachment) error {
	old := h.atts[a.VM]
	if old != nil && old.a == a && old.running() {
		return nil
	}
	for _, o := range h.atts {
		if o == old {
			continue
		}
		switch {
		case o.a.MAC == a.MAC:
			return fmt.Errorf("network %q: attach VM %q: MAC %s is VM %q's: %w", h.r.Name, a.VM, a.MAC, o.a.VM, api.ErrConflict)
		case o.a.IP == a.IP:
			return fmt.Errorf("network %q: attach VM %q: address %s is VM %q's: %w", h.r.Name, a.VM, a.IP, o.a.VM, api.ErrConflict)
		case filepath.Clean(o.a.Socket) == filepath.Clean(a.Socket) || filepath.Clean(o.a.Peer) == filepath.Clean(a.Peer):
			return fmt.Errorf("network %q: attach VM %q: socket %s is VM %q's: %w", h.r.Name, a.VM, a.Socket, o.a.VM, api.ErrConflict)
		}
	}
	st := &nicStats{}
	if old != nil {
		st = old.stats
		h.detach(a.VM)
	}
	n, err := h.eng.startNIC(a, newFilter(h.r, a), st, h.up)
	if err != nil {
		return err
	}
	h.atts[a.VM] = n
	h.membersChanged()
	go h.eng.announce(n)
	slog.Info("VM attached", "network", h.r.Name, "vm", a.VM, "mac", a.MAC, "ip", a.IP, "socket", a.Socket)
	return nil
}

// detach stops moving vm's frames and removes its socket.
func (h *host) detach(vm string) {
	n := h.atts[vm]
	if n == nil {
		return
	}
	delete(h.atts, vm)
	h.membersChanged()
	n.stop()
	slog.Info("VM detached", "network", h.r.Name, "vm", vm)
}

// membersChanged tells the uplink, if any, the VMs it may reach.
func (h *host) membersChanged() {
	if h.up != nil {
		h.up.setMembers(h.atts)
	}
}

func (h *host) setRecords(rs []Record) {
	h.records = rs
	h.eng.setRecords(rs)
}

// expose publishes f (checked). The same port published the same way
// again is done already; published another way it is a conflict.
func (h *host) expose(f Forward) (Forward, error) {
	if f.HostPort != 0 {
		for k, o := range h.fwds {
			if k == f.Key() && o.f == f {
				return o.f, nil
			}
			if overlaps(k, f.Key()) {
				return f, fmt.Errorf("network %q: cannot publish %s: %s is already published to %s:%d on this network: %w",
					h.r.Name, f.Key(), k, o.f.GuestIP, o.f.GuestPort, api.ErrConflict)
			}
		}
	}
	fw, err := h.eng.startForward(f)
	if err != nil {
		return f, err
	}
	h.fwds[fw.f.Key()] = fw
	slog.Info("port published", "network", h.r.Name, "forward", fw.f.String())
	return fw.f, nil
}

func (h *host) unexpose(k ForwardKey) {
	fw := h.fwds[k]
	if fw == nil {
		return
	}
	delete(h.fwds, k)
	fw.stop()
	slog.Info("port unpublished", "network", h.r.Name, "port", k.String())
}

// live is the state the network has now.
func (h *host) live() State {
	var s State
	for _, n := range h.atts {
		s.Attachments = append(s.Attachments, n.a)
	}
	for _, fw := range h.fwds {
		s.Forwards = append(s.Forwards, fw.f)
	}
	s.Records = h.records
	return s
}

// sync makes the live state want (checked): everything it can, with
// every failure reported.
func (h *host) sync(want State) (SyncResult, error) {
	p := planSync(h.live(), want)
	var res SyncResult
	var errs []error
	for _, k := range p.Unexpose {
		h.unexpose(k)
		res.Unexposed = append(res.Unexposed, k.String())
	}
	for _, vm := range p.Detach {
		h.detach(vm)
		res.Detached = append(res.Detached, vm)
	}
	for _, a := range p.Attach {
		if err := h.attach(a); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Attached = append(res.Attached, a.VM)
	}
	for _, f := range p.Expose {
		if _, err := h.expose(f); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Exposed = append(res.Exposed, f.Key().String())
	}
	if p.SetRecords {
		h.setRecords(p.Records)
		res.Records = true
	}
	if res.Changed() {
		slog.Info("network synced", "network", h.r.Name, "detached", res.Detached, "attached", res.Attached,
			"unexposed", res.Unexposed, "exposed", res.Exposed, "records", res.Records, "failed", len(errs))
	}
	return res, errors.Join(errs...)
}

func (h *host) status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Status{Hello: h.hello(), Subnet: h.r.subnet.String(), Gateway: h.r.gateway.String(),
		Internal: h.r.Internal, HostAccess: h.r.HostAccess, HostIP: h.r.HostIP, DNSDomain: h.r.DNSDomain,
		Attachments: []AttachmentStatus{}, Forwards: []ForwardStatus{}, Records: slices.Clone(h.records),
		BytesToVMs: atomic.LoadUint64(&h.eng.sw.Sent), BytesFromVMs: atomic.LoadUint64(&h.eng.sw.Received)}
	if st.Records == nil {
		st.Records = []Record{}
	}
	for _, n := range h.atts {
		st.Attachments = append(st.Attachments, n.status())
	}
	for _, fw := range h.fwds {
		st.Forwards = append(st.Forwards, ForwardStatus{Forward: fw.f, Connections: fw.conns.Load()})
	}
	for why := Reason(1); why < numReasons; why++ {
		if n := h.eng.guarded[why].Load(); n > 0 {
			if st.Refused == nil {
				st.Refused = map[string]uint64{}
			}
			st.Refused[why.String()] = n
		}
	}
	if h.up != nil {
		st.Uplink = h.up.status()
	}
	slices.SortFunc(st.Attachments, func(a, b AttachmentStatus) int { return cmp.Compare(a.VM, b.VM) })
	slices.SortFunc(st.Forwards, func(a, b ForwardStatus) int { return cmp.Compare(a.Key().String(), b.Key().String()) })
	return st
}

// shutdown detaches every VM and unpublishes every port.
func (h *host) shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range slices.Collect(maps.Keys(h.fwds)) {
		h.unexpose(k)
	}
	for _, vm := range slices.Collect(maps.Keys(h.atts)) {
		h.detach(vm)
	}
}
