package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/paths"
	"github.com/berthvm/berth/core/testenv"
)

// shortHome makes a data dir whose socket path fits sockaddr_un.
func shortHome(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "home")
}

func quietConfig(home string) Config {
	return Config{Home: home, Version: api.Version{Version: "test", APIVersion: api.APIVersion},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// runDaemon starts Run in the background and waits until it answers.
func runDaemon(t *testing.T, home string) (*client.Client, <-chan error, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, quietConfig(home)) }()
	c := client.New(paths.Socket(home))
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Ping(ctx)
		if err == nil {
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("daemon exited early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("daemon did not answer: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() { cancel(); c.Close() })
	return c, done, cancel
}

func TestServeAndStop(t *testing.T) {
	home := shortHome(t)
	c, done, _ := runDaemon(t, home)
	ctx := context.Background()

	st, err := os.Stat(paths.Socket(home))
	if err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket mode: %v %v", st.Mode(), err)
	}
	if st, err := os.Stat(paths.DockerSocket(home)); err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("docker socket mode: %v %v", st.Mode(), err)
	}
	if status, body := dockerGet(t, home, "/v1.47/_ping"); status != 200 || body != "OK" {
		t.Fatalf("docker /_ping: %d %q", status, body)
	}
	if hs, _ := os.Stat(home); hs.Mode().Perm() != 0o700 {
		t.Fatalf("home mode %v, want 0700", hs.Mode().Perm())
	}
	v, err := c.Version(ctx)
	if err != nil || v.Version != "test" {
		t.Fatalf("version = %+v, %v", v, err)
	}
	info, err := c.SystemInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Daemon.PID != os.Getpid() || info.Daemon.Home != home || len(info.Daemon.ID) != 32 ||
		info.Host.OS == "" || info.Host.Hypervisor == "" || info.SchemaVersion < 1 || info.Defaults.CPUs < 1 {
		t.Fatalf("system info = %+v", info)
	}

	if err := c.StopDaemon(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop")
	}
	for _, p := range []string{paths.Socket(home), paths.DockerSocket(home), paths.PIDFile(home)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind after stop: %v", p, err)
		}
	}
	if err := c.Ping(ctx); !client.IsDaemonDown(err) || !errors.Is(err, api.ErrUnavailable) {
		t.Fatalf("ping after stop: %v", err)
	}

	// The identity survives a restart.
	c2, _, _ := runDaemon(t, home)
	info2, err := c2.SystemInfo(ctx)
	if err != nil || info2.Daemon.ID != info.Daemon.ID {
		t.Fatalf("id after restart %q (%v), want %q", info2.Daemon.ID, err, info.Daemon.ID)
	}
}

