package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

// fakeMachine powers off when told to, after a delay, or never.
type fakeMachine struct {
	done    chan struct{}
	stopped bool // Stop was called
}

func (f *fakeMachine) ID() string     { return "f" }
func (f *fakeMachine) State() State   { return Running }
func (f *fakeMachine) Handle() Handle { return Handle{} }
func (f *fakeMachine) Kill() error    { return nil }
func (f *fakeMachine) off()           { close(f.done) }
func (f *fakeMachine) DialAgent(context.Context) (net.Conn, error) {
	return nil, api.ErrUnsupported
}
func (f *fakeMachine) Wait(ctx context.Context) error {
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (f *fakeMachine) Stop(ctx context.Context, timeout time.Duration) error {
	f.stopped = true
	return nil
}

type fakeAgent struct {
	m       *fakeMachine
	err     error
	powerOn bool // the guest ignores the request
}

func (a fakeAgent) Shutdown(context.Context) error {
	if a.err == nil && !a.powerOn {
		a.m.off()
	}
	return a.err
}

func TestShutdown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		agentErr error
		ignore   bool
		noAgent  bool
		wantStop bool
	}{
		{"agent powers off", nil, false, false, false},
		{"agent unreachable", api.ErrUnavailable, false, false, true},
		{"guest ignores the request", nil, true, false, true},
		{"no agent", nil, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &fakeMachine{done: make(chan struct{})}
			var ag Shutdowner
			if !tc.noAgent {
				ag = fakeAgent{m: m, err: tc.agentErr, powerOn: tc.ignore}
			}
			if err := Shutdown(context.Background(), m, ag, 50*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if m.stopped != tc.wantStop {
				t.Fatalf("Stop called = %v, want %v", m.stopped, tc.wantStop)
			}
		})
	}
}

func TestExitError(t *testing.T) {
	err := error(&ExitError{ID: "web", Reason: "guest kernel panic", ConsoleTail: "Kernel panic - not syncing"})
	if !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "VM web: guest kernel panic; console tail:\nKernel panic") {
		t.Fatalf("%v", err)
	}
}

func TestGuestEndFrom(t *testing.T) {
	cases := []struct {
		console string
		want    GuestEnd
	}{
		{"", EndUnknown},
		{"berth agent: ready on /dev/vport1p1\n", EndUnknown},
		{"berth agent: ready\nberth agent: powering off\n", EndPowerOff},
		{"[ 1.2] reboot: Power down\n", EndPowerOff},
		{"[ 1.0] Kernel panic - not syncing: sysrq triggered crash\n", EndPanic},
		{"berth agent: powering off\n[ 1.0] Kernel panic - not syncing: x\n", EndPanic},
		{"[ 1.0] reboot: Restarting system\n", EndReboot},
	}
	for _, tc := range cases {
		if got := GuestEndFrom(tc.console); got != tc.want {
			t.Errorf("GuestEndFrom(%q) = %d, want %d", tc.console, got, tc.want)
		}
	}
}

func TestCrashTail(t *testing.T) {
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	plain := b.String()
	if got := CrashTail(plain); !strings.HasPrefix(got, "line 75\n") || !strings.HasSuffix(got, "line 99") {
		t.Errorf("no panic: %q", got)
	}
	// panic=-1 reboots before the kernel's closing line: the tail must
	// start at the panic (with the lines that say why), not at the
	// backtrace's end.
	var p strings.Builder
	p.WriteString("early\nNo working init found.\n[ 1.0] Kernel panic - not syncing: No working init found\n")
	for i := range 40 {
		fmt.Fprintf(&p, "[ 1.%d]  frame%d+0x10/0x20\n", i, i)
	}
	got := CrashTail(p.String())
	if !strings.HasPrefix(got, "early\nNo working init found.\n[ 1.0] Kernel panic") || !strings.Contains(got, "frame39") {
		t.Errorf("panic tail: %q", got)
	}
}
