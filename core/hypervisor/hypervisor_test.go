package hypervisor

import (
	"context"
	"errors"
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
