package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// names lists dir's entries.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func assertFile(t *testing.T, p, content string, perm os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil || string(b) != content {
		t.Fatalf("%s = %q, %v; want %q", p, b, err, content)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != perm {
		t.Fatalf("%s mode %v, %v; want %v", p, fi.Mode().Perm(), err, perm)
	}
}

func TestWriteFile(t *testing.T) {
	cases := []struct {
		name string
		old  string // "" for no file before
		data string
		perm os.FileMode
	}{
		{"new private file", "", "secret\n", 0o600},
		{"new shared file", "", "{}", 0o644},
		{"read-only, whatever the umask", "", "base", 0o444},
		{"replaces", "old content that is longer", "new", 0o644},
		{"empty", "old", "", 0o600},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f.json")
			if tc.old != "" {
				if err := os.WriteFile(p, []byte(tc.old), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFile(p, []byte(tc.data), tc.perm); err != nil {
				t.Fatal(err)
			}
			assertFile(t, p, tc.data, tc.perm)
			if got := names(t, dir); len(got) != 1 {
				t.Fatalf("directory holds %v, want only f.json", got)
			}
		})
	}
}

// A failed replacement leaves the old file as it was and no temp file.
func TestFailuresKeepTheOldFile(t *testing.T) {
	cases := []struct {
		name  string
		write func(p string) error
	}{
		{"aborted", func(p string) error {
			f, err := Create(p, 0o644)
			if err != nil {
				return err
			}
			f.WriteString("half of the new")
			return f.Abort()
		}},
		{"the file failed under the writer", func(p string) error {
			f, err := Create(p, 0o644)
			if err != nil {
				return err
			}
			f.WriteString("half of the new")
			f.File.Close() // as a failed disk would: the sync fails
			if err := f.Commit(); err == nil {
				t.Fatal("Commit of a broken file succeeded")
			}
			return nil
		}},
		{"the write failed", func(p string) error {
			f, err := Create(p, 0o644)
			if err != nil {
				return err
			}
			f.File.Close()
			if _, err := f.Write([]byte("x")); err == nil {
				t.Fatal("write to a closed file succeeded")
			}
			return f.Abort()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f")
			if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := tc.write(p); err != nil {
				t.Fatal(err)
			}
			assertFile(t, p, "old", 0o600)
			if got := names(t, dir); len(got) != 1 {
				t.Fatalf("directory holds %v, want only f", got)
			}
		})
	}
}

func TestWriteFileErrors(t *testing.T) {
	dir := t.TempDir()
	// The rename fails: the target is a directory with something in it.
	target := filepath.Join(dir, "d")
	if err := os.MkdirAll(filepath.Join(target, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(target, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), target) {
		t.Fatalf("WriteFile over a directory = %v", err)
	}
	if got := names(t, dir); len(got) != 1 || got[0] != "d" {
		t.Fatalf("directory holds %v after a failed rename", got)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x"), 0o644); err == nil {
		t.Fatal("WriteFile into a missing directory succeeded")
	}
}

// The streaming form: the temp file is dot-prefixed beside the target
// while written, the target appears only on Commit, Abort after Commit
// does nothing, and a second Commit is refused.
func TestCreateCommitAbort(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "disk.ext4")
	f, err := Create(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if got := names(t, dir); len(got) != 1 || !strings.HasPrefix(got[0], TempPrefix+"disk.ext4-") {
		t.Fatalf("while writing, the directory holds %v", got)
	}
	if err := f.Truncate(4096); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("end"), 4093); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("target exists before Commit: %v", err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := f.Abort(); err != nil {
		t.Fatalf("Abort after Commit: %v", err)
	}
	if err := f.Commit(); err == nil {
		t.Fatal("a second Commit succeeded")
	}
	b, err := os.ReadFile(p)
	if err != nil || len(b) != 4096 || string(b[4093:]) != "end" {
		t.Fatalf("committed file: %d bytes, %v", len(b), err)
	}
	if got := names(t, dir); len(got) != 1 {
		t.Fatalf("directory holds %v after Commit", got)
	}
}
