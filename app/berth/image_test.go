package main

// End-to-end tests of the image commands: the berth binary, a daemon it
// starts, and a real registry (Debian's docker-registry) on loopback.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/image/registrytest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// berthIn runs the binary with stdin.

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

	img, err := random.Image(300_000, 3)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
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
	var list []api.Image
	if err := json.Unmarshal([]byte(mustRun(t, home, "image", "ls", "--format", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Digest != digest.String() || list[0].Names[0] != src {
		t.Fatalf("image ls: %+v", list)
	}
	if q := strings.TrimSpace(mustRun(t, home, "image", "ls", "-q")); q != strings.TrimPrefix(list[0].ID, "sha256:")[:12] {
		t.Fatalf("image ls -q = %q", q)
	}
	table := mustRun(t, home, "image", "ls")
	if !strings.Contains(table, reg.Host+"/e2e/app") || !strings.Contains(table, "linux/amd64") {
		t.Fatalf("image ls table:\n%s", table)
	}
	disk := strings.TrimSpace(mustRun(t, home, "image", "inspect", "--format", "{{.RootFS.Path}}", src))
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
