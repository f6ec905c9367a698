// Package layertest builds image layers for tests: crafted tar entries
// (whiteouts, hard links, devices, xattrs…) as gzip layers.
package layertest

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// File is one tar entry of a crafted layer; Typ 0 is a regular file.
type File struct {
	Name, Body, Link string
	Typ              byte
	Mode             int64
	UID, GID         int
	Major, Minor     int64
	Xattrs           map[string]string
}

// Tar writes files as one PAX tar.
func Tar(t testing.TB, files []File) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Typeflag: f.Typ, Mode: f.Mode, Uid: f.UID, Gid: f.GID,
			Linkname: f.Link, Devmajor: f.Major, Devminor: f.Minor, Size: int64(len(f.Body)), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		for k, v := range f.Xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(f.Body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Layer is an OCI gzip layer of the tar raw.
func Layer(t testing.TB, raw []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Nasty is three layers exercising everything a root filesystem must
// keep: whiteouts, opaque dirs, hard links within and across layers and to
// replaced files, setuid/setgid/sticky modes, owners, xattrs including
// security.capability, device nodes, fifos, long and non-ASCII names,
// symlinks short, long and dangling.
func Nasty(t testing.TB) [][]byte {
	long := strings.Repeat("L", 200)
	deep := strings.Repeat("deep-directory-name/", 14) // > 255 bytes of path: PAX names
	capability := string([]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	bottom := []File{
		{Name: "./", Typ: tar.TypeDir, Mode: 0o755},
		{Name: "etc/", Typ: tar.TypeDir, Mode: 0o755},
		{Name: "etc/passwd", Body: "root:x:0:0::/root:/bin/sh\n"},
		{Name: "etc/gone", Body: "deleted above"},
		{Name: "etc/gonedir/", Typ: tar.TypeDir, Mode: 0o755},
		{Name: "etc/gonedir/inner", Body: "deleted with its dir"},
		{Name: "opq/", Typ: tar.TypeDir, Mode: 0o755},
		{Name: "opq/old", Body: "hidden by an opaque dir"},
		{Name: "opq/olddir/", Typ: tar.TypeDir, Mode: 0o755},
		{Name: "opq/olddir/x", Body: "also hidden"},
		{Name: "keep/", Typ: tar.TypeDir, Mode: 0o755},
		{Name: "keep/a", Body: "under a dir a file replaces"},
		{Name: "shared", Body: "target of a link made one layer up"},
		{Name: "willreplace", Body: "old content kept by a hard link"},
		{Name: "bin/", Typ: tar.TypeDir, Mode: 0o755},
		{Name: "bin/ping", Body: "\x7fELF…", Mode: 0o4755, Xattrs: map[string]string{"security.capability": capability}},
		{Name: "bin/sgid", Body: "x", Mode: 0o2711, GID: 42},
		{Name: "tmp/", Typ: tar.TypeDir, Mode: 0o1777},
		{Name: "dev/", Typ: tar.TypeDir, Mode: 0o755},
		{Name: "dev/null", Typ: tar.TypeChar, Mode: 0o666, Major: 1, Minor: 3},
		{Name: "dev/sda", Typ: tar.TypeBlock, Mode: 0o660, Major: 8, Minor: 0, GID: 6},
		{Name: "dev/fifo", Typ: tar.TypeFifo, Mode: 0o600},
		{Name: "home/", Typ: tar.TypeDir, Mode: 0o755},
		{Name: "home/user/", Typ: tar.TypeDir, Mode: 0o750, UID: 1000, GID: 1000},
		{Name: "home/user/secret", Body: "s", Mode: 0o600, UID: 1000, GID: 1000, Xattrs: map[string]string{"user.note": "hello"}},
		{Name: "données/", Typ: tar.TypeDir, Mode: 0o755},
		{Name: "données/ünïcode-名前.txt", Body: "utf-8 names"},
		{Name: long, Body: "a 200-byte name"},
		{Name: deep + "leaf", Body: "a path longer than 255 bytes"},
		{Name: "lnk-short", Typ: tar.TypeSymlink, Link: "etc/passwd"},
		{Name: "lnk-long", Typ: tar.TypeSymlink, Link: "/" + strings.Repeat("x/", 60) + "target"},
		{Name: "lnk-dangling", Typ: tar.TypeSymlink, Link: "../../nowhere"},
		{Name: "empty", Body: ""},
	}
	middle := []File{
		{Name: "etc/", Typ: tar.TypeDir, Mode: 0o700},
		{Name: "etc/.wh.gone", Body: ""},
		{Name: "etc/.wh.gonedir", Body: ""},
		{Name: "opq/", Typ: tar.TypeDir, Mode: 0o755},
		{Name: "opq/.wh..wh..opq", Body: ""},
		{Name: "opq/new", Body: "only this survives in opq"},
		{Name: "hl-cross", Typ: tar.TypeLink, Link: "shared"},
		{Name: "hl-old", Typ: tar.TypeLink, Link: "willreplace"},
		{Name: "l1file", Body: "linked in its own layer", UID: 7, Mode: 0o640},
		{Name: "l1link", Typ: tar.TypeLink, Link: "l1file"},
		{Name: "bin/ping2", Typ: tar.TypeLink, Link: "bin/ping"},
	}
	top := []File{
		{Name: "willreplace", Body: "new, longer content that the hard link must not see"},
		{Name: "keep", Body: "a file where a dir was"},
		{Name: "etc/passwd", Body: "root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n", Mode: 0o644},
	}
	for d := deep; d != ""; d = d[:strings.LastIndex(strings.TrimSuffix(d, "/"), "/")+1] {
		bottom = append(bottom, File{Name: d, Typ: tar.TypeDir, Mode: 0o755})
	}
	return [][]byte{Tar(t, bottom), Tar(t, middle), Tar(t, top)}
}
