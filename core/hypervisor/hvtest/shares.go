package hvtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/testenv"
)

// RunShares boots one VM with two shares of host folders, one writable and
// one read-only, and checks through the agent's processes, as a container
// would use them: the guest mounts each by its tag (mount -t virtiofs),
// reads what the host wrote, writes what the host then reads (owner and
// mode as the backend promises), sees a host change without a remount,
// and cannot write to the read-only share (EROFS). At the end no process
// serving the shares is left. One VM serves every subtest: each needs
// the one before it (the mounts).
//
// A backend whose Info declares no virtio-fs shares is missing a
// prerequisite (testenv.Missing): QEMU without virtiofsd.
func RunShares(t *testing.T, env Env) {
	if !slices.Contains(env.Driver.Info().Shares, hypervisor.ShareVirtioFS) {
		testenv.Missing(t, env.Driver.Info().Name+" offers no virtio-fs shares here (QEMU: virtiofsd, apt-get install qemu-system-common)")
	}
	f := env.fixtures(t)
	rw, ro := t.TempDir(), t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(rw, "hello"), "from the host\n")
	write(filepath.Join(ro, "kept"), "read only\n")
	// A folder every guest user may write to.
	open := filepath.Join(rw, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	cfg := env.config(t, f, "shares", hypervisor.Disk{ID: "base", Path: f.BaseDisk, ReadOnly: true})
	cfg.Shares = []hypervisor.Share{{Tag: "work", Path: rw}, {Tag: "conf.ro", Path: ro, ReadOnly: true}}
	start := time.Now()
	m, c := Boot(t, env.Driver, cfg)
	t.Logf("booted with 2 shares in %v", time.Since(start).Round(time.Millisecond))
	ctx := timeout(t)
	if err := c.CreateContainer(ctx, proto.ContainerConfig{ID: "c", Base: proto.Device{Serial: "base"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(ctx, "c", "main", proto.ProcessSpec{Args: []string{"sleep", "3600"}}, agent.Stdio{}); err != nil {
		t.Fatal(err)
	}
	guest := func(t *testing.T, id, script string, user string) Result {
		t.Helper()
		// A share whose server is gone hangs the guest's calls: bound
		// each, so that the test fails rather than waits for ever.
		spec := proto.ProcessSpec{Args: []string{"timeout", "60", "sh", "-c", script}, Env: []string{"PATH=/bin"}, User: user}
		return run(t, c, "c", id, spec, "")
	}
	mustGuest := func(t *testing.T, id, script string) string {
		t.Helper()
		r := guest(t, id, script, "")
		if r.Exit.Code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", script, r.Exit.Code, r.Stdout, r.Stderr)
		}
		return r.Stdout
	}

	mounted := t.Run("mount by tag", func(t *testing.T) {
		start := time.Now()
		out := mustGuest(t, "mount", "mkdir -p /mnt/work /mnt/conf && mount -t virtiofs work /mnt/work && mount -t virtiofs conf.ro /mnt/conf && grep virtiofs /proc/mounts")
		t.Logf("mounted in %v:\n%s", time.Since(start).Round(time.Millisecond), out)
		if !strings.Contains(out, "work /mnt/work virtiofs") || !strings.Contains(out, "conf.ro /mnt/conf virtiofs") {
			t.Fatalf("mounts:\n%s", out)
		}
	})
	if !mounted {
		t.FailNow()
	}
	t.Run("guest reads a host file", func(t *testing.T) {
		if out := mustGuest(t, "read", "cat /mnt/work/hello /mnt/conf/kept"); out != "from the host\nread only\n" {
			t.Fatalf("read %q", out)
		}
	})
	t.Run("host sees what the guest writes", func(t *testing.T) {
		mustGuest(t, "write", "echo from the guest > /mnt/work/by-root && chmod 640 /mnt/work/by-root && mkdir /mnt/work/dir")
		r := guest(t, "write-app", "echo from app > /mnt/work/open/by-app", "app")
		root := os.Geteuid() == 0
		checks := []struct {
			name, content string
			mode          os.FileMode
			guestUID      int
		}{{"by-root", "from the guest\n", 0o640, 0}}
		if root {
			// As root, virtiofsd creates files as the guest's user.
			if r.Exit.Code != 0 {
				t.Fatalf("write as app: %+v", r)
			}
			checks = append(checks, struct {
				name, content string
				mode          os.FileMode
				guestUID      int
			}{"open/by-app", "from app\n", 0o644, 1000})
		} else {
			t.Logf("as uid %d, guest user app (1000) writing gave %+v", os.Geteuid(), r)
		}
		for _, ch := range checks {
			p := filepath.Join(rw, ch.name)
			b, err := os.ReadFile(p)
			if err != nil || string(b) != ch.content {
				t.Fatalf("host reads %s: %q, %v", ch.name, b, err)
			}
			fi, _ := os.Stat(p)
			st := fi.Sys().(*syscall.Stat_t)
			want := ch.guestUID
			if !root {
				// In virtiofsd's user namespace the guest's root is the
				// user running the VM.
				want = os.Geteuid()
			}
			if int(st.Uid) != want || fi.Mode().Perm() != ch.mode {
				t.Errorf("%s on the host: uid %d mode %v, want uid %d mode %v", ch.name, st.Uid, fi.Mode().Perm(), want, ch.mode)
			}
		}
		if fi, err := os.Stat(filepath.Join(rw, "dir")); err != nil || !fi.IsDir() {
			t.Errorf("folder made by the guest: %v, %v", fi, err)
		}
	})
	t.Run("guest sees host changes live", func(t *testing.T) {
		write(filepath.Join(rw, "hello"), "changed on the host\n")
		write(filepath.Join(rw, "new"), "new on the host\n")
		if err := os.Remove(filepath.Join(rw, "by-root")); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		want := "changed on the host\nnew on the host\ngone\n"
		var out string
		for i := 0; time.Since(start) < 10*time.Second; i++ {
			out = mustGuest(t, fmt.Sprintf("live%d", i), "cat /mnt/work/hello /mnt/work/new 2>/dev/null; [ -e /mnt/work/by-root ] || echo gone")
			if out == want {
				t.Logf("seen after %v", time.Since(start).Round(time.Millisecond))
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("the guest still sees %q after %v, want %q", out, time.Since(start).Round(time.Millisecond), want)
	})
	t.Run("read-only share refuses writes", func(t *testing.T) {
		for i, script := range []string{"echo x > /mnt/conf/new", "rm /mnt/conf/kept", "echo x >> /mnt/conf/kept", "mkdir /mnt/conf/d"} {
			r := guest(t, fmt.Sprintf("ro%d", i), script, "")
			if r.Exit.Code == 0 || !strings.Contains(r.Stderr, "Read-only file system") {
				t.Errorf("%s: %+v, want EROFS", script, r)
			}
		}
		// Not even a remount read-write in the guest gets through.
		r := guest(t, "ro-remount", "mount -o remount,rw /mnt/conf; echo x > /mnt/conf/new", "")
		if r.Exit.Code == 0 {
			t.Errorf("after a remount rw: %+v", r)
		}
		ents, _ := os.ReadDir(ro)
		if b, err := os.ReadFile(filepath.Join(ro, "kept")); err != nil || string(b) != "read only\n" || len(ents) != 1 {
			t.Fatalf("the read-only folder changed: %q, %v, %d entries", b, err, len(ents))
		}
	})
	if err := hypervisor.Shutdown(ctx, m, c, 30*time.Second); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatalf("after shutdown: %v", err)
	}
	assertGone(t, m)
	// The processes that served the shares (virtiofsd) end with the VM.
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := servers(rw, ro)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes serving the shares still run after the VM ended: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// servers lists the processes whose command line names one of paths:
// the servers of those shares (on hosts with /proc).
func servers(paths ...string) []string {
	ents, err := os.ReadDir("/proc")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, p := range paths {
			if strings.Contains(string(b), p) && e.Name() != fmt.Sprint(os.Getpid()) {
				out = append(out, e.Name()+" "+strings.ReplaceAll(string(b), "\x00", " "))
				break
			}
		}
	}
	return out
}
