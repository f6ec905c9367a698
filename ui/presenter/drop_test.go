package presenter

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/testenv"
)

// Real archives, as docker save, skopeo and a gzip make them, against what
// people drop by mistake.
func TestClassify(t *testing.T) {
	dir := t.TempDir()
	img, err := random.Image(64<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference("example.com/app:1")
	dockerTar := filepath.Join(dir, "app.tar")
	if err := tarball.WriteToFile(dockerTar, ref, img); err != nil {
		t.Fatal(err)
	}
	ociDir := filepath.Join(dir, "layout")
	lp, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(dir, "app.tar.gz")
	gzipFile(t, dockerTar, gz)

	skopeo := testenv.Tool(t, "skopeo", "skopeo")
	ociArchive := filepath.Join(dir, "app-oci.tar")
	if out, err := exec.Command(skopeo, "--insecure-policy", "copy", "oci:"+ociDir, "oci-archive:"+ociArchive).CombinedOutput(); err != nil {
		t.Fatalf("skopeo: %v: %s", err, out)
	}
	dockerArchive := filepath.Join(dir, "skopeo-docker.tar")
	if out, err := exec.Command(skopeo, "--insecure-policy", "copy", "oci:"+ociDir, "docker-archive:"+dockerArchive+":app:1").CombinedOutput(); err != nil {
		t.Fatalf("skopeo: %v: %s", err, out)
	}

	// Things that are not images.
	srcDir := filepath.Join(dir, "project")
	os.MkdirAll(filepath.Join(srcDir, "src"), 0o755)
	os.WriteFile(filepath.Join(srcDir, "src", "main.go"), []byte("package main\n"), 0o644)
	sourceTar := filepath.Join(dir, "source.tar")
	tarDir(t, srcDir, sourceTar)
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte(strings.Repeat("not an image\n", 100)), 0o644)
	emptyTar := filepath.Join(dir, "empty.tar")
	os.WriteFile(emptyTar, make([]byte, 1024), 0o644)
	truncated := filepath.Join(dir, "truncated.tar.gz")
	b, _ := os.ReadFile(gz)
	os.WriteFile(truncated, b[:40], 0o644)

	cases := []struct {
		path string
		kind ImageKind
		err  string
	}{
		{dockerTar, KindImageArchive, ""},
		{gz, KindImageArchive, ""},
		{ociArchive, KindImageArchive, ""},
		{dockerArchive, KindImageArchive, ""},
		{ociDir, KindOCILayout, ""},
		{sourceTar, "", "source.tar is a tar archive but not an image (it starts with src"},
		{text, "", "notes.txt is not an image archive (not a tar file)"},
		{emptyTar, "", "empty.tar is an empty archive"},
		{srcDir, "", "project is a folder but not an image"},
		{truncated, "", "truncated.tar.gz"},
		{filepath.Join(dir, "missing.tar"), "", "missing.tar: no such file"},
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			kind, err := Classify(tc.path)
			if kind != tc.kind || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Classify = %q, %v; want %q, %q", kind, err, tc.kind, tc.err)
			}
			if err != nil && !errors.Is(err, api.ErrInvalidArgument) && !errors.Is(err, api.ErrNotFound) && !errors.Is(err, api.ErrCorrupt) {
				t.Fatalf("not a sentinel: %v", err)
			}
		})
	}
}

func gzipFile(t *testing.T, src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	out.Close()
}

func tarDir(t *testing.T, dir, dst string) {
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tw := tar.NewWriter(out)
	defer tw.Close()
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
}
