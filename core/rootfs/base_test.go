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
	"github.com/berthvm/berth/core/internal/layertest"
	"github.com/berthvm/berth/core/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

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
	raws := layertest.Nasty(t)
	var layers []v1.Layer
	var readers []io.Reader
	for _, r := range raws {
		layers = append(layers, layertest.Layer(t, r))
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
		files []layertest.File
		want  error
	}{
		{"dot-dot escape", []layertest.File{{Name: "../../etc/shadow", Body: "x"}}, api.ErrCorrupt},
		{"escape inside", []layertest.File{{Name: "a/../../b", Body: "x"}}, api.ErrCorrupt},
		{"link escape", []layertest.File{{Name: "a", Body: "x"}, {Name: "b", Typ: tar.TypeLink, Link: "../a"}}, api.ErrCorrupt},
		{"link to nothing", []layertest.File{{Name: "b", Typ: tar.TypeLink, Link: "nowhere"}}, api.ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			disk := filepath.Join(dir, "x.ext4")
			err := BuildBase(context.Background(), []v1.Layer{layertest.Layer(t, layertest.Tar(t, tc.files))}, disk, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Fatalf("failed build left %v behind", left)
			}
		})
	}
	t.Run("truncated layer", func(t *testing.T) {
		raw := layertest.Tar(t, []layertest.File{{Name: "big", Body: strings.Repeat("z", 100000)}})
		dir := t.TempDir()
		err := BuildBase(context.Background(), []v1.Layer{layertest.Layer(t, raw[:5000])}, filepath.Join(dir, "x.ext4"), nil)
		if !errors.Is(err, api.ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Fatalf("failed build left %v behind", left)
		}
	})
}
