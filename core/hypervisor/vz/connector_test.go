package vz

import (
	"encoding/json"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/guestabi"
	"github.com/berthvm/berth/core/testenv"
)

// testConn stands for a vsock connection; only Close is ever called on it
// by the code under test, and the tests check that it is.
type testConn struct {
	net.Conn // nil: any other method would panic, which would be a bug
	closed   atomic.Bool
}

func (c *testConn) Close() error { c.closed.Store(true); return nil }

// blockedDial is a Connect that hangs until the test releases it with an
// outcome, like the framework's connectToPort when it never calls back.
type blockedDial struct {
	calls   atomic.Int32
	release chan dialResult
}

func newBlockedDial() *blockedDial { return &blockedDial{release: make(chan dialResult)} }

func (b *blockedDial) dial() (net.Conn, error) {
	b.calls.Add(1)
	r := <-b.release
	return r.c, r.err
}

// settle waits (up to 5 s) for the goroutine count to drop to max and
// returns the last count: goroutines that just returned take a moment to
// be gone from the count.
func settle(max int) int {
	n := runtime.NumGoroutine()
	for end := time.Now().Add(5 * time.Second); n > max && time.Now().Before(end); n = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("after 5s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (k *connector) waiting() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.waiters)
}

// The old host started a Connect per attempt and abandoned it on timeout:
// against a Connect that never returns, that is a goroutine per retry. The
// connector must make one call, however many attempts time out, serial or
// concurrent, and its late connection must be closed when nobody takes it.
func TestConnectorHungConnectStartsOneCall(t *testing.T) {
	k := &connector{keep: 50 * time.Millisecond}
	d := newBlockedDial()
	stop := make(chan struct{})
	before := runtime.NumGoroutine()

	for i := 0; i < 50; i++ {
		if c, err := k.get(time.Now().Add(2*time.Millisecond), d.dial, stop); !errors.Is(err, errConnectPending) || c != nil {
			t.Fatalf("attempt %d: %v, %v; want errConnectPending", i, c, err)
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := k.get(time.Now().Add(20*time.Millisecond), d.dial, stop); !errors.Is(err, errConnectPending) {
				t.Errorf("concurrent attempt: %v, want errConnectPending", err)
			}
		}()
	}
	wg.Wait()
	if n := d.calls.Load(); n != 1 {
		t.Errorf("70 timed-out attempts made %d Connect calls, want 1", n)
	}
	if n := settle(before + 1); n > before+1 {
		t.Errorf("%d goroutines after 70 timed-out attempts, %d before: want at most one more (the stuck Connect)", n, before)
	}

	// The call completes at last, with nobody waiting: kept, then closed.
	late := &testConn{}
	d.release <- dialResult{c: late}
	eventually(t, "the unwanted late connection is closed", late.closed.Load)
	if n := settle(before); n > before {
		t.Errorf("%d goroutines once the Connect returned, %d before", n, before)
	}
}

func TestConnectorLateConnectionGoesToNextCaller(t *testing.T) {
	k := &connector{keep: 300 * time.Millisecond}
	d := newBlockedDial()
	stop := make(chan struct{})
	if _, err := k.get(time.Now().Add(5*time.Millisecond), d.dial, stop); !errors.Is(err, errConnectPending) {
		t.Fatalf("first attempt: %v, want errConnectPending", err)
	}
	late := &testConn{}
	d.release <- dialResult{c: late}
	got, err := k.get(time.Now().Add(5*time.Second), d.dial, stop)
	if err != nil || got != late {
		t.Fatalf("retry got %v, %v; want the late connection", got, err)
	}
	if n := d.calls.Load(); n != 1 {
		t.Errorf("%d Connect calls, want 1: the retry must take the late connection, not dial again", n)
	}
	// Taken, so its expiry must not close it under the new owner.
	time.Sleep(2 * k.keep)
	if late.closed.Load() {
		t.Error("the connection handed to the retry was closed by its expiry")
	}
}

func TestConnectorFailureReachesEveryWaiter(t *testing.T) {
	var k connector
	d := newBlockedDial()
	stop := make(chan struct{})
	refused := errors.New("connection reset by peer")
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			_, err := k.get(time.Now().Add(10*time.Second), d.dial, stop)
			errs <- err
		}()
	}
	eventually(t, "three callers wait", func() bool { return k.waiting() == 3 })
	d.release <- dialResult{err: refused}
	for i := 0; i < 3; i++ {
		if err := <-errs; !errors.Is(err, refused) {
			t.Errorf("waiter %d: %v, want the call's error", i, err)
		}
	}
	if n := d.calls.Load(); n != 1 {
		t.Errorf("%d Connect calls, want 1", n)
	}
	// A failure nobody waits for is not kept: the next caller dials anew.
	go func() { d.release <- dialResult{c: &testConn{}} }()
	if c, err := k.get(time.Now().Add(5*time.Second), d.dial, stop); err != nil || c == nil {
		t.Fatalf("after a failure: %v, %v; want a new connection", c, err)
	}
	if n := d.calls.Load(); n != 2 {
		t.Errorf("%d Connect calls, want 2", n)
	}
}

