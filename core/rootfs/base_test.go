package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/internal/ext4dump"
	"github.com/berthvm/berth/core/internal/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// file is one tar entry of a crafted layer.
type file struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
	major, minor     int64
	xattrs           map[string]string
}

func tarOf(t testing.TB, files []file) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Typeflag: f.typ, Mode: f.mode, Uid: f.uid, Gid: f.gid,
			Linkname: f.link, Devmajor: f.major, Devminor: f.minor, Size: int64(len(f.body)), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		for k, v := range f.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(f.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func layerOf(t testing.TB, raw []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// nastyLayers exercise everything a root filesystem must keep.
func nastyLayers(t testing.TB) [][]byte {
	long := strings.Repeat("L", 200)
	deep := strings.Repeat("deep-directory-name/", 14) // > 255 bytes of path: PAX names
	capability := string([]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	bottom := []file{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"},
		{name: "etc/gone", body: "deleted above"},
		{name: "etc/gonedir/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/gonedir/inner", body: "deleted with its dir"},
		{name: "opq/", typ: tar.TypeDir, mode: 0o755},
		{name: "opq/old", body: "hidden by an opaque dir"},
		{name: "opq/olddir/", typ: tar.TypeDir, mode: 0o755},
		{name: "opq/olddir/x", body: "also hidden"},
		{name: "keep/", typ: tar.TypeDir, mode: 0o755},
		{name: "keep/a", body: "under a dir a file replaces"},
		{name: "shared", body: "target of a link made one layer up"},
		{name: "willreplace", body: "old content kept by a hard link"},
		{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "bin/ping", body: "\x7fELF…", mode: 0o4755, xattrs: map[string]string{"security.capability": capability}},
		{name: "bin/sgid", body: "x", mode: 0o2711, gid: 42},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		{name: "dev/", typ: tar.TypeDir, mode: 0o755},
		{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660, major: 8, minor: 0, gid: 6},
		{name: "dev/fifo", typ: tar.TypeFifo, mode: 0o600},
		{name: "home/", typ: tar.TypeDir, mode: 0o755},
		{name: "home/user/", typ: tar.TypeDir, mode: 0o750, uid: 1000, gid: 1000},
		{name: "home/user/secret", body: "s", mode: 0o600, uid: 1000, gid: 1000, xattrs: map[string]string{"user.note": "hello"}},
		{name: "données/", typ: tar.TypeDir, mode: 0o755},
		{name: "données/ünïcode-名前.txt", body: "utf-8 names"},
		{name: long, body: "a 200-byte name"},
		{name: deep + "leaf", body: "a path longer than 255 bytes"},
		{name: "lnk-short", typ: tar.TypeSymlink, link: "etc/passwd"},
		{name: "lnk-long", typ: tar.TypeSymlink, link: "/" + strings.Repeat("x/", 60) + "target"},
		{name: "lnk-dangling", typ: tar.TypeSymlink, link: "../../nowhere"},
		{name: "empty", body: ""},
	}
	middle := []file{
		{name: "etc/", typ: tar.TypeDir, mode: 0o700},
		{name: "etc/.wh.gone", body: ""},
		{name: "etc/.wh.gonedir", body: ""},
		{name: "opq/", typ: tar.TypeDir, mode: 0o755},
		{name: "opq/.wh..wh..opq", body: ""},
		{name: "opq/new", body: "only this survives in opq"},
		{name: "hl-cross", typ: tar.TypeLink, link: "shared"},
		{name: "hl-old", typ: tar.TypeLink, link: "willreplace"},
		{name: "l1file", body: "linked in its own layer", uid: 7, mode: 0o640},
		{name: "l1link", typ: tar.TypeLink, link: "l1file"},
		{name: "bin/ping2", typ: tar.TypeLink, link: "bin/ping"},
	}
	top := []file{
		{name: "willreplace", body: "new, longer content that the hard link must not see"},
		{name: "keep", body: "a file where a dir was"},
		{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n", mode: 0o644},
	}
	for d := deep; d != ""; d = d[:strings.LastIndex(strings.TrimSuffix(d, "/"), "/")+1] {
		bottom = append(bottom, file{name: d, typ: tar.TypeDir, mode: 0o755})
	}
	return [][]byte{tarOf(t, bottom), tarOf(t, middle), tarOf(t, top)}
}

func requireDebugfs(t *testing.T) {
	testenv.Tool(t, "debugfs", "e2fsprogs")
	testenv.Tool(t, "e2fsck", "e2fsprogs")
}

// fsck runs e2fsck -fn and fails on any complaint.
func fsck(t *testing.T, disk string) {
	t.Helper()
	out, err := exec.Command("e2fsck", "-fn", disk).CombinedOutput()
	if err != nil {
		t.Fatalf("e2fsck -fn %s: %v\n%s", disk, err, out)
	}
}

func TestBuildBaseKeepsEverything(t *testing.T) {
	requireDebugfs(t)
	raws := nastyLayers(t)
	var layers []v1.Layer
	var readers []io.Reader
	for _, r := range raws {
		layers = append(layers, layerOf(t, r))
		readers = append(readers, bytes.NewReader(r))
	}
	want, err := ext4dump.Apply(readers...)
	if err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(t.TempDir(), "base.ext4")
	var reports []api.Progress
	if err := BuildBase(context.Background(), layers, disk, func(p api.Progress) { reports = append(reports, p) }); err != nil {
		t.Fatal(err)
	}
	fsck(t, disk)
	got, err := ext4dump.ReadDisk(disk)
	if err != nil {
		t.Fatal(err)
	}
	if diffs := ext4dump.Compare(want, got); len(diffs) > 0 {
		t.Fatalf("disk differs from the applied layers:\n%s", strings.Join(diffs, "\n"))
	}
	// Spot checks that the oracle itself saw the cases.
	for _, p := range []string{"etc/gone", "etc/gonedir", "opq/old", "opq/olddir", "keep/a"} {
		if _, ok := want[p]; ok {
			t.Errorf("oracle kept %s", p)
		}
	}
	if want["hl-old"].LinkTo != "" || want["hl-old"].Size != int64(len("old content kept by a hard link")) {
		t.Errorf("oracle: hl-old = %+v", want["hl-old"])
	}
	if len(reports) == 0 || !reports[len(reports)-1].Done {
		t.Errorf("progress reports %+v, want a final Done", reports)
	}
	fi, err := os.Stat(disk)
	if err != nil || fi.Mode().Perm() != 0o444 {
		t.Errorf("disk mode %v, %v; want read-only 0444", fi.Mode(), err)
	}
}

func TestBuildBaseRefusesBadLayers(t *testing.T) {
	cases := []struct {
		name  string
		files []file
		want  error
	}{
		{"dot-dot escape", []file{{name: "../../etc/shadow", body: "x"}}, api.ErrCorrupt},
		{"escape inside", []file{{name: "a/../../b", body: "x"}}, api.ErrCorrupt},
		{"link escape", []file{{name: "a", body: "x"}, {name: "b", typ: tar.TypeLink, link: "../a"}}, api.ErrCorrupt},
		{"link to nothing", []file{{name: "b", typ: tar.TypeLink, link: "nowhere"}}, api.ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			disk := filepath.Join(dir, "x.ext4")
			err := BuildBase(context.Background(), []v1.Layer{layerOf(t, tarOf(t, tc.files))}, disk, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Fatalf("failed build left %v behind", left)
			}
		})
	}
	t.Run("truncated layer", func(t *testing.T) {
		raw := tarOf(t, []file{{name: "big", body: strings.Repeat("z", 100000)}})
		dir := t.TempDir()
		err := BuildBase(context.Background(), []v1.Layer{layerOf(t, raw[:5000])}, filepath.Join(dir, "x.ext4"), nil)
		if !errors.Is(err, api.ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Fatalf("failed build left %v behind", left)
		}
	})
}
