package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

func TestPlanCopy(t *testing.T) {
	file := func(p string) Endpoint { return Endpoint{Path: p, Exists: true} }
	dir := func(p string) Endpoint { return Endpoint{Path: p, Exists: true, IsDir: true} }
	missing := func(p string) Endpoint { return Endpoint{Path: p} }
	for _, tc := range []struct {
		name     string
		src, dst Endpoint
		want     Plan
		err      error
	}{
		{"file to missing path: made as that file", file("/etc/hosts"), missing("out/h"), Plan{Dir: "out", RenameFrom: "hosts", RenameTo: "h"}, nil},
		{"file to missing path of the same name", file("/etc/hosts"), missing("hosts"), Plan{Dir: "."}, nil},
		{"file to missing path ending in /", file("/etc/hosts"), missing("out/"), Plan{}, ErrDirNotExists},
		{"file onto a file: replaced", file("a/x"), file("/tmp/y"), Plan{Dir: "/tmp", RenameFrom: "x", RenameTo: "y"}, nil},
		{"file into a directory", file("a/x"), dir("/tmp"), Plan{Dir: "/tmp"}, nil},
		{"file into a directory written with /", file("a/x"), dir("/tmp/"), Plan{Dir: "/tmp/"}, nil},
		{"dir to missing path: made with the contents", dir("/srv/web"), missing("/tmp/site"), Plan{Dir: "/tmp", RenameFrom: "web", RenameTo: "site"}, nil},
		{"dir to missing path ending in /", dir("/srv/web"), missing("/tmp/site/"), Plan{Dir: "/tmp", RenameFrom: "web", RenameTo: "site"}, nil},
		{"dir onto a file", dir("/srv/web"), file("/tmp/f"), Plan{}, ErrCannotCopyDir},
		{"dir into a directory", dir("/srv/web"), dir("/tmp"), Plan{Dir: "/tmp"}, nil},
		{"dir contents into a directory", dir("/srv/web/."), dir("/tmp"), Plan{Dir: "/tmp"}, nil},
		{"dir contents to missing path", dir("/srv/web/."), missing("new"), Plan{Dir: ".", RenameFrom: ".", RenameTo: "new"}, nil},
		{"root to missing path", dir("/"), missing("/tmp/all"), Plan{Dir: "/tmp", RenameFrom: ".", RenameTo: "all"}, nil},
		{"at the root", file("x"), missing("/y"), Plan{Dir: "/", RenameFrom: "x", RenameTo: "y"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PlanCopy(tc.src, tc.dst)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("PlanCopy = %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestTopNameAndResolve(t *testing.T) {
	for in, want := range map[string]string{"/a/b": "b", "/a/b/": "b", "/a/b/.": ".", ".": ".", "/": ".", "b": "b"} {
		if got := TopName(in); got != want {
			t.Errorf("TopName(%q) = %q, want %q", in, got, want)
		}
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "real/sub"), 0o755)
	os.Symlink("/real", filepath.Join(root, "link"))
	os.Symlink("../../../..", filepath.Join(root, "up"))
	for _, tc := range []struct{ in, want string }{
		{"/link", "link"},                // the link itself
		{"/link/", "real"},               // the directory it means
		{"/link/.", "real"},              // its contents
		{"/link/sub", "real/sub"},        // followed on the way
		{"/up/etc/passwd", "etc/passwd"}, // never out of root
		{"/", ""},
	} {
		got, err := Resolve(root, tc.in)
		if err != nil || got != filepath.Join(root, tc.want) {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.in, got, err, filepath.Join(root, tc.want))
		}
	}
	st, err := Stat(root, "/link")
	if err != nil || st.Name != "link" || st.Mode&fs.ModeSymlink == 0 || st.LinkTarget != "/real" {
		t.Fatalf("Stat(/link) = %+v, %v", st, err)
	}
	if st, err := Stat(root, "/link/"); err != nil || !st.Mode.IsDir() {
		t.Fatalf("Stat(/link/) = %+v, %v", st, err)
	}
	if _, err := Stat(root, "/nope"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("Stat of a missing path: %v", err)
	}
	os.WriteFile(filepath.Join(root, "f"), nil, 0o644)
	if _, err := Stat(root, "/f/x"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("Stat below a file: %v", err)
	}
	if _, err := Stat(root, "/f/"); !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("Stat of a file as a directory: %v", err)
	}
}

// tree makes the fixture the e2e test copies too: a 0750 directory, a 0600
// file, an executable, a symlink, a hard link, owned by 1000:1001 when
// the test runs as root.
func tree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "private"), 0o750))
	must(os.Chmod(filepath.Join(src, "private"), 0o750))
	must(os.WriteFile(filepath.Join(src, "private/secret"), []byte("s3cret\n"), 0o600))
	must(os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.Symlink("private/secret", filepath.Join(src, "link")))
	must(os.Link(filepath.Join(src, "run.sh"), filepath.Join(src, "hard.sh")))
	if os.Geteuid() == 0 {
		must(os.Lchown(filepath.Join(src, "private/secret"), 1000, 1001))
		must(os.Lchown(filepath.Join(src, "link"), 1002, 1003))
	}
	old := time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, p := range []string{"private/secret", "run.sh", "private"} {
		must(os.Chtimes(filepath.Join(src, p), old, old))
	}
	return src
}

