package nethost

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor/hostproc"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
)

// coreEnv makes the test binary play a core that starts one network and
// hangs (tests kill it to show the network outlives its core).
const coreEnv = "BERTH_NETHOST_TEST_CORE"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == HostArg {
		os.Exit(Main(os.Args[2:]))
	}
	if spec := os.Getenv(coreEnv); spec != "" {
		startAndHang(spec)
		return
	}
	dir, err := os.MkdirTemp("", "berth-nethost-test-")
	if err != nil {
		panic(err)
	}
	hvtest.SetWorkDir(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// coreSpec is what a core child starts.
type coreSpec struct {
	RunDir, Log string
	Plan        Plan
	State       *State // synced before the handle is printed
}

// startAndHang plays the core: it starts the network, prints its handle
// and waits to be killed.
func startAndHang(spec string) {
	var s coreSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	p, err := Start(ctx, s.RunDir, s.Plan, os.Args[0], s.Log)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	if s.State != nil {
		if _, _, err := p.Sync(ctx, *s.State); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
	}
	b, _ := json.Marshal(p.Handle())
	fmt.Println(string(b))
	select {}
}

// shortDir is a fresh directory with a short path: socket paths must
// stay under 104 bytes, which t.TempDir's long names can break.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "bnh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// checkLog fails the test if a network process's log shows a data race
// or a panic (the process is this test binary, built with the test's
// flags).
func checkLog(t *testing.T, log string) {
	b, _ := os.ReadFile(log)
	for _, line := range strings.Split(string(b), "\n") {
		// gvisor-tap-vsock's forwarder says "error" when a connection it
		// was opening is abandoned (a guest gone, a crafted SYN): not ours.
		if strings.Contains(line, "DATA RACE") || strings.Contains(line, "panic:") ||
			strings.Contains(line, "level=ERROR") && !strings.Contains(line, "r.CreateEndpoint()") {
			t.Errorf("network log %s has %q:\n%s", log, line, b)
			return
		}
	}
}

// startNet starts plan's network as its own process (this test binary)
// and stops it at cleanup, checking its log.
func startNet(t *testing.T, dir string, plan Plan) *Process {
	t.Helper()
	log := filepath.Join(dir, plan.ID+".log")
	p, err := Start(testCtx(t, 30*time.Second), filepath.Join(dir, plan.ID), plan, os.Args[0], log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(context.Background()); err != nil {
			t.Errorf("stop network %s: %v", plan.Name, err)
		}
		checkLog(t, log)
	})
	return p
}

// running reports whether the process of h still runs.
func running(h Handle) bool {
	st, err := hostproc.StartTime(h.PID)
	return err == nil && st == h.StartTime
}

