package vz

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hostproc"
)

// VM is the one machine a host process runs: vm_darwin.go drives the
// Virtualization framework through it, tests drive a fake. Every method
// may be called from any goroutine.
type VM interface {
	// Start boots the VM and returns once it runs (or failed to).
	Start() error
	// StateChanges delivers every state change after creation.
	StateChanges() <-chan VMState
	State() VMState
	// RequestStop asks the guest to power off (the framework presses the
	// guest's power key); it does not wait.
	RequestStop() error
	// Stop ends the VM at once.
	Stop() error
	// Connect opens a stream to a vsock port of the guest. It fails while
	// nothing listens there.
	Connect(port uint32) (net.Conn, error)
}

// NewVMFunc creates (does not start) the VM of a plan.
type NewVMFunc func(p Plan) (VM, error)

// HostArg is the hidden first argument that turns a berth executable
// into the host process of one VM: berth vm-host RUN_DIR. Every main that
// can run the core (app/berth, also Berth.app's main executable) calls
// MaybeRunHost first.
const HostArg = "vm-host"

// MaybeRunHost runs the VM host process and exits if the command line
// asks for it (os.Args[1] == HostArg), and returns at once otherwise.
func MaybeRunHost() {
	if len(os.Args) < 2 || os.Args[1] != HostArg {
		return
	}
	os.Exit(HostMain(os.Args[2:], newPlatformVM))
}

// HostMain is the host process: args are [RUN_DIR]. It returns the exit
// status: 0 once the VM has ended (however it ended: the reason went to
// the driver), 1 if the VM could not be made or started, 2 for bad usage.
// SIGTERM and SIGINT stop the VM gracefully first.
func HostMain(args []string, newVM NewVMFunc) int {
	if len(args) != 1 || !filepath.IsAbs(args[0]) {
		fmt.Fprintf(os.Stderr, "usage: berth %s RUN_DIR (absolute; started by the Berth core, not by hand)\n", HostArg)
		return 2
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	// A hang-up of a terminal the core once had must not end VMs.
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := RunHost(ctx, args[0], newVM); err != nil {
		fmt.Fprintln(os.Stderr, "berth vm-host:", err)
		return 1
	}
	return 0
}

// gracePeriod is how long a host stopping on a signal waits for the
// guest to power off before it stops the VM.
const gracePeriod = 10 * time.Second

// RunHost creates and starts the VM planned in runDir, serves its control
// socket, and returns when the VM has ended, after removing runDir. If
// ctx ends first, the guest is asked to stop and, after gracePeriod,
// stopped. An error means the VM never ran; runDir then stays for the
// driver to read host.log.
func RunHost(ctx context.Context, runDir string, newVM NewVMFunc) error {
	b, err := os.ReadFile(filepath.Join(runDir, planName))
	if err != nil {
		return fmt.Errorf("read the VM plan: %w", err)
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("VM plan %s: %v: %w", filepath.Join(runDir, planName), err, api.ErrCorrupt)
	}
	h := &host{plan: p, runDir: runDir, ended: make(chan struct{}), conns: map[net.Conn]bool{}}
	// Only what the guest writes during this boot explains how it ends;
	// the console file keeps earlier boots.
	h.consoleStart = fileSize(p.Console)
	vm, err := newVM(p)
	if err != nil {
		return fmt.Errorf("VM %q: %w", p.ID, err)
	}
	h.vm = vm
	sock := filepath.Join(runDir, controlSockName)
	_ = os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("VM %q: control socket: %w", p.ID, err)
	}
	defer ln.Close()
	states := vm.StateChanges()
	if err := vm.Start(); err != nil {
		return fmt.Errorf("VM %q: start: %w", p.ID, err)
	}
	h.started.Store(true)
	slog.Info("VM started", "id", p.ID, "cpus", p.CPUs, "memory_mib", p.MemoryBytes>>20)
	go h.watchStates(states)
	go func() {
		select {
		case <-ctx.Done():
			h.gracefulStop()
		case <-h.ended:
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go h.serve(c)
		}
	}()
	<-h.ended
	// A VM that ended before any core watched it (a guest that crashed
	// at once) waits a little for the core that started it to ask how.
	if !h.watched.Load() {
		deadline := time.Now().Add(2 * time.Second)
		for !h.watched.Load() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	ln.Close()
	// Replies in flight (a kill waiting for the end) get out first.
	waitTimeout(&h.replies, 2*time.Second)
	h.closeConns()
	// Everything in the run directory was this VM's.
	if err := os.RemoveAll(runDir); err != nil {
		slog.Warn("remove the run directory", "dir", runDir, "err", err)
	}
	return nil
}

type host struct {
	plan         Plan
	runDir       string
	vm           VM
	consoleStart int64

	started       atomic.Bool
	stopRequested atomic.Bool // RequestStop sent: a power-off is expected
	killed        atomic.Bool // Stop called: not a crash
	watched       atomic.Bool // a watcher has connected

	endOnce sync.Once
	ended   chan struct{}
	end     reply // the ended line, set before ended closes

	replies sync.WaitGroup // requests being answered

	agent connector // the vsock connections to the agent, one Connect at a time

	mu       sync.Mutex
	done     bool // the end is recorded in end
	watchers []net.Conn
	conns    map[net.Conn]bool // every open connection, closed at the end
}

func (h *host) watchStates(ch <-chan VMState) {
	// The framework reports changes as they happen; the poll is a
	// safety net in case one were ever missed.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var s VMState
		select {
		case st, ok := <-ch:
			if !ok {
				ch = nil
				continue
			}
			s = st
			slog.Info("VM state", "id", h.plan.ID, "state", s.String())
		case <-tick.C:
			s = h.vm.State()
		}
		if m := MapState(s, h.started.Load()); m.Ended {
			h.finish(s)
			return
		}
	}
}