func TestSecondDaemonFailsFast(t *testing.T) {
	home := shortHome(t)
	runDaemon(t, home)
	start := time.Now()
	err := Run(context.Background(), quietConfig(home))
	if !errors.Is(err, ErrDataDirBusy) {
		t.Fatalf("second daemon: %v, want ErrDataDirBusy", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("second daemon took %v to fail", took)
	}
	want := []string{home, "pid " + strconv.Itoa(os.Getpid()), "berth system stop", "BERTH_HOME"}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message %q lacks %q", err, w)
		}
	}
	// The loser must not have touched the winner's socket.
	if _, err := os.Stat(paths.Socket(home)); err != nil {
		t.Fatalf("winner's socket gone: %v", err)
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	home := shortHome(t)
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	// A killed daemon leaves its socket file: listen, then close without unlinking.
	ln, err := net.Listen("unix", paths.Socket(home))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(paths.Socket(home)); err != nil {
		t.Fatalf("stale socket not planted: %v", err)
	}
	if err := client.New(paths.Socket(home)).Ping(context.Background()); !client.IsDaemonDown(err) {
		t.Fatalf("ping on stale socket: %v, want daemon down", err)
	}
	c, _, _ := runDaemon(t, home)
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestBadHome(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	long := filepath.Join(dir, strings.Repeat("d", 120))
	cases := []struct {
		name, home string
		want       []string
	}{
		{"under a file", filepath.Join(file, "home"), []string{"cannot be created", "not a directory", "BERTH_HOME"}},
		{"relative", "rel/home", []string{"absolute path"}},
		{"socket path too long", long, []string{"over the", "shorter path"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Run(context.Background(), quietConfig(tc.home))
			if !errors.Is(err, api.ErrInvalidArgument) {
				t.Fatalf("Run: %v, want ErrInvalidArgument", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err, w)
				}
			}
		})
	}
	// A failed start leaves no socket, pid file or lock behind.
	if _, err := os.Stat(paths.Socket(long)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
	if _, err := os.Stat(paths.PIDFile(long)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left behind: %v", err)
	}
}

func TestEventsStream(t *testing.T) {
	home := shortHome(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, ln, err := start(ctx, quietConfig(home))
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	go d.serve(ctx, ln)
	c := client.New(paths.Socket(home))
	defer c.Close()

	got := make(chan api.Event, 10)
	errc := make(chan error, 1)
	go func() {
		errc <- c.Events(ctx, client.EventOptions{Since: time.Unix(1, 0),
			Filters: map[string][]string{"type": {"daemon", "container"}}}, func(e api.Event) bool {
			got <- e
			return e.Action != "die"
		})
	}()
	next := func() api.Event {
		select {
		case e := <-got:
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
		return api.Event{}
	}
	if e := next(); e.Type != api.EventDaemon || e.Action != "start" {
		t.Fatalf("replayed %+v, want the daemon start", e)
	}
	d.bus.Publish(api.Event{Type: api.EventImage, Action: "pull"}) // filtered out
	d.bus.Publish(api.Event{Type: api.EventContainer, Action: "die", ID: "abc"})
	if e := next(); e.Action != "die" || e.ID != "abc" {
		t.Fatalf("live event %+v", e)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Events returned %v", err)
	}
	err = c.Events(ctx, client.EventOptions{Filters: map[string][]string{"colour": {"red"}}},
		func(api.Event) bool { return false })
	if !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("bad filter: %v", err)
	}
}

// A build that cannot run VMs on this host (an amd64 berth under Rosetta)
// starts, shows why in system info, and refuses every container request
// with that reason; it serves volumes.
func TestUnsupportedHost(t *testing.T) {
	const reason = "this berth is the amd64 (Intel) build, running under Rosetta on an Apple silicon Mac, where it cannot run VMs: install the arm64 (Apple silicon) build of Berth"
	old := probeHost
	probeHost = func(ctx context.Context) api.Capabilities {
		c := old(ctx)
		c.Unsupported = reason
		return c
	}
	t.Cleanup(func() { probeHost = old })
	home := shortHome(t)
	c, _, _ := runDaemon(t, home)
	ctx := context.Background()
	info, err := c.SystemInfo(ctx)
	if err != nil || info.Host.Unsupported != reason {
		t.Fatalf("system info: %+v, %v", info.Host, err)
	}
	_, err = c.Containers(ctx, true)
	if !errors.Is(err, api.ErrUnsupported) || !strings.Contains(err.Error(), "arm64 (Apple silicon) build") {
		t.Fatalf("containers: %v, want the reason as ErrUnsupported", err)
	}
	if status, body := dockerGet(t, home, "/containers/json"); status != 501 || !strings.Contains(body, "arm64 (Apple silicon) build") {
		t.Fatalf("docker containers: %d %s, want the reason as 501", status, body)
	}
	// Volumes are disk images, no VMs: they are served all the same.
	if list, err := c.Volumes(ctx, nil); err != nil || len(list) != 0 {
		t.Fatalf("volumes: %+v, %v", list, err)
	}
}

// dockerGet asks the daemon's docker.sock for path.
func dockerGet(t *testing.T, home, path string) (int, string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", paths.DockerSocket(home))
	}}}
	resp, err := hc.Get("http://docker" + path)
	if err != nil {
		t.Fatalf("docker.sock %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// An open data dir (made by hand, or by an older Berth with the user's
// umask) is made private at start, with a log line saying so: other users
// must not read the images' disks.
func TestDataDirMadePrivate(t *testing.T) {
	home := shortHome(t)
	for _, d := range []string{home, filepath.Join(home, "content"), filepath.Join(home, "rootfs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o755)
	}
	var logged testenv.Buffer
	cfg := quietConfig(home)
	cfg.Logger = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
	d, ln, err := start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	d.close()
	for _, d := range []string{home, filepath.Join(home, "content"), filepath.Join(home, "rootfs"),
		filepath.Join(home, "content", "blobs"), filepath.Join(home, "rootfs", "templates")} {
		fi, err := os.Stat(d)
		if errors.Is(err, os.ErrNotExist) && strings.HasSuffix(d, "templates") {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %#o, want 0700", d, fi.Mode().Perm())
		}
	}
	if !strings.Contains(logged.String(), "made a data dir folder private") || !strings.Contains(logged.String(), "was=0755") {
		t.Errorf("no log line for the tightened data dir:\n%s", logged.String())
	}
}

// A daemon killed while it formatted the writable-disk template left its
// temp file: the next start removes it, and keeps the finished templates.
func TestStaleTemplateTempRemoved(t *testing.T) {
	home := shortHome(t)
	dir := filepath.Join(home, "rootfs", "templates")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ".tmp-writable-68719476736.ext4-12345")
	done := filepath.Join(dir, "writable-1048576.ext4")
	for _, p := range []string{stale, done} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d, ln, err := start(context.Background(), quietConfig(home))
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	d.close()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale template temp file kept: %v", err)
	}
	if _, err := os.Stat(done); err != nil {
		t.Errorf("finished template removed: %v", err)
	}
}