func TestWriteExtractKeepsEverything(t *testing.T) {
	src := tree(t)
	var buf bytes.Buffer
	if err := Write(&buf, src, "src"); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := Extract(&buf, dst, "/", ExtractOptions{Chown: true, RenameFrom: "src", RenameTo: "copy"}); err != nil {
		t.Fatal(err)
	}
	compareTrees(t, src, filepath.Join(dst, "copy"))
	a, _ := os.Stat(filepath.Join(dst, "copy/run.sh"))
	b, _ := os.Stat(filepath.Join(dst, "copy/hard.sh"))
	if !os.SameFile(a, b) {
		t.Error("the hard link was not kept")
	}
}

// compareTrees checks that b has a's entries with the same type, mode,
// owner (as root), mtime (to the second), content and link target.
func compareTrees(t *testing.T, a, b string) {
	t.Helper()
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		fa, _ := os.Lstat(p)
		fb, err := os.Lstat(filepath.Join(b, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		if fa.Mode() != fb.Mode() {
			t.Errorf("%s: mode %v, want %v", rel, fb.Mode(), fa.Mode())
		}
		if rel != "." && !fa.ModTime().Truncate(time.Second).Equal(fb.ModTime()) {
			t.Errorf("%s: mtime %v, want %v", rel, fb.ModTime(), fa.ModTime())
		}
		sa, sb := fa.Sys().(*syscall.Stat_t), fb.Sys().(*syscall.Stat_t)
		if os.Geteuid() == 0 && (sa.Uid != sb.Uid || sa.Gid != sb.Gid) {
			t.Errorf("%s: owner %d:%d, want %d:%d", rel, sb.Uid, sb.Gid, sa.Uid, sa.Gid)
		}
		switch {
		case fa.Mode()&fs.ModeSymlink != 0:
			la, _ := os.Readlink(p)
			lb, _ := os.Readlink(filepath.Join(b, rel))
			if la != lb {
				t.Errorf("%s: link to %q, want %q", rel, lb, la)
			}
		case fa.Mode().IsRegular():
			ca, _ := os.ReadFile(p)
			cb, _ := os.ReadFile(filepath.Join(b, rel))
			if !bytes.Equal(ca, cb) {
				t.Errorf("%s: content %q, want %q", rel, cb, ca)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

type entry struct {
	name, link string
	typ        byte
	body       string
}

func tarOf(t *testing.T, entries ...entry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), ModTime: time.Unix(1e9, 0)}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return &buf
}

// TestExtractHostile feeds archives made to write outside the
// destination: each is refused or lands inside, and nothing appears next
// to the destination.
func TestExtractHostile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []entry
		refused bool
		inside  string // a file that must exist inside the root afterwards
	}{
		{"dot-dot entry", []entry{{name: "../evil", typ: tar.TypeReg, body: "x"}}, true, ""},
		{"dot-dot inside a name", []entry{{name: "a/../../evil", typ: tar.TypeReg, body: "x"}}, true, ""},
		{"absolute name is taken below the destination", []entry{{name: "/evil", typ: tar.TypeReg, body: "x"}}, false, "dest/evil"},
		{"absolute symlink then a file through it", []entry{
			{name: "l", link: "/", typ: tar.TypeSymlink},
			{name: "l/evil", typ: tar.TypeReg, body: "x"}}, false, "evil"},
		{"relative symlink up then a file through it", []entry{
			{name: "l", link: "../../../../..", typ: tar.TypeSymlink},
			{name: "l/evil", typ: tar.TypeReg, body: "x"}}, false, "evil"},
		{"hard link to a path outside", []entry{{name: "h", link: "../../outside", typ: tar.TypeLink}}, true, ""},
		{"hard link through a symlink out", []entry{
			{name: "l", link: "/", typ: tar.TypeSymlink},
			{name: "h", link: "l/outside", typ: tar.TypeLink}}, true, ""},
		{"symlink then a directory through it", []entry{
			{name: "l", link: "../..", typ: tar.TypeSymlink},
			{name: "l/d/", typ: tar.TypeDir},
			{name: "l/d/evil", typ: tar.TypeReg, body: "x"}}, false, "d/evil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := t.TempDir()
			os.WriteFile(filepath.Join(top, "outside"), []byte("keep"), 0o644)
			root := filepath.Join(top, "root")
			os.MkdirAll(filepath.Join(root, "dest"), 0o755)
			err := Extract(tarOf(t, tc.entries...), root, "/dest", ExtractOptions{})
			if tc.refused != (err != nil) {
				t.Fatalf("refused = %v (%v), want %v", err != nil, err, tc.refused)
			}
			if tc.refused && !errors.Is(err, api.ErrInvalidArgument) && !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("error %v is neither an invalid argument nor a missing file", err)
			}
			ents, _ := os.ReadDir(top)
			if len(ents) != 2 {
				t.Fatalf("something was written next to the root: %v", ents)
			}
			if b, _ := os.ReadFile(filepath.Join(top, "outside")); string(b) != "keep" {
				t.Fatal("the file outside was changed")
			}
			if tc.inside != "" {
				if _, err := os.Stat(filepath.Join(root, tc.inside)); err != nil {
					t.Fatalf("not extracted inside the root: %v", err)
				}
			}
		})
	}
}

