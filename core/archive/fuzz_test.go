package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedTar writes entries (a header, and the body of a regular file) as a tar.
func seedTar(entries ...any) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := 0; i < len(entries); i++ {
		h := entries[i].(*tar.Header)
		var body string
		if h.Typeflag == tar.TypeReg {
			i++
			body = entries[i].(string)
			h.Size = int64(len(body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		_ = tw.WriteHeader(h)
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	return b.Bytes()
}

// listing lists what is under dir: each path with its type, mode, and a
// file's content.
func listing(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		out[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzExtract extracts any archive, as berth cp does into a container's
// root (the guest's archive_in) or a host folder, into /dst of a root
// whose neighbour holds a secret and whose /dst holds links that point
// out of the root. Whatever the archive holds and however it is renamed,
// nothing outside the root changes (and nothing is made beside it).
func FuzzExtract(f *testing.F) {
	reg := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeReg} }
	link := func(name, to string, typ byte) *tar.Header {
		return &tar.Header{Name: name, Linkname: to, Typeflag: typ}
	}
	f.Add(seedTar(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o555}, reg("d/f"), "data", link("d/h", "d/f", tar.TypeLink)), "", "")
	f.Add(seedTar(reg("esc/pwned"), "x", reg("abs/pwned"), "x", reg("/etc/passwd"), "root"), "", "")
	f.Add(seedTar(link("up", "../../..", tar.TypeSymlink), reg("up/outside/secret"), "overwritten"), "", "")
	f.Add(seedTar(link("l", "/", tar.TypeSymlink), reg("l/x"), "x", link("h", "esc/secret", tar.TypeLink)), "", "")
	f.Add(seedTar(reg("../x"), "x"), "", "")
	f.Add(seedTar(reg("top"), "x", &tar.Header{Name: "fifo", Typeflag: tar.TypeFifo}, &tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}), "top", "../../../outside")
	f.Add(seedTar(&tar.Header{Name: "./", Typeflag: tar.TypeDir}, reg("a"), "a"), ".", "new")
	f.Add([]byte("not a tar"), "", "")

	f.Fuzz(func(t *testing.T, archive []byte, renameFrom, renameTo string) {
		base := t.TempDir()
		root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
		for _, d := range []string{filepath.Join(root, "dst"), outside} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		for name, target := range map[string]string{"esc": "../../outside", "abs": outside} {
			if err := os.Symlink(target, filepath.Join(root, "dst", name)); err != nil {
				t.Fatal(err)
			}
		}
		before := listing(t, outside)
		err := Extract(bytes.NewReader(archive), root, "/dst", ExtractOptions{RenameFrom: renameFrom, RenameTo: renameTo})
		entries, rerr := os.ReadDir(base)
		if rerr != nil {
			t.Fatal(rerr)
		}
		for _, e := range entries {
			if e.Name() != "root" && e.Name() != "outside" {
				t.Fatalf("Extract made %s beside the root (err %v)", e.Name(), err)
			}
		}
		after := listing(t, outside)
		if len(after) != len(before) {
			t.Fatalf("Extract changed what is outside the root: %v, now %v (err %v)", before, after, err)
		}
		for p, v := range before {
			if after[p] != v {
				t.Fatalf("Extract changed %s outside the root: %q, now %q (err %v)", p, v, after[p], err)
			}
		}
	})
}

// FuzzInRoot resolves any path, as a container's process would see it,
// in a root full of links that point out of it: the result is always in
// the root, and Resolve's and Stat's too.
func FuzzInRoot(f *testing.F) {
	for _, p := range []string{"/", "a/b", "../../etc", "up/x", "abs/x", "loop", "self/self/self", "dir/.", "dir/", "."} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		base := t.TempDir()
		root := filepath.Join(base, "root")
		if err := os.MkdirAll(filepath.Join(root, "dir"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, target := range map[string]string{"up": "../..", "abs": base, "loop": "loop", "self": ".", "dir/back": "../up"} {
			if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
				t.Fatal(err)
			}
		}
		in := func(what, got string) {
			if got != root && !strings.HasPrefix(got, root+string(filepath.Separator)) {
				t.Fatalf("%s(%q) = %q, outside the root %q", what, p, got, root)
			}
		}
		if got, err := InRoot(root, p); err == nil {
			in("InRoot", got)
		}
		if got, err := Resolve(root, p); err == nil {
			in("Resolve", got)
		}
		if st, err := Stat(root, p); err == nil && st.LinkTarget != "" && !strings.HasPrefix(st.LinkTarget, "/") {
			t.Fatalf("Stat(%q): link target %q is not a path in the root", p, st.LinkTarget)
		}
	})
}

// FuzzPlanCopy applies docker's cp rules to any pair of paths: a copy
// into an existing directory goes into it as it is; any other plan names
// a directory and renames only the source's top entry, to a single path
// element.
func FuzzPlanCopy(f *testing.F) {
	f.Add("/etc/hosts", "out/h", false, false, false)
	f.Add("/srv/web/.", "/tmp/site/", true, false, false)
	f.Add("/", "/tmp/all", true, false, false)
	f.Add("x", "/", false, true, true)
	f.Fuzz(func(t *testing.T, src, dst string, srcDir, dstExists, dstDir bool) {
		p, err := PlanCopy(Endpoint{Path: src, Exists: true, IsDir: srcDir}, Endpoint{Path: dst, Exists: dstExists, IsDir: dstDir && dstExists})
		if err != nil {
			if !errors.Is(err, ErrCannotCopyDir) && !errors.Is(err, ErrDirNotExists) {
				t.Fatalf("PlanCopy(%q, %q): %v", src, dst, err)
			}
			return
		}
		if dstExists && dstDir {
			// Into the destination itself, as the user wrote it ("" for
			// the root of a container: the CLI refuses an empty path).
			if p != (Plan{Dir: dst}) {
				t.Fatalf("PlanCopy(%q, %q) = %+v into an existing directory", src, dst, p)
			}
			return
		}
		if p.Dir == "" {
			t.Fatalf("PlanCopy(%q, %q) = %+v: no directory", src, dst, p)
		}
		if p.RenameFrom != "" && p.RenameFrom != TopName(src) {
			t.Fatalf("PlanCopy(%q, %q) = %+v: renames %q, the top entry is %q", src, dst, p, p.RenameFrom, TopName(src))
		}
		if p.RenameTo != "" && (strings.Contains(p.RenameTo, "/") || p.RenameTo == "..") {
			t.Fatalf("PlanCopy(%q, %q) = %+v: renames to a path", src, dst, p)
		}
	})
}