// finish records how the VM ended and tells the watchers.
func (h *host) finish(s VMState) {
	h.endOnce.Do(func() {
		console := hostproc.Tail(h.plan.Console, h.consoleStart, 4096)
		reason := classifyEnd(s, h.killed.Load(), h.stopRequested.Load(), console)
		h.end = reply{OK: true, Ended: true, State: string(hypervisor.Stopped), VZState: s.String(), Reason: reason}
		if reason != "" {
			h.end.ConsoleTail = hypervisor.CrashTail(console)
			slog.Warn("VM crashed", "id", h.plan.ID, "reason", reason)
		} else {
			slog.Info("VM ended", "id", h.plan.ID)
		}
		h.mu.Lock()
		h.done = true
		ws := h.watchers
		h.watchers = nil
		h.mu.Unlock()
		// The watchers hear the end before anything is closed.
		for _, w := range ws {
			_ = w.SetWriteDeadline(time.Now().Add(2 * time.Second))
			_ = writeJSON(w, h.end)
			w.Close()
		}
		close(h.ended)
	})
}

// classifyEnd explains the end of a VM from the framework's last state,
// what the host did, and what the guest printed during this boot. An
// empty reason is a clean end.
func classifyEnd(s VMState, killed, stopRequested bool, console string) string {
	end := hypervisor.GuestEndFrom(console)
	switch {
	case killed:
		return ""
	case s == StateError:
		return "the Virtualization framework stopped the VM with an internal error"
	case end == hypervisor.EndPanic:
		return "guest kernel panic"
	case end == hypervisor.EndReboot:
		return "guest rebooted (Berth VMs do not reboot)"
	case end == hypervisor.EndPowerOff, stopRequested:
		return ""
	case console == "":
		// hvc0 is a module of the guest kernel: a guest that dies before
		// the agent loads it leaves nothing to show.
		return "VM ended without powering off, before its console started"
	}
	return "VM ended without powering off"
}

// gracefulStop asks the guest to power off, then stops the VM if it has
// not after gracePeriod.
func (h *host) gracefulStop() {
	h.stopRequested.Store(true)
	if err := h.vm.RequestStop(); err != nil {
		slog.Warn("request stop", "id", h.plan.ID, "err", err)
	} else {
		select {
		case <-h.ended:
			return
		case <-time.After(gracePeriod):
		}
	}
	h.kill()
}

func (h *host) kill() {
	h.killed.Store(true)
	if err := h.vm.Stop(); err != nil {
		select {
		case <-h.ended:
			return
		default:
		}
		slog.Warn("stop VM", "id", h.plan.ID, "err", err)
	}
}

func (h *host) track(c net.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return false
	}
	h.conns[c] = true
	return true
}

func (h *host) untrack(c net.Conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

func (h *host) closeConns() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		c.Close()
	}
}

func (h *host) state() reply {
	s := h.vm.State()
	m := MapState(s, h.started.Load())
	return reply{OK: true, ID: h.plan.ID, PID: os.Getpid(), State: string(m.State), VZState: s.String()}
}