func waitGone(t *testing.T, h Handle) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for running(h) {
		if time.Now().After(deadline) {
			t.Fatalf("network process %d still running", h.PID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLifecycle(t *testing.T) {
	dir := shortDir(t)
	plan := Plan{ID: "life", Name: "life", Subnet: "10.89.9.0/24", Gateway: "10.89.9.1"}
	var recorded Handle
	runDir := filepath.Join(dir, "life")
	p, err := Start(testCtx(t, 30*time.Second), runDir, plan, os.Args[0], "",
		WithStarted(func(h Handle) error { recorded = h; return nil }))
	if err != nil {
		t.Fatal(err)
	}
	h := p.Handle()
	if recorded != h || h.PID == 0 || h.StartTime == 0 || h.ControlSocket != filepath.Join(runDir, "control.sock") {
		t.Fatalf("handle %+v, recorded %+v", h, recorded)
	}
	if loaded, err := LoadHandle(runDir); err != nil || loaded != h {
		t.Fatalf("LoadHandle = %+v, %v", loaded, err)
	}
	if g := p.Greeting(); g.ID != "life" || g.PID != h.PID || g.Protocol != ProtocolVersion {
		t.Fatalf("hello %+v", g)
	}
	ctx := testCtx(t, 30*time.Second)

	// One process per run directory.
	if _, err := Start(ctx, runDir, plan, os.Args[0], ""); !errors.Is(err, api.ErrAlreadyExists) {
		t.Fatalf("a second Start on the run directory: %v", err)
	}
	// A bad plan never starts anything.
	if _, err := Start(ctx, filepath.Join(dir, "bad"), Plan{ID: "x", Name: "x", Subnet: "127.0.0.0/8"}, os.Args[0], ""); !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("Start with a bad plan: %v", err)
	}
	// The process refuses what a core should never send.
	if err := p.Attach(ctx, Attachment{VM: "v", MAC: "52:54:00:00:00:09", IP: "10.89.8.2", Socket: dir + "/a", Peer: dir + "/b"}); !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("attach outside the subnet: %v", err)
	}
	if _, err := p.call(ctx, request{Op: "dance"}); !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), "dance") {
		t.Fatalf("unknown operation: %v", err)
	}

	// Attach binds the socket now, before any VM; detach removes it.
	a := Attachment{VM: "v1", MAC: "52:54:00:00:00:01", IP: "10.89.9.2", Socket: filepath.Join(dir, "v1.sock"), Peer: filepath.Join(dir, "v1.peer")}
	for range 2 { // idempotent
		if err := p.Attach(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(a.Socket); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("attach socket: %v %v", fi, err)
	}
	clash := a
	clash.VM, clash.MAC, clash.Socket, clash.Peer = "v2", "52:54:00:00:00:02", filepath.Join(dir, "v2.sock"), filepath.Join(dir, "v2.peer")
	if err := p.Attach(ctx, clash); !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), `VM "v1"`) {
		t.Fatalf("attach with v1's address: %v", err)
	}
	// A changed attachment that would clash leaves the old one in place.
	clash.IP = "10.89.9.3"
	if err := p.Attach(ctx, clash); err != nil {
		t.Fatal(err)
	}
	moved := a
	moved.IP = clash.IP
	if err := p.Attach(ctx, moved); !errors.Is(err, api.ErrConflict) {
		t.Fatalf("moving v1 onto v2's address: %v", err)
	}
	if st, err := p.Status(ctx); err != nil || len(st.Attachments) != 2 || st.Attachments[0].Attachment != a {
		t.Fatalf("after a refused change: %+v, %v", st.Attachments, err)
	}
	if err := p.Detach(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.Detach(ctx, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(a.Socket); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket after detach: %v", err)
	}
	if err := p.Attach(ctx, a); err != nil {
		t.Fatal(err)
	}

	// A handle whose process is gone (a start time that does not
	// match): not found, and its run directory is cleaned up.
	stale := h
	stale.StartTime++
	stale.RunDir = filepath.Join(dir, "stale")
	os.MkdirAll(stale.RunDir, 0o700)
	if _, err := Adopt(ctx, stale); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("adopting a stale handle: %v", err)
	}
	if _, err := os.Stat(stale.RunDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale run directory: %v", err)
	}
	p2, err := Adopt(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	st, err := p2.Status(ctx)
	if err != nil || len(st.Attachments) != 1 || st.Attachments[0].VM != "v1" || st.Subnet != "10.89.9.0/24" || st.HostAccess {
		t.Fatalf("status through the adopted process: %+v, %v", st, err)
	}

	// Stop: the process exits and leaves nothing behind.
	if err := p2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitGone(t, h)
	for _, f := range []string{runDir, a.Socket} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after stop: %v", f, err)
		}
	}
	if e := p.Exit(); !e.Clean() {
		t.Errorf("the process this test started ended with %v", e)
	}
	if _, err := p.Hello(ctx); !errors.Is(err, api.ErrUnavailable) {
		t.Errorf("hello after stop: %v", err)
	}
	if err := p.Stop(ctx); err != nil {
		t.Errorf("stopping a stopped network: %v", err)
	}
	if _, err := Adopt(ctx, h); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("adopting a stopped network: %v", err)
	}
}

func TestSignalStops(t *testing.T) {
	dir := shortDir(t)
	p, err := Start(testCtx(t, 30*time.Second), filepath.Join(dir, "sig"),
		Plan{ID: "sig", Name: "sig", Subnet: "10.89.9.0/24", Gateway: "10.89.9.1"}, os.Args[0], "")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(p.Handle().PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not stop the network")
	}
	if e := p.Exit(); !e.Clean() {
		t.Errorf("exit after SIGTERM: %v", e)
	}
	if _, err := os.Stat(p.Handle().RunDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run directory after SIGTERM: %v", err)
	}
}

