package vz

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/guest"
	"github.com/berthvm/berth/core/guestabi"
)

// fakeVM stands in for the Virtualization framework in a host process
// run by the tests: it has the framework's states and its vsock
// behaviour (connections refused until the guest listens), and its
// "guest" is the real agent server, whose processes run on the test
// host. Behaviours are switched by words on the plan's command line:
//
//	fake.fail-start     Start fails like an invalid configuration
//	fake.agent-delay=D  the agent listens only D after the start
//	fake.no-agent       the agent never listens
//	fake.panic          the guest panics right after booting
//	fake.panic-now      ... before the host process serves its socket
//	fake.error          the framework goes to its error state
//	fake.exit-host      the host process itself dies (exit status 3)
//	fake.ignore-stop    the guest ignores the power key
type fakeVM struct {
	p      Plan
	flags  map[string]string
	states chan VMState
	srv    *guest.Server

	mu        sync.Mutex
	state     VMState
	listenAt  time.Time
	hasVsock  bool
	powerOffd bool
}

func newFakeVM(p Plan) (VM, error) {
	flags := map[string]string{}
	for _, w := range strings.Fields(p.Cmdline) {
		if k, ok := strings.CutPrefix(w, "fake."); ok {
			k, v, _ := strings.Cut(k, "=")
			flags[k] = v
		}
	}
	if p.Kernel == "" || p.Count(DevConsole) != 1 {
		return nil, errors.New("fake: plan without a kernel or console")
	}
	f := &fakeVM{p: p, flags: flags, states: make(chan VMState, 64), hasVsock: p.Count(DevVsock) == 1}
	f.srv = guest.NewServer(guest.ServerOptions{Version: "fake", StateDir: filepath.Join(p.RunDir, "agent"),
		System: guest.System{
			SetTime:          func(time.Time) error { return nil },
			SetHostname:      func(string) error { return nil },
			ConfigureNetwork: func(proto.NetworkConfig) error { return nil },
			MountContainer: func(proto.ContainerConfig, string) (string, []string, error) {
				return "", nil, fmt.Errorf("no disks in the fake VM: %w", api.ErrUnsupported)
			},
			PowerOff: func() error { f.powerOff(); return nil },
		}})
	return f, nil
}

func (f *fakeVM) console(s string) {
	c, err := os.OpenFile(f.p.Console, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.WriteString(s)
}

func (f *fakeVM) setState(s VMState) {
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
	f.states <- s
}

func (f *fakeVM) Start() error {
	if _, ok := f.flags["fail-start"]; ok {
		return errors.New("fake: Invalid virtual machine configuration. The memory size is too small")
	}
	f.setState(StateStarting)
	f.setState(StateRunning)
	f.console("fake: booting " + f.p.Cmdline + "\n")
	delay, _ := time.ParseDuration(f.flags["agent-delay"])
	f.mu.Lock()
	f.listenAt = time.Now().Add(delay)
	f.mu.Unlock()
	after := func(fn func()) { go func() { time.Sleep(50 * time.Millisecond); fn() }() }
	switch {
	case f.has("panic-now"):
		f.console("Kernel panic - not syncing: at once\n")
		f.setState(StateStopped)
	case f.has("panic"):
		after(func() {
			f.console("Kernel panic - not syncing: fake\n")
			f.setState(StateStopped)
		})
	case f.has("error"):
		after(func() { f.setState(StateError) })
	case f.has("exit-host"):
		after(func() { os.Exit(3) })
	}
	return nil
}

func (f *fakeVM) has(k string) bool { _, ok := f.flags[k]; return ok }

func (f *fakeVM) powerOff() {
	f.mu.Lock()
	done := f.powerOffd
	f.powerOffd = true
	f.mu.Unlock()
	if done {
		return
	}
	// As on a Mac: the kernel's "reboot: Power down" never reaches hvc0.
	f.console(guestabi.PowerOffMarker + "\n")
	go func() {
		time.Sleep(20 * time.Millisecond)
		f.setState(StateStopped)
	}()
}

func (f *fakeVM) StateChanges() <-chan VMState { return f.states }

func (f *fakeVM) State() VMState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

func (f *fakeVM) RequestStop() error {
	if f.State() != StateRunning {
		return fmt.Errorf("fake: cannot request a stop in state %s", f.State())
	}
	if !f.has("ignore-stop") {
		// The agent answers the power key by shutting down.
		go f.srv.RequestShutdown()
	}
	return nil
}

func (f *fakeVM) Stop() error {
	f.setState(StateStopping)
	f.setState(StateStopped)
	return nil
}

func (f *fakeVM) Connect(port uint32) (net.Conn, error) {
	f.mu.Lock()
	listening := !f.listenAt.IsZero() && time.Now().After(f.listenAt) && !f.has("no-agent") && f.state == StateRunning
	f.mu.Unlock()
	if !f.hasVsock {
		return nil, errors.New("fake: no vsock device")
	}
	if port != guestabi.VsockPort || !listening {
		return nil, fmt.Errorf("fake: vsock port %d: %w", port, syscall.ECONNRESET)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	guest := os.NewFile(uintptr(fds[1]), "guest")
	go func() { _ = f.srv.Serve(guest) }()
	hf := os.NewFile(uintptr(fds[0]), "host")
	defer hf.Close()
	return net.FileConn(hf)
}