func TestExtractReplaces(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "d/sub"), 0o755)
	os.WriteFile(filepath.Join(root, "f"), []byte("old"), 0o644)
	os.WriteFile(filepath.Join(root, "target"), []byte("keep"), 0o644)
	os.Symlink("target", filepath.Join(root, "viaLink"))

	// A link in the way is replaced, not written through.
	if err := Extract(tarOf(t, entry{name: "viaLink", typ: tar.TypeReg, body: "new"}), root, "/", ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "target")); string(b) != "keep" {
		t.Fatalf("written through the link: target = %q", b)
	}
	// Without NoOverwriteDirNonDir, anything goes; with it, docker's refusals.
	for _, tc := range []struct {
		e    entry
		want string
	}{
		{entry{name: "d", typ: tar.TypeReg, body: "x"}, "cannot overwrite directory"},
		{entry{name: "f/", typ: tar.TypeDir}, "cannot overwrite non-directory"},
	} {
		err := Extract(tarOf(t, tc.e), root, "/", ExtractOptions{NoOverwriteDirNonDir: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, api.ErrConflict) {
			t.Errorf("%s: %v, want %q", tc.e.name, err, tc.want)
		}
	}
	if err := Extract(tarOf(t, entry{name: "d", typ: tar.TypeReg, body: "x"}), root, "/", ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "d")); string(b) != "x" {
		t.Fatalf("d = %q", b)
	}
	// The destination must be a directory that is there.
	if err := Extract(tarOf(t), root, "/nope", ExtractOptions{}); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("into a missing directory: %v", err)
	}
	if err := Extract(tarOf(t), root, "/f", ExtractOptions{}); !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("into a file: %v", err)
	}
	// A broken archive is an error, not a partial success.
	if err := Extract(strings.NewReader("not a tar at all, not at all"), root, "/", ExtractOptions{}); err == nil {
		t.Fatal("garbage extracted")
	}
}

func TestWriteContentsOnly(t *testing.T) {
	src := tree(t)
	var buf bytes.Buffer
	if err := Write(&buf, src, "."); err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if names[0] != "./" || !strings.HasPrefix(names[1], "./") {
		t.Fatalf("entries %v", names)
	}
	// Into an existing directory: the contents, the directory's own
	// mode untouched.
	dst := t.TempDir()
	os.Chmod(dst, 0o711)
	if err := Extract(bytes.NewReader(buf.Bytes()), dst, "/", ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o711 {
		t.Fatalf("the destination's mode became %v", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(dst, "private/secret")); err != nil {
		t.Fatal(err)
	}
}
