package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
	"github.com/berthvm/berth/core/testenv"
)

// fakeSystem records what the server asked of the machine instead of
// doing it to the test host.
type fakeSystem struct {
	mu       sync.Mutex
	hostname string
	now      time.Time
	net      *proto.NetworkConfig
	poweroff chan struct{}
}

func (f *fakeSystem) system() System {
	f.poweroff = make(chan struct{}, 1)
	return System{
		SetTime:     func(t time.Time) error { f.mu.Lock(); f.now = t; f.mu.Unlock(); return nil },
		SetHostname: func(h string) error { f.mu.Lock(); f.hostname = h; f.mu.Unlock(); return nil },
		ConfigureNetwork: func(c proto.NetworkConfig) error {
			f.mu.Lock()
			f.net = &c
			f.mu.Unlock()
			return nil
		},
		MountContainer: func(proto.ContainerConfig, string) (string, []string, error) {
			return "", nil, fmt.Errorf("no disks on a test host: %w", api.ErrUnsupported)
		},
		PowerOff: func() error { f.poweroff <- struct{}{}; return nil },
	}
}

// harness serves a Server to the host's own client (core/agent) over
// net.Pipe: the two sides as they meet in a VM. Only the tests import the
// client; the guest's binary never links it.
type harness struct {
	t   *testing.T
	srv *Server
	sys *fakeSystem
}

func newHarness(t *testing.T, opts ServerOptions) *harness {
	sys := &fakeSystem{}
	opts.System = sys.system()
	opts.Version = "test"
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	srv := NewServer(opts)
	h := &harness{t: t, srv: srv, sys: sys}
	t.Cleanup(func() {
		// Leave no process behind.
		for _, p := range srv.list() {
			if p.Running {
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
			}
		}
		srv.Close()
	})
	return h
}