func (h *host) serve(c net.Conn) {
	h.replies.Add(1)
	defer h.replies.Done()
	// Tracked even after the end: a watch then still gets the ended line.
	h.mu.Lock()
	h.conns[c] = true
	h.mu.Unlock()
	keep := false
	defer func() {
		if !keep {
			h.untrack(c)
			c.Close()
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var req request
	if err := readJSON(c, &req); err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	switch req.Op {
	case opHello:
		_ = writeJSON(c, h.state())
	case opWatch:
		h.watched.Store(true)
		h.mu.Lock()
		if h.done {
			h.mu.Unlock()
			_ = writeJSON(c, h.state())
			_ = writeJSON(c, h.end)
			return
		}
		// Under the lock, so the ended line cannot come first.
		_ = writeJSON(c, h.state())
		h.watchers = append(h.watchers, c)
		h.mu.Unlock()
		keep = true
	case opStop:
		h.stopRequested.Store(true)
		if err := h.vm.RequestStop(); err != nil {
			_ = writeJSON(c, reply{Error: fmt.Sprintf("VM %q: request stop: %v", h.plan.ID, err), Kind: "unavailable"})
			return
		}
		_ = writeJSON(c, reply{OK: true})
	case opKill:
		h.kill()
		select {
		case <-h.ended:
			_ = writeJSON(c, reply{OK: true})
		case <-time.After(10 * time.Second):
			_ = writeJSON(c, reply{Error: fmt.Sprintf("VM %q did not stop", h.plan.ID), Kind: "unavailable"})
		}
	case opAgent:
		keep = true
		// Waiting for the agent is a reply in flight; the proxying after
		// it is not (it ends with the VM).
		h.replies.Add(1)
		go func() {
			defer h.untrack(c)
			vc := h.agentConn(c, req)
			h.replies.Done()
			if vc == nil {
				c.Close()
				return
			}
			defer h.untrack(vc)
			proxy(c, vc)
		}()
	default:
		_ = writeJSON(c, reply{Error: fmt.Sprintf("unknown control operation %q", req.Op)})
	}
}

// defaultAgentTimeout is how long a client waits for the agent when it
// gives no timeout.
const defaultAgentTimeout = 60 * time.Second

// agentConn connects to the guest agent for the client on c and tells it
// the outcome; it returns the tracked vsock connection, or nil.
func (h *host) agentConn(c net.Conn, req request) net.Conn {
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout <= 0 || timeout > 10*time.Minute {
		timeout = defaultAgentTimeout
	}
	deadline := time.Now().Add(timeout)
	var lastErr error
	backoff := 5 * time.Millisecond
	for {
		vc, err := h.connect(deadline)
		if err == nil {
			if !h.track(vc) {
				vc.Close()
				_ = writeJSON(c, reply{Error: fmt.Sprintf("VM %q has ended", h.plan.ID), Kind: "unavailable"})
				return nil
			}
			if err := writeJSON(c, reply{OK: true}); err != nil {
				h.untrack(vc)
				vc.Close()
				return nil
			}
			return vc
		}
		lastErr = err
		select {
		case <-h.ended:
			_ = writeJSON(c, reply{Error: fmt.Sprintf("VM %q ended before its agent answered", h.plan.ID), Kind: "unavailable",
				ConsoleTail: h.consoleTail()})
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
		if time.Now().After(deadline) {
			_ = writeJSON(c, reply{
				Error: fmt.Sprintf("VM %q: the guest agent did not listen on vsock port %d within %v (last error: %v)",
					h.plan.ID, h.plan.AgentPort, timeout.Round(time.Millisecond), lastErr),
				Kind:        "canceled",
				ConsoleTail: h.consoleTail(),
			})
			return nil
		}
	}
}

func (h *host) consoleTail() string {
	return hypervisor.CrashTail(hostproc.Tail(h.plan.Console, h.consoleStart, 4096))
}

// connect is one attempt to reach the agent, waiting until deadline at
// most. The framework may never complete a Connect (see connector), so
// attempts share the one in flight rather than each starting its own.
func (h *host) connect(deadline time.Time) (net.Conn, error) {
	return h.agent.get(deadline, func() (net.Conn, error) { return h.vm.Connect(h.plan.AgentPort) }, h.ended)
}

// proxy copies between a and b until either side ends, then closes both.
func proxy(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	a.Close()
	b.Close()
	<-done
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(d):
	}
}
