package main

// End-to-end tests of berth cp with real VMs: a running container, and a
// stopped one copied through its maintenance boot.

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

// cpTree makes a folder with a 0750 directory, a 0600 file (owned by
// 1000:1001 when the test runs as root), an executable and a symlink.
func cpTree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "private"), 0o750)
	os.Chmod(filepath.Join(src, "private"), 0o750)
	os.WriteFile(filepath.Join(src, "private/secret"), []byte("s3cret\n"), 0o600)
	os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\necho ran\n"), 0o755)
	os.Symlink("private/secret", filepath.Join(src, "link"))
	if os.Geteuid() == 0 {
		os.Lchown(filepath.Join(src, "private/secret"), 1000, 1001)
	}
	old := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, p := range []string{"private/secret", "run.sh", "private", "."} {
		os.Chtimes(filepath.Join(src, p), old, old)
	}
	return src
}

// sameTree compares types, modes, mtimes, content, link targets and (as
// root) owners of two local trees.
func sameTree(t *testing.T, a, b string) {
	t.Helper()
	filepath.WalkDir(a, func(p string, d fs.DirEntry, walkErr error) error {
		if walkErr != nil {
			return walkErr
		}
		rel, _ := filepath.Rel(a, p)
		fa, _ := os.Lstat(p)
		fb, err := os.Lstat(filepath.Join(b, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		if fa.Mode() != fb.Mode() || !fa.ModTime().Truncate(time.Second).Equal(fb.ModTime()) {
			t.Errorf("%s: %v %v, want %v %v", rel, fb.Mode(), fb.ModTime(), fa.Mode(), fa.ModTime())
		}
		sa, sb := fa.Sys().(*syscall.Stat_t), fb.Sys().(*syscall.Stat_t)
		if os.Geteuid() == 0 && (sa.Uid != sb.Uid || sa.Gid != sb.Gid) {
			t.Errorf("%s: owner %d:%d, want %d:%d", rel, sb.Uid, sb.Gid, sa.Uid, sa.Gid)
		}
		la, _ := os.Readlink(p)
		lb, _ := os.Readlink(filepath.Join(b, rel))
		ca, _ := os.ReadFile(p)
		cb, _ := os.ReadFile(filepath.Join(b, rel))
		if la != lb || !bytes.Equal(ca, cb) {
			t.Errorf("%s: link %q content %q, want %q %q", rel, lb, cb, la, ca)
		}
		return nil
	})
}

func TestCp(t *testing.T) {
	home := vmHome(t)
	mustRun(t, home, run("-d", "--name", "web", "berth/demo", "sh", "-c", "while true; do sleep 1; done")...)
	mustRun(t, home, "create", "--name", "box", "-c", "1", "-m", "256m", "berth/demo", "sh", "-c", "cat /copied/hello.txt; /copied/run.sh")
	src := cpTree(t)
	work := t.TempDir()

	t.Run("folder into a running container and back", func(t *testing.T) {
		mustRun(t, home, "cp", src, "web:/tmp/")
		out := mustRun(t, home, "exec", "web", "sh", "-c",
			"stat -c '%n %a %u:%g' /tmp/src/private /tmp/src/private/secret /tmp/src/run.sh; readlink /tmp/src/link; /tmp/src/run.sh")
		want := "/tmp/src/private 750 0:0\n/tmp/src/private/secret 600 1000:1001\n/tmp/src/run.sh 755 0:0\nprivate/secret\nran\n"
		if os.Geteuid() == 0 && out != want {
			t.Fatalf("in the container:\n%s\nwant:\n%s", out, want)
		}
		back := filepath.Join(work, "back")
		mustRun(t, home, "cp", "web:/tmp/src", back)
		sameTree(t, src, back)
		// Into an existing folder: under its own name; "/." copies the contents.
		mustRun(t, home, "cp", "web:/tmp/src", work)
		sameTree(t, src, filepath.Join(work, "src"))
		flat := filepath.Join(work, "flat")
		os.Mkdir(flat, 0o755)
		mustRun(t, home, "cp", "web:/tmp/src/.", flat)
		sameTree(t, filepath.Join(src, "private"), filepath.Join(flat, "private"))
	})

	t.Run("links and -L", func(t *testing.T) {
		mustRun(t, home, "cp", "-L", filepath.Join(src, "link"), "web:/tmp/followed")
		if out := mustRun(t, home, "exec", "web", "sh", "-c", "test -L /tmp/followed || cat /tmp/followed"); out != "s3cret\n" {
			t.Fatalf("-L to the container: %q", out)
		}
		mustRun(t, home, "cp", "web:/tmp/src/link", filepath.Join(work, "asLink"))
		if l, err := os.Readlink(filepath.Join(work, "asLink")); err != nil || l != "private/secret" {
			t.Fatalf("the link was not kept: %q %v", l, err)
		}
		mustRun(t, home, "cp", "-L", "web:/tmp/src/link", filepath.Join(work, "followed"))
		if b, err := os.ReadFile(filepath.Join(work, "followed")); err != nil || string(b) != "s3cret\n" {
			t.Fatalf("-L from the container: %q %v", b, err)
		}
		if fi, _ := os.Lstat(filepath.Join(work, "followed")); !fi.Mode().IsRegular() {
			t.Fatalf("-L from the container made a %v", fi.Mode())
		}
	})

	t.Run("tar streams both ways", func(t *testing.T) {
		r := berth(t, home, "cp", "web:/tmp/src/run.sh", "-")
		if r.code != 0 {
			t.Fatalf("cp to -: %+v", r)
		}
		tr := tar.NewReader(strings.NewReader(r.stdout))
		h, err := tr.Next()
		if err != nil || h.Name != "run.sh" || h.Mode != 0o755 {
			t.Fatalf("tar on stdout: %+v %v", h, err)
		}
		var in bytes.Buffer
		tw := tar.NewWriter(&in)
		tw.WriteHeader(&tar.Header{Name: "stdin/", Typeflag: tar.TypeDir, Mode: 0o700})
		tw.WriteHeader(&tar.Header{Name: "stdin/f", Typeflag: tar.TypeReg, Mode: 0o640, Size: 3, Uid: 7, Gid: 8})
		tw.Write([]byte("in\n"))
		tw.Close()
		if r := berthIn(t, home, in.String(), "cp", "-", "web:/tmp"); r.code != 0 {
			t.Fatalf("cp from -: %+v", r)
		}
		if out := mustRun(t, home, "exec", "web", "stat", "-c", "%a %u:%g", "/tmp/stdin", "/tmp/stdin/f"); out != "700 0:0\n640 7:8\n" {
			t.Fatalf("extracted from stdin: %q", out)
		}
		if r := berthIn(t, home, in.String(), "cp", "-", "web:/tmp/stdin/f"); r.code != 1 || !strings.Contains(r.stderr, "must be a directory") {
			t.Fatalf("cp - to a file: %+v", r)
		}
	})

	t.Run("stopped container", func(t *testing.T) {
		dir := filepath.Join(work, "copied")
		os.Mkdir(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("copied while stopped\n"), 0o644)
		// A file to a folder that is not there yet is docker's error…
		if r := berth(t, home, "cp", filepath.Join(dir, "hello.txt"), "box:/copied/"); r.code != 1 || !strings.Contains(r.stderr, "no such directory") {
			t.Fatalf("cp a file to a missing folder: %+v", r)
		}
		// …a folder makes it, and a file then goes into it.
		mustRun(t, home, "cp", dir, "box:/")
		mustRun(t, home, "cp", filepath.Join(src, "run.sh"), "box:/copied/run.sh")
		if c := inspect(t, home, "box"); c.State != api.StateCreated || c.PID != 0 {
			t.Fatalf("after cp: %s pid %d", c.State, c.PID)
		}
		if out := mustRun(t, home, "start", "-a", "box"); out != "copied while stopped\nran\n" {
			t.Fatalf("start -a after cp: %q", out)
		}
		// Out of an exited container, as a tar stream.
		r := berth(t, home, "cp", "box:/copied/hello.txt", "-")
		tr := tar.NewReader(strings.NewReader(r.stdout))
		if h, err := tr.Next(); err != nil || h.Name != "hello.txt" {
			t.Fatalf("cp from an exited container: %+v %v %s", h, err, r.stderr)
		}
		if b, _ := io.ReadAll(tr); string(b) != "copied while stopped\n" {
			t.Fatalf("content %q", b)
		}
		if c := inspect(t, home, "box"); c.State != api.StateExited {
			t.Fatalf("after cp from it: %s", c.State)
		}
		if runs, _ := os.ReadDir(filepath.Join(home, "run")); len(runs) != 1 { // web's only
			t.Fatalf("run directories: %v", runs)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			args   []string
			stderr string
		}{
			{"missing path in the container", []string{"cp", "web:/nope", work}, "Error: Could not find the file /nope in container web\n"},
			{"missing path in a stopped container", []string{"cp", "box:/nope", work}, "Error: Could not find the file /nope in container box\n"},
			{"missing directory in the container", []string{"cp", filepath.Join(src, "run.sh"), "web:/nope/x"}, "Could not find the file /nope in container web"},
			{"missing host path", []string{"cp", filepath.Join(work, "nope"), "web:/tmp"}, "no such file or directory"},
			{"unknown container", []string{"cp", "ghost:/etc", work}, "no such container"},
			{"unknown container as destination", []string{"cp", src, "ghost:/tmp"}, "no such container"},
			{"a folder onto a file", []string{"cp", src, "web:/tmp/src/run.sh"}, "cannot copy directory"},
			{"a file to a missing folder", []string{"cp", filepath.Join(src, "run.sh"), "web:/tmp/none/"}, "no such directory"},
			{"a folder onto a local file", []string{"cp", "web:/tmp/src", filepath.Join(src, "run.sh")}, "cannot copy directory"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := berth(t, home, tc.args...)
				if r.code != 1 || !strings.Contains(r.stderr, tc.stderr) {
					t.Fatalf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, tc.stderr)
				}
			})
		}
		if r := berth(t, home, "cp", "a", "b"); r.code != 125 || !strings.Contains(r.stderr, "must specify at least one container source") {
			t.Fatalf("cp without a container: %+v", r)
		}
		if _, err := os.Stat(filepath.Join(work, "nope")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatal("a failed copy left a file")
		}
	})
}
