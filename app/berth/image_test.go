package main

// End-to-end tests of the image commands: the berth binary, a daemon it
// starts, and a real registry (Debian's docker-registry) on loopback.

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/image/registrytest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func mustRun(t *testing.T, home string, args ...string) string {
	t.Helper()
	r := berth(t, home, args...)
	if r.code != 0 {
		t.Fatalf("berth %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

func TestImageCommandsEndToEnd(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Auth: true})
	// Keep the user's docker config out of the daemon's reach.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("HOME", t.TempDir())

	img := linuxImage(t, 300_000, 3)
	src := reg.Host + "/e2e/app:1"
	ref, _ := name.ParseReference(src)
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: reg.User, Password: reg.Password})); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()

	home := newHome(t)
	r := berth(t, home, "image", "pull", src)
	if r.code != 1 || !strings.Contains(r.stderr, "berth registry login "+reg.Host) {
		t.Fatalf("pull before login: exit %d\n%s", r.code, r.stderr)
	}
	r = berthIn(t, home, "wrong\n", "registry", "login", "-u", reg.User, "--password-stdin", reg.Host)
	if r.code == 0 {
		t.Fatalf("login with a wrong password succeeded: %s", r.stdout)
	}
	r = berthIn(t, home, reg.Password+"\n", "registry", "login", "-u", reg.User, "--password-stdin", reg.Host)
	if r.code != 0 || !strings.Contains(r.stdout, "Login to "+reg.Host+" succeeded") {
		t.Fatalf("login: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	out := mustRun(t, home, "image", "pull", src)
	if !strings.Contains(out, "Pulled "+src) || !strings.Contains(out, digest.String()) {
		t.Fatalf("pull output:\n%s", out)
	}
	// docker's --format json: one object per line, docker's keys.
	var row struct{ ID, Repository, Tag, Digest, Platform string }
	if err := json.Unmarshal([]byte(mustRun(t, home, "image", "ls", "--no-trunc", "--format", "json")), &row); err != nil {
		t.Fatal(err)
	}
	if row.Digest != digest.String() || row.Repository+":"+row.Tag != src || row.Platform != "linux/amd64" {
		t.Fatalf("image ls: %+v", row)
	}
	if q := strings.TrimSpace(mustRun(t, home, "image", "ls", "-q")); q != strings.TrimPrefix(row.ID, "sha256:")[:12] {
		t.Fatalf("image ls -q = %q", q)
	}
	table := mustRun(t, home, "image", "ls")
	if !strings.HasPrefix(table, "REPOSITORY ") || !strings.Contains(table, reg.Host+"/e2e/app") {
		t.Fatalf("image ls table:\n%s", table)
	}
	disk := strings.TrimSpace(mustRun(t, home, "image", "inspect", "--format", "{{.Berth.Disk.Path}}", src))
	if fi, err := os.Stat(disk); err != nil || fi.Size() == 0 {
		t.Fatalf("base disk %q: %v", disk, err)
	}

	mustRun(t, home, "image", "tag", src, "local/app:2")
	out = mustRun(t, home, "image", "push", "local/app:2", reg.Host+"/e2e/copy:2")
	if !strings.Contains(out, "Pushed "+reg.Host+"/e2e/copy:2") {
		t.Fatalf("push output:\n%s", out)
	}
	copyRef, _ := name.ParseReference(reg.Host + "/e2e/copy:2")
	pushed, err := remote.Head(copyRef, remote.WithAuth(&authn.Basic{Username: reg.User, Password: reg.Password}))
	if err != nil || pushed.Digest != digest {
		t.Fatalf("registry has %v (%v), want %s", pushed, err, digest)
	}

	tarball := filepath.Join(t.TempDir(), "app.tar")
	mustRun(t, home, "image", "save", "-o", tarball, src)
	home2 := newHome(t)
	out = mustRun(t, home2, "image", "load", "-i", tarball)
	if !strings.Contains(out, "Loaded image: "+src) {
		t.Fatalf("load output:\n%s", out)
	}
	r = berth(t, home2, "image", "load", "-i", filepath.Join(t.TempDir(), "missing.tar"))
	if r.code != 1 || !strings.Contains(r.stderr, "missing.tar") {
		t.Fatalf("load of a missing file: exit %d\n%s", r.code, r.stderr)
	}

	out = mustRun(t, home, "image", "rm", src)
	if !strings.Contains(out, "Untagged: "+src) || strings.Contains(out, "Deleted") {
		t.Fatalf("rm of one of two names:\n%s", out)
	}
	out = mustRun(t, home, "image", "prune", "-a", "-f")
	if !strings.Contains(out, "Deleted: "+digest.String()) {
		t.Fatalf("prune -a:\n%s", out)
	}
	if q := strings.TrimSpace(mustRun(t, home, "image", "ls", "-q")); q != "" {
		t.Fatalf("images left after prune -a: %q", q)
	}
	mustRun(t, home, "registry", "logout", reg.Host)
	r = berth(t, home, "image", "pull", src)
	if r.code != 1 {
		t.Fatalf("pull after logout: exit %d", r.code)
	}
}

// TestDaemonSIGKILLDuringPull kills the daemon while it downloads layers:
// the next daemon must show no half-pulled image and keep no partial
// blob, and the same pull must then simply work.
func TestDaemonSIGKILLDuringPull(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	img := linuxImage(t, 12<<20, 5) // 5 incompressible layers of 12 MiB
	src := reg.Host + "/e2e/big:1"
	ref, _ := name.ParseReference(src)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	home := newHome(t)
	mustRun(t, home, "system", "info") // a daemon to kill
	pull := exec.Command(berthBin, "image", "pull", src)
	pull.Env = append(os.Environ(), "BERTH_HOME="+home)
	if err := pull.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill as soon as the first layer bytes land in the store's temp dir.
	tmpDir := filepath.Join(home, "content", "tmp")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if entries, _ := os.ReadDir(tmpDir); len(entries) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pull never started writing")
		}
		time.Sleep(5 * time.Millisecond)
	}
	syscall.Kill(daemonPID(home), syscall.SIGKILL)
	if err := pull.Wait(); err == nil {
		t.Fatal("the pull succeeded although its daemon was killed")
	}
	// A new daemon: no image, no temp blobs, no half-built disk.
	if out := mustRun(t, home, "image", "ls", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("half-pulled image listed: %q", out)
	}
	if entries, _ := os.ReadDir(tmpDir); len(entries) != 0 {
		t.Fatalf("temp blobs left: %v", entries)
	}
	leftovers, _ := filepath.Glob(filepath.Join(home, "rootfs", ".tmp-*"))
	if len(leftovers) != 0 {
		t.Fatalf("half-built disks left: %v", leftovers)
	}
	out := mustRun(t, home, "image", "pull", src)
	if !strings.Contains(out, "Pulled "+src) {
		t.Fatalf("pull after the crash: %s", out)
	}
}

// linuxImage is a random linux/amd64 image of layers layers of size bytes.
func linuxImage(t *testing.T, size int64, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestImageLoadFromPipe: load -i of a named pipe reads what is written to
// it, as docker load does, and never leaves the daemon waiting on it.
func TestImageLoadFromPipe(t *testing.T) {
	home := newHome(t)
	mustRun(t, home, "create", "berth/demo") // the demo image is loaded at first use
	tarball := filepath.Join(t.TempDir(), "demo.tar")
	mustRun(t, home, "image", "save", "-o", tarball, "berth/demo")
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		r, err := os.Open(tarball)
		if err != nil {
			return
		}
		defer r.Close()
		io.Copy(w, r)
	}()
	home2 := newHome(t)
	out := mustRun(t, home2, "image", "load", "-i", fifo)
	if !strings.Contains(out, "Loaded image: docker.io/berth/demo:latest") {
		t.Fatalf("load output:\n%s", out)
	}
}