func TestPublishConflicts(t *testing.T) {
	dir := shortDir(t)
	p := startNet(t, dir, Plan{ID: "pub", Name: "pub", Subnet: "10.89.9.0/24", Gateway: "10.89.9.1"})
	ctx := testCtx(t, 30*time.Second)

	f, err := p.Expose(ctx, Forward{Proto: "tcp", HostIP: "127.0.0.1", GuestIP: "10.89.9.2", GuestPort: 80})
	if err != nil {
		t.Fatal(err)
	}
	if f.HostPort == 0 {
		t.Fatal("no port chosen")
	}
	if again, err := p.Expose(ctx, f); err != nil || again != f {
		t.Fatalf("the same port again: %+v, %v", again, err)
	}
	other := f
	other.GuestPort = 81
	if _, err := p.Expose(ctx, other); !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "already published to 10.89.9.2:80") {
		t.Fatalf("the port to another target: %v", err)
	}
	wide := f
	wide.HostIP = ""
	if _, err := p.Expose(ctx, wide); !errors.Is(err, api.ErrConflict) {
		t.Fatalf("every address on a port published on one: %v", err)
	}

	// A port another process holds: the error names it.
	for _, proto := range []string{"tcp", "udp"} {
		var port int
		var closer func()
		if proto == "tcp" {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port, closer = ln.Addr().(*net.TCPAddr).Port, func() { ln.Close() }
		} else {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port, closer = pc.LocalAddr().(*net.UDPAddr).Port, func() { pc.Close() }
		}
		want := fmt.Sprintf("in use by pid %d (%s)", os.Getpid(), comm(t))
		_, err := p.Expose(ctx, Forward{Proto: proto, HostIP: "127.0.0.1", HostPort: uint16(port), GuestIP: "10.89.9.2", GuestPort: 80})
		if !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), strconv.Itoa(port)) {
			t.Fatalf("%s port held by this test: %v; want %q", proto, err, want)
		}
		closer()
	}

	// Unexpose frees the port (twice is fine).
	for range 2 {
		if err := p.Unexpose(ctx, f.Key()); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(f.HostPort))))
	if err != nil {
		t.Fatalf("port still held after unexpose: %v", err)
	}
	ln.Close()
	if st, err := p.Status(ctx); err != nil || len(st.Forwards) != 0 {
		t.Fatalf("status after unexpose: %+v, %v", st.Forwards, err)
	}
}

// comm is this process's name as /proc shows it.
func comm(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skip("no /proc: the holder of a port is not named here")
	}
	return strings.TrimSpace(string(b))
}

// TestOutlivesItsCore starts a network from a child process playing the
// core, kills that child, and adopts the network.
func TestOutlivesItsCore(t *testing.T) {
	dir := shortDir(t)
	spec, _ := json.Marshal(coreSpec{RunDir: filepath.Join(dir, "orph"), Log: filepath.Join(dir, "orph.log"),
		Plan: Plan{ID: "orph", Name: "orph", Subnet: "10.89.9.0/24", Gateway: "10.89.9.1"}})
	h, core := startCore(t, string(spec))
	killCore(t, core)
	if !running(h) {
		t.Fatal("the network died with its core")
	}
	ctx := testCtx(t, 30*time.Second)
	p, err := Adopt(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitGone(t, h)
	checkLog(t, filepath.Join(dir, "orph.log"))
}

// startCore runs a core child that starts a network and returns the
// network's handle, read from the child, and the child.
func startCore(t *testing.T, spec string) (Handle, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), coreEnv+"="+spec)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killCore(t, cmd) })
	var h Handle
	line, err := bufio.NewReader(out).ReadString('\n')
	if err == nil {
		err = json.Unmarshal([]byte(line), &h)
	}
	if err != nil {
		t.Fatalf("core child: %q: %v", line, err)
	}
	t.Cleanup(func() {
		if running(h) {
			syscall.Kill(h.PID, syscall.SIGKILL)
		}
	})
	return h, cmd
}

// killCore SIGKILLs a core child, as a crash would end a core.
func killCore(t *testing.T, cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Error(err)
	}
	cmd.Wait()
}
