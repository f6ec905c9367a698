package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
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

func TestCheckShares(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	comma := filepath.Join(dir, "a,b")
	if err := os.Mkdir(comma, 0o700); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		shares []Share
		says   string // "" for valid
	}{
		{"none", nil, ""},
		{"one", []Share{{Tag: "src", Path: dir}}, ""},
		{"two, one read-only", []Share{{Tag: "a", Path: dir}, {Tag: "b.B_9-x", Path: dir, ReadOnly: true}}, ""},
		{"36-byte tag", []Share{{Tag: strings.Repeat("t", 36), Path: dir}}, ""},
		{"37-byte tag", []Share{{Tag: strings.Repeat("t", 37), Path: dir}}, "must be 1-36 bytes"},
		{"empty tag", []Share{{Tag: "", Path: dir}}, "must be 1-36 bytes"},
		{"tag with a slash", []Share{{Tag: "a/b", Path: dir}}, "must be 1-36 bytes"},
		{"tag with a space", []Share{{Tag: "a b", Path: dir}}, "must be 1-36 bytes"},
		{"duplicate tag", []Share{{Tag: "a", Path: dir}, {Tag: "a", Path: dir}}, `two shares with tag "a"`},
		{"relative path", []Share{{Tag: "a", Path: "rel/dir"}}, "is not absolute"},
		{"empty path", []Share{{Tag: "a"}}, "is not absolute"},
		{"missing folder", []Share{{Tag: "a", Path: filepath.Join(dir, "none")}}, "no such file or directory"},
		{"a file", []Share{{Tag: "a", Path: file}}, "is not a folder"},
		{"comma", []Share{{Tag: "a", Path: comma}}, ""},
		{"newline", []Share{{Tag: "a", Path: dir + "/x\ny"}}, "contains a newline"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := VMConfig{ID: "vm", Arch: AMD64, CPUs: 1, MemoryMiB: 256, Kernel: "/k", RunDir: "/run/vm", Shares: tc.shares}
			err := cfg.Check()
			switch {
			case tc.says == "" && err != nil:
				t.Fatalf("Check = %v, want valid", err)
			case tc.says != "" && (!errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.says)):
				t.Fatalf("Check = %v, want ErrInvalidArgument saying %q", err, tc.says)
			}
		})
	}
}