func TestConnectorServesWaitersOneCallAtATime(t *testing.T) {
	var k connector
	var calls, inFlight, most atomic.Int32
	dial := func() (net.Conn, error) {
		calls.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		return &testConn{}, nil
	}
	stop := make(chan struct{})
	const callers = 8
	got := make(chan net.Conn, callers)
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := k.get(time.Now().Add(10*time.Second), dial, stop)
			if err != nil {
				t.Errorf("caller: %v", err)
				return
			}
			got <- c
		}()
	}
	wg.Wait()
	close(got)
	seen := map[net.Conn]bool{}
	for c := range got {
		if seen[c] {
			t.Error("one connection was handed to two callers")
		}
		seen[c] = true
	}
	if len(seen) != callers || calls.Load() != callers {
		t.Errorf("%d connections from %d calls for %d callers", len(seen), calls.Load(), callers)
	}
	if m := most.Load(); m != 1 {
		t.Errorf("%d Connect calls in flight at once, want 1", m)
	}
}

func TestConnectorStopsWithTheVM(t *testing.T) {
	k := &connector{keep: time.Hour}
	d := newBlockedDial()
	stop := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		_, err := k.get(time.Now().Add(time.Hour), d.dial, stop)
		errc <- err
	}()
	eventually(t, "a caller waits", func() bool { return k.waiting() == 1 })
	close(stop)
	select {
	case err := <-errc:
		if !errors.Is(err, api.ErrUnavailable) {
			t.Errorf("waiter at the VM's end: %v, want ErrUnavailable", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiter outlived the VM")
	}
	// A connection completing after the end is closed at once, not kept
	// (keep is an hour here).
	late := &testConn{}
	d.release <- dialResult{c: late}
	eventually(t, "the connection that completed after the end is closed", late.closed.Load)
	if _, err := k.get(time.Now().Add(time.Hour), d.dial, stop); !errors.Is(err, api.ErrUnavailable) {
		t.Errorf("after the end: %v, want ErrUnavailable", err)
	}
	if n := d.calls.Load(); n != 1 {
		t.Errorf("%d Connect calls, want 1: none after the end", n)
	}
}

// connectVM is a VM whose only behaviour is Connect, scripted by the test.
type connectVM struct {
	calls   atomic.Int32
	connect func(call int) (net.Conn, error)
}

func (v *connectVM) Start() error                 { return nil }
func (v *connectVM) StateChanges() <-chan VMState { return nil }
func (v *connectVM) State() VMState               { return StateRunning }
func (v *connectVM) RequestStop() error           { return nil }
func (v *connectVM) Stop() error                  { return nil }
func (v *connectVM) Connect(port uint32) (net.Conn, error) {
	return v.connect(int(v.calls.Add(1)))
}

// replyConn is the control-socket client of an agent request: it records
// the reply lines the host writes.
type replyConn struct{ testenv.Buffer }

func (c *replyConn) Read([]byte) (int, error)         { return 0, errors.New("not read in this test") }
func (c *replyConn) Close() error                     { return nil }
func (c *replyConn) LocalAddr() net.Addr              { return nil }
func (c *replyConn) RemoteAddr() net.Addr             { return nil }
func (c *replyConn) SetDeadline(time.Time) error      { return nil }
func (c *replyConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replyConn) SetWriteDeadline(time.Time) error { return nil }

func (c *replyConn) reply(t *testing.T) reply {
	t.Helper()
	var r reply
	if err := json.Unmarshal([]byte(c.String()), &r); err != nil {
		t.Fatalf("reply %q: %v", c.String(), err)
	}
	return r
}

func testHost(vm VM) *host {
	return &host{plan: Plan{ID: "vm1", AgentPort: guestabi.VsockPort}, vm: vm, ended: make(chan struct{}), conns: map[net.Conn]bool{}}
}

// An agent request against a VM whose Connect hangs times out with the
// client's deadline, as many times as clients ask, on one Connect call;
// when that call finally succeeds, the next request gets the connection.
func TestHostAgentConnectHungVM(t *testing.T) {
	release := make(chan struct{})
	late := &testConn{}
	vm := &connectVM{connect: func(int) (net.Conn, error) { <-release; return late, nil }}
	h := testHost(vm)
	h.agent.keep = 5 * time.Second
	before := runtime.NumGoroutine()
	for i := 0; i < 30; i++ {
		client := &replyConn{}
		if vc := h.agentConn(client, request{Op: opAgent, TimeoutMS: 10}); vc != nil {
			t.Fatalf("request %d got a connection from a hung VM", i)
		}
		r := client.reply(t)
		if r.OK || r.Kind != "canceled" || !strings.Contains(r.Error, errConnectPending.Error()) {
			t.Fatalf("request %d: reply %+v, want a canceled one naming the pending connect", i, r)
		}
	}
	if n := vm.calls.Load(); n != 1 {
		t.Errorf("30 timed-out agent requests made %d Connect calls, want 1", n)
	}
	if n := settle(before + 1); n > before+1 {
		t.Errorf("%d goroutines after 30 timed-out agent requests, %d before: want at most one more", n, before)
	}
	close(release)
	client := &replyConn{}
	vc := h.agentConn(client, request{Op: opAgent, TimeoutMS: 5000})
	if vc != late || !client.reply(t).OK {
		t.Fatalf("after the Connect returned: %v, reply %q; want the late connection", vc, client.String())
	}
	if late.closed.Load() {
		t.Error("the connection handed to the client was closed")
	}
	if n := vm.calls.Load(); n != 1 {
		t.Errorf("%d Connect calls, want 1", n)
	}
}

// Refusals while the agent is not listening yet are retried; a success
// slower than the old per-attempt limit (2 s) still reaches the client.
func TestHostAgentConnectRefusedThenLate(t *testing.T) {
	late := &testConn{}
	vm := &connectVM{connect: func(call int) (net.Conn, error) {
		if call <= 3 {
			return nil, syscall.ECONNRESET
		}
		time.Sleep(2500 * time.Millisecond)
		return late, nil
	}}
	h := testHost(vm)
	client := &replyConn{}
	vc := h.agentConn(client, request{Op: opAgent, TimeoutMS: 10000})
	if vc != late || !client.reply(t).OK {
		t.Fatalf("got %v, reply %q; want the connection of the fourth call", vc, client.String())
	}
	if n := vm.calls.Load(); n != 4 {
		t.Errorf("%d Connect calls, want 4", n)
	}
}

// A VM that ends while a request waits on a hung Connect answers the
// client at once, and the connection completing afterwards is closed.
func TestHostAgentConnectVMEnds(t *testing.T) {
	release := make(chan struct{})
	late := &testConn{}
	vm := &connectVM{connect: func(int) (net.Conn, error) { <-release; return late, nil }}
	h := testHost(vm)
	done := make(chan net.Conn)
	client := &replyConn{}
	go func() { done <- h.agentConn(client, request{Op: opAgent, TimeoutMS: 60000}) }()
	eventually(t, "the request waits on the Connect", func() bool { return h.agent.waiting() == 1 })
	close(h.ended)
	select {
	case vc := <-done:
		if r := client.reply(t); vc != nil || r.OK || r.Kind != "unavailable" {
			t.Errorf("got %v, reply %+v; want an unavailable reply", vc, r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request outlived the VM")
	}
	close(release)
	eventually(t, "the connection that completed after the end is closed", late.closed.Load)
}