// connect opens a new session, as a host (re)connecting would.
func (h *harness) connect() *agent.Client {
	h.t.Helper()
	a, b := net.Pipe()
	go h.srv.Serve(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := agent.NewClient(ctx, a)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// hostRoot is a container whose root is the host's / : processes run
// without chroot, so these tests need nothing but /bin/sh.
func hostRoot(t *testing.T, c *agent.Client, id string) {
	t.Helper()
	if err := c.CreateContainer(ctx(t), proto.ContainerConfig{ID: id, Rootfs: "/"}); err != nil {
		t.Fatal(err)
	}
}

func sh(script string) proto.ProcessSpec {
	return proto.ProcessSpec{Args: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=" + proto.DefaultPath}}
}

type result struct {
	stdout, stderr string
	exit           proto.ExitStatus
}

func run(t *testing.T, c *agent.Client, container, id string, spec proto.ProcessSpec, stdin string, exec bool) result {
	t.Helper()
	start := c.Start
	if exec {
		start = c.Exec
	}
	p, err := start(ctx(t), container, id, spec, agent.Stdio{Stdin: stdin != "", Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	return collect(t, p, stdin)
}

func collect(t *testing.T, p *agent.Process, stdin string) result {
	t.Helper()
	r, err := hvtest.Collect(ctx(t), p, stdin)
	if err != nil {
		t.Fatal(err)
	}
	return result{r.Stdout, r.Stderr, r.Exit}
}

func TestHandshake(t *testing.T) {
	h := newHarness(t, ServerOptions{Features: []string{"extra"}})
	c := h.connect()
	info := c.Info()
	if info.ProtocolVersion != proto.ProtocolVersion || info.AgentVersion != "test" || info.Kernel == "" || !info.Has(proto.FeatureReattach) || !info.Has("extra") {
		t.Fatalf("info = %+v", info)
	}
	if err := c.SetTime(ctx(t), time.Unix(1700000000, 5)); err != nil {
		t.Fatal(err)
	}
	if !h.sys.now.Equal(time.Unix(1700000000, 5)) {
		t.Fatalf("clock set to %v", h.sys.now)
	}
	nc := proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: "52:54:00:12:34:56", Address: "10.0.2.15/24"}}, Gateway: "10.0.2.2"}
	if err := c.ConfigureNetwork(ctx(t), nc); err != nil || h.sys.net == nil || h.sys.net.Gateway != "10.0.2.2" {
		t.Fatalf("network: %v %+v", err, h.sys.net)
	}
	st, err := c.Stats(ctx(t))
	if err != nil || st.MemoryTotal == 0 || st.Processes == 0 {
		t.Fatalf("stats = %+v, %v", st, err)
	}
}

func TestProcesses(t *testing.T) {
	h := newHarness(t, ServerOptions{})
	c := h.connect()
	hostRoot(t, c, "c1")

	t.Run("echo", func(t *testing.T) {
		r := run(t, c, "c1", "main", sh("echo hello; echo oops >&2"), "", false)
		if r.stdout != "hello\n" || r.stderr != "oops\n" || r.exit != (proto.ExitStatus{}) {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("second start is refused", func(t *testing.T) {
		_, err := c.Start(ctx(t), "c1", "again", sh("true"), agent.Stdio{})
		if !errors.Is(err, api.ErrConflict) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("exec into an exited container is refused", func(t *testing.T) {
		_, err := c.Exec(ctx(t), "c1", "x", sh("true"), agent.Stdio{})
		if !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "not running") {
			t.Fatalf("err = %v", err)
		}
	})

	hostRoot(t, c, "c2")
	long, err := c.Start(ctx(t), "c2", "main", sh("sleep 60"), agent.Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("exit code", func(t *testing.T) {
		r := run(t, c, "c2", "exit3", sh("exit 3"), "", true)
		if r.exit.Code != 3 || r.exit.Signal != 0 {
			t.Fatalf("exit = %+v", r.exit)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		in := strings.Repeat("line of input\n", 50000) // beyond one window
		r := run(t, c, "c2", "cat", proto.ProcessSpec{Args: []string{"cat"}, Env: []string{"PATH=/bin:/usr/bin"}}, in, true)
		if r.stdout != in || r.exit.Code != 0 {
			t.Fatalf("cat returned %d bytes (want %d), exit %+v", len(r.stdout), len(in), r.exit)
		}
	})
	t.Run("env cwd and defaults", func(t *testing.T) {
		dir := t.TempDir()
		spec := proto.ProcessSpec{Args: []string{"sh", "-c", "pwd; echo $FOO $HOME"}, Env: []string{"FOO=bar"}, Cwd: dir}
		r := run(t, c, "c2", "env", spec, "", true)
		if r.stdout != dir+"\nbar /root\n" {
			t.Fatalf("stdout = %q", r.stdout)
		}
	})
	t.Run("nonexistent command", func(t *testing.T) {
		_, err := c.Exec(ctx(t), "c2", "nope", proto.ProcessSpec{Args: []string{"no-such-command"}}, agent.AllStdio)
		if !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), `"no-such-command" not found`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("signal", func(t *testing.T) {
		p, err := c.Exec(ctx(t), "c2", "trap", sh("trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.05; done"), agent.Stdio{Stdout: true})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		if _, err := io.ReadFull(p.Stdout, buf); err != nil || string(buf) != "ready\n" {
			t.Fatalf("read %q, %v", buf, err)
		}
		if err := p.Signal(ctx(t), int(syscall.SIGTERM)); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(p.Stdout)
		st, _ := p.Wait(ctx(t))
		if string(rest) != "got TERM\n" || st.Code != 42 {
			t.Fatalf("after SIGTERM: %q %+v", rest, st)
		}
		p2, _ := c.Exec(ctx(t), "c2", "victim", sh("sleep 60"), agent.Stdio{})
		_ = p2.Signal(ctx(t), int(syscall.SIGKILL))
		if st, _ := p2.Wait(ctx(t)); st.Signal != int(syscall.SIGKILL) || st.Code != 137 {
			t.Fatalf("SIGKILL: %+v", st)
		}
	})
	t.Run("terminal and resize", func(t *testing.T) {
		spec := sh("stty size; read x; stty size; [ -t 0 ] && echo tty")
		spec.Terminal, spec.Size = true, &proto.WinSize{Rows: 24, Cols: 80}
		p, err := c.Exec(ctx(t), "c2", "tty", spec, agent.AllStdio)
		if err != nil {
			t.Fatal(err)
		}
		if p.Stderr != nil {
			t.Fatal("a terminal process has a separate stderr")
		}
		var out testenv.Buffer
		done := make(chan struct{})
		go func() { io.Copy(&out, p.Stdout); close(done) }()
		waitFor(t, func() bool { return strings.Contains(out.String(), "24 80") }, &out)
		if err := p.Resize(ctx(t), proto.WinSize{Rows: 30, Cols: 100}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(p.Stdin, "\n")
		st, _ := p.Wait(ctx(t))
		<-done
		if !strings.Contains(out.String(), "30 100") || !strings.Contains(out.String(), "tty") || st.Code != 0 {
			t.Fatalf("terminal output %q, %+v", out.String(), st)
		}
	})
	t.Run("a slow reader blocks only its stream", func(t *testing.T) {
		// 1 MiB on stdout that nobody reads yet, then a line on stderr.
		p, err := c.Exec(ctx(t), "c2", "flood", sh("head -c 1048576 /dev/zero; echo done >&2"), agent.Stdio{Stdout: true, Stderr: true})
		if err != nil {
			t.Fatal(err)
		}
		line := make([]byte, 5)
		if _, err := io.ReadFull(p.Stderr, line); err != nil || string(line) != "done\n" {
			t.Fatalf("stderr %q, %v", line, err)
		}
		if _, err := c.List(ctx(t)); err != nil {
			t.Fatalf("control call while stdout is stalled: %v", err)
		}
		n, _ := io.Copy(io.Discard, p.Stdout)
		if n != 1<<20 {
			t.Fatalf("stdout delivered %d bytes", n)
		}
	})
	t.Run("main exit kills execs", func(t *testing.T) {
		ex, err := c.Exec(ctx(t), "c2", "orphan", sh("sleep 60"), agent.Stdio{})
		if err != nil {
			t.Fatal(err)
		}
		_ = long.Signal(ctx(t), int(syscall.SIGTERM))
		if st, _ := long.Wait(ctx(t)); st.Signal != int(syscall.SIGTERM) {
			t.Fatalf("main: %+v", st)
		}
		if st, _ := ex.Wait(ctx(t)); st.Signal != int(syscall.SIGKILL) {
			t.Fatalf("exec after main exit: %+v", st)
		}
	})
}

func waitFor(t *testing.T, cond func() bool, what fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out; have %q", what.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The host goes away mid-run (the daemon was killed) and comes back: the
// process kept running, its output was kept, its exit status is there.
func TestReattachAfterDisconnect(t *testing.T) {
	h := newHarness(t, ServerOptions{})
	c := h.connect()
	hostRoot(t, c, "c")
	marker := filepath.Join(t.TempDir(), "go")
	script := fmt.Sprintf("echo first; while [ ! -e %s ]; do sleep 0.02; done; echo second; echo err >&2; exit 5", marker)
	p, err := c.Start(ctx(t), "c", "main", sh(script), agent.Stdio{Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 6)
	if _, err := io.ReadFull(p.Stdout, first); err != nil || string(first) != "first\n" {
		t.Fatalf("read %q, %v", first, err)
	}
	c.Close()
	if _, err := io.ReadAll(p.Stdout); err == nil {
		t.Fatal("stream of a closed session ended cleanly")
	}
	// Let the process finish while no host is connected.
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return !h.srv.list()[0].Running }, stringer("process still running"))

	c2 := h.connect()
	ps, err := c2.List(ctx(t))
	if err != nil || len(ps) != 1 || ps[0].Running || ps[0].Exit == nil || ps[0].Exit.Code != 5 {
		t.Fatalf("list after reconnect: %+v, %v", ps, err)
	}
	p2, err := c2.Attach(ctx(t), "c", "main", agent.Stdio{Stdout: true, Stderr: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Exited || p2.StdoutOffset != 6 || p2.StderrOffset != 0 {
		t.Fatalf("attach: %+v", p2)
	}
	r := collect(t, p2, "")
	if r.stdout != "second\n" || r.stderr != "err\n" || r.exit.Code != 5 {
		t.Fatalf("after reattach: %+v", r)
	}
	if _, err := c2.Attach(ctx(t), "c", "nope", agent.Stdio{}, false); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("attach to unknown process: %v", err)
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

// A chroot into a small root with its own /etc/passwd: user names resolve
// against the container's files, not the host's.
func TestChrootAndUser(t *testing.T) {
	testenv.Root(t)
	bb := "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		testenv.Missing(t, "/bin/busybox missing: apt-get install busybox-static")
	}
	root := t.TempDir()
	for _, d := range []string{"bin", "etc"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755)
	for _, l := range []string{"sh", "id", "cat", "pwd"} {
		os.Symlink("busybox", filepath.Join(root, "bin", l))
	}
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\napp:x:1234:1234::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\napp:x:1234:\nstaff:x:50:app\n"), 0o644)

	h := newHarness(t, ServerOptions{})
	c := h.connect()
	cfg := proto.ContainerConfig{ID: "box", Rootfs: root, Hostname: "boxy",
		Hosts: []proto.HostEntry{{IP: "10.0.0.9", Names: []string{"db"}}},
		DNS:   &proto.DNS{Servers: []string{"10.0.2.3"}, Search: []string{"example"}}}
	if err := c.CreateContainer(ctx(t), cfg); err != nil {
		t.Fatal(err)
	}
	if h.sys.hostname != "boxy" {
		t.Fatalf("hostname %q", h.sys.hostname)
	}
	spec := proto.ProcessSpec{Args: []string{"sh", "-c", "id; pwd; cat /etc/hosts /etc/resolv.conf"}, User: "app", Cwd: "/work"}
	r := run(t, c, "box", "main", spec, "", false)
	want := "uid=1234(app) gid=1234(app) groups=50(staff),1234(app)\n/work\n"
	if !strings.HasPrefix(r.stdout, want) || !strings.Contains(r.stdout, "10.0.0.9\tdb") ||
		!strings.Contains(r.stdout, "127.0.1.1\tboxy") || !strings.Contains(r.stdout, "nameserver 10.0.2.3\nsearch example\n") {
		t.Fatalf("stdout %q", r.stdout)
	}
	if err := c.CreateContainer(ctx(t), cfg); !errors.Is(err, api.ErrAlreadyExists) {
		t.Fatalf("second create: %v", err)
	}
}

func TestShutdown(t *testing.T) {
	h := newHarness(t, ServerOptions{StopTimeout: 200 * time.Millisecond})
	c := h.connect()
	hostRoot(t, c, "c")
	// One process ends on SIGTERM, one ignores it and must be killed.
	p1, _ := c.Start(ctx(t), "c", "main", sh("sleep 60"), agent.Stdio{})
	p2, _ := c.Exec(ctx(t), "c", "stubborn", sh("trap '' TERM; while :; do sleep 0.05; done"), agent.Stdio{})
	if err := c.Shutdown(ctx(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.sys.poweroff:
	case <-time.After(10 * time.Second):
		t.Fatal("no power off")
	}
	for _, p := range []*agent.Process{p1, p2} {
		if _, err := syscall.Getpgid(p.PID); err == nil {
			t.Fatalf("process %d still alive after shutdown", p.PID)
		}
	}
	if _, err := c.Exec(ctx(t), "c", "late", sh("true"), agent.Stdio{}); !errors.Is(err, api.ErrConflict) {
		t.Fatalf("exec after shutdown: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	h := newHarness(t, ServerOptions{})
	c := h.connect()
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"bad container id", c.CreateContainer(ctx(t), proto.ContainerConfig{ID: "../x", Rootfs: "/"}), api.ErrInvalidArgument},
		{"no root", c.CreateContainer(ctx(t), proto.ContainerConfig{ID: "x"}), api.ErrInvalidArgument},
		{"missing rootfs dir", c.CreateContainer(ctx(t), proto.ContainerConfig{ID: "y", Rootfs: "/nonexistent"}), api.ErrNotFound},
		{"start in unknown container", startErr(c, t, "nope"), api.ErrNotFound},
		{"wait for unknown process", waitErr(c, t), api.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Fatalf("err = %v, want %v", tc.err, tc.want)
			}
		})
	}
}

func startErr(c *agent.Client, t *testing.T, container string) error {
	_, err := c.Start(ctx(t), container, "m", sh("true"), agent.Stdio{})
	return err
}

func waitErr(c *agent.Client, t *testing.T) error {
	_, err := c.Wait(ctx(t), "c", "nope")
	return err
}

type rwc struct {
	io.Reader
	io.Writer
}

func (rwc) Close() error { return nil }

// A second host that connects before the guest saw the first one leave
// starts a new session on the same stream with its sync marker.
func TestServeResyncOnNewSession(t *testing.T) {
	h := newHarness(t, ServerOptions{})
	pr, pw := io.Pipe()
	hello := func(n proto.Nonce, id uint64) { pw.Write(helloSession(n, id)) }
	var out testenv.Buffer
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(rwc{pr, &out}) }()
	hello(proto.Nonce{1}, 1)
	waitFor(t, func() bool { return strings.Contains(out.String(), `"id":1`) }, &out)
	hello(proto.Nonce{2}, 7)
	waitFor(t, func() bool { return strings.Contains(out.String(), `"id":7`) }, &out)
	pw.Close()
	if err := <-served; !errors.Is(err, api.ErrUnavailable) {
		t.Fatalf("Serve ended with %v, want EOF as unavailable", err)
	}
	got := out.String()
	marker := func(n proto.Nonce) string {
		var b bytes.Buffer
		proto.WriteSync(&b, n)
		return b.String()
	}
	n1 := strings.Index(got, marker(proto.Nonce{1}))
	n2 := strings.Index(got, marker(proto.Nonce{2}))
	if n1 < 0 || n2 < n1 || !strings.Contains(got[n1:n2], `"id":1`) || !strings.Contains(got[n2:], `"id":7`) {
		t.Fatalf("output %q", got)
	}
}

// helloSession is what a host sends to start a session: its sync marker,
// then a hello control frame written by hand, as the wire has it:
// [type 1][stream 0][length], then the payload.
func helloSession(n proto.Nonce, id uint64) []byte {
	var b bytes.Buffer
	proto.WriteSync(&b, n)
	payload := fmt.Sprintf(`{"id":%d,"op":"hello","body":{"protocol_version":%d}}`, id, proto.ProtocolVersion)
	var hdr [9]byte
	hdr[0] = 1
	hdr[8] = byte(len(payload))
	b.Write(hdr[:])
	b.WriteString(payload)
	return b.Bytes()
}

// portReads is a virtio-serial port as the guest reads it: each Read
// takes the next chunk, nil meaning no host is connected (the port's
// EOF), until the channel is closed.
type portReads chan []byte

func (p portReads) Read(b []byte) (int, error) {
	chunk, ok := <-p
	switch {
	case !ok:
		return 0, io.EOF
	case chunk == nil:
		return 0, errHostGone
	}
	return copy(b, chunk), nil
}

// The host leaves and the next one (a restarted daemon) connects before
// the guest reads again: the read that found no host ends the session,
// and the next one starts at the new host's sync marker. Reading on from
// the failed read took the marker for a frame header (a frame of
// 1414016339 bytes, "TH-S"), and the agent powered the VM off.
func TestServeNextHostRightAfterHostLeft(t *testing.T) {
	h := newHarness(t, ServerOptions{})
	port := make(portReads)
	var out testenv.Buffer
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(rwc{port, &out}) }()
	port <- helloSession(proto.Nonce{1}, 1)
	waitFor(t, func() bool { return strings.Contains(out.String(), `"id":1`) }, &out)
	port <- nil
	port <- helloSession(proto.Nonce{2}, 7)
	waitFor(t, func() bool {
		select {
		case err := <-served:
			t.Fatalf("Serve ended with %v; want the next host served", err)
		default:
		}
		return strings.Contains(out.String(), `"id":7`)
	}, &out)
	close(port)
	if err := <-served; !errors.Is(err, api.ErrUnavailable) || errors.Is(err, api.ErrCorrupt) {
		t.Fatalf("Serve ended with %v, want EOF as unavailable", err)
	}
}

func TestFinishedExecsAreBounded(t *testing.T) {
	h := newHarness(t, ServerOptions{})
	c := h.connect()
	hostRoot(t, c, "c")
	if _, err := c.Start(ctx(t), "c", "main", sh("sleep 60"), agent.Stdio{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < keepFinished+3; i++ {
		p, err := c.Exec(ctx(t), "c", fmt.Sprint("e", i), sh("true"), agent.Stdio{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Wait(ctx(t), "c", "e0"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("oldest finished exec still kept: %v", err)
	}
	if st, err := c.Wait(ctx(t), "c", fmt.Sprint("e", keepFinished+2)); err != nil || st.Code != 0 {
		t.Fatalf("newest finished exec: %+v, %v", st, err)
	}
	if ps, _ := c.List(ctx(t)); len(ps) != keepFinished+1 {
		t.Fatalf("%d processes kept, want %d finished execs + main", len(ps), keepFinished)
	}
}
