package guest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestCopyTree copies a tree with every kind of entry a volume's seed
// meets and checks content, modes, owners, times and links.
func TestCopyTree(t *testing.T) {
	src := t.TempDir()
	dst := filepath.Join(t.TempDir(), "copy")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "conf", "deep"), 0o750))
	must(os.WriteFile(filepath.Join(src, "conf", "secret"), []byte("s3cret"), 0o600))
	must(os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Symlink("conf/secret", filepath.Join(src, "link")))
	must(os.Symlink("/nowhere", filepath.Join(src, "dangling")))
	must(syscall.Mkfifo(filepath.Join(src, "fifo"), 0o640))
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(os.Chtimes(filepath.Join(src, "conf", "secret"), old, old))
	must(os.Chtimes(filepath.Join(src, "conf"), old, old))
	if os.Getuid() == 0 {
		must(os.Lchown(filepath.Join(src, "conf", "secret"), 1234, 5678))
	}
	must(os.Chmod(src, os.ModeSticky|0o775))

	must(copyTree(src, dst))

	for _, c := range []struct {
		name string
		mode os.FileMode
	}{
		{".", os.ModeDir | os.ModeSticky | 0o775},
		{"conf", os.ModeDir | 0o750},
		{"conf/deep", os.ModeDir | 0o750},
		{"conf/secret", 0o600},
		{"run.sh", 0o755},
		{"fifo", os.ModeNamedPipe | 0o640},
	} {
		fi, err := os.Lstat(filepath.Join(dst, c.name))
		if err != nil || fi.Mode() != c.mode {
			t.Errorf("%s: mode %v, %v; want %v", c.name, fi.Mode(), err, c.mode)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dst, "link")); err != nil || string(b) != "s3cret" {
		t.Errorf("content through the link: %q, %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(dst, "dangling")); err != nil || l != "/nowhere" {
		t.Errorf("dangling link: %q, %v", l, err)
	}
	for _, name := range []string{"conf", "conf/secret"} {
		fi, err := os.Stat(filepath.Join(dst, name))
		if err != nil || !fi.ModTime().Equal(old) {
			t.Errorf("%s: mtime %v, %v; want %v", name, fi.ModTime(), err, old)
		}
	}
	if os.Getuid() == 0 {
		fi, _ := os.Stat(filepath.Join(dst, "conf", "secret"))
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1234 || st.Gid != 5678 {
			t.Errorf("owner %d:%d, want 1234:5678", st.Uid, st.Gid)
		}
	}
}
