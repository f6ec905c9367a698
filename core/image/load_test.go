package image

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func skopeo(t *testing.T, args ...string) {
	t.Helper()
	bin := testenv.Tool(t, "skopeo", "skopeo")
	cmd := exec.Command(bin, append([]string{"--insecure-policy"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("skopeo %v: %v\n%s", args, err, out)
	}
}

func gzipFile(t *testing.T, src, dst string) {
	t.Helper()
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

// TestLoadWhatSkopeoWrites loads archives written by an independent tool
// and checks each base disk against the layers, entry by entry.
func TestLoadWhatSkopeoWrites(t *testing.T) {
	testenv.Tool(t, "debugfs", "e2fsprogs")
	testenv.Tool(t, "skopeo", "skopeo")
	img, raws := nastyImage(t)
	wantID, _ := img.ConfigName()
	work := t.TempDir()
	src := filepath.Join(work, "src")
	p, err := layout.Write(src, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "nasty"})); err != nil {
		t.Fatal(err)
	}
	const ref = "localhost/nasty:1"
	skopeo(t, "copy", "oci:"+src+":nasty", "oci-archive:"+filepath.Join(work, "oci.tar")+":"+ref)
	skopeo(t, "copy", "oci:"+src+":nasty", "docker-archive:"+filepath.Join(work, "docker.tar")+":"+ref)
	skopeo(t, "copy", "oci:"+src+":nasty", "oci:"+filepath.Join(work, "ocidir")+":"+ref)
	gzipFile(t, filepath.Join(work, "docker.tar"), filepath.Join(work, "docker.tar.gz"))
	gzipFile(t, filepath.Join(work, "oci.tar"), filepath.Join(work, "oci.tar.gz"))

	for _, tc := range []struct{ name, path string }{
		{"oci-archive", "oci.tar"},
		{"docker-archive", "docker.tar"},
		{"oci-dir", "ocidir"},
		{"docker-archive-gzip", "docker.tar.gz"},
		{"oci-archive-gzip", "oci.tar.gz"},
		{"ggcr-layout-bare-tag", "../src"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t, nil)
			var reports atomic.Int64
			got, err := s.Load(context.Background(), filepath.Join(work, tc.path), LoadOptions{Progress: func(api.Progress) { reports.Add(1) }})
			if tc.path == "../src" {
				got, err = s.Load(context.Background(), src, LoadOptions{})
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].ID != wantID.String() || got[0].Platform != "linux/amd64" {
				t.Fatalf("loaded %+v, want one image with id %s", got, wantID)
			}
			wantNames := []string{"localhost/nasty:1"}
			if tc.path == "../src" {
				wantNames = nil // a bare tag names no repository
			}
			if len(got[0].Names) != len(wantNames) || (len(wantNames) > 0 && got[0].Names[0] != wantNames[0]) {
				t.Fatalf("names %v, want %v", got[0].Names, wantNames)
			}
			checkDisk(t, s, got[0].Digest, raws)
			d, err := s.Inspect(context.Background(), got[0].Digest)
			if err != nil || d.RootFS.Path != s.DiskPath(got[0].Digest) || d.RootFS.Size == 0 || len(d.Layers) != len(raws) {
				t.Fatalf("inspect = %+v, %v", d, err)
			}
			if d.Config.Cmd[0] != "sh" {
				t.Fatalf("config %+v", d.Config)
			}
			// Loading again changes nothing.
			before := snap(t, s)
			if _, err := s.Load(context.Background(), filepath.Join(work, tc.path), LoadOptions{}); err != nil && tc.path != "../src" {
				t.Fatal(err)
			}
			after := snap(t, s)
			before.Images, after.Images = nil, nil
			before.Names, after.Names = nil, nil
			sameSnap(t, before, after)
		})
	}
}

// TestSaveIsDockerLoadable saves two images and reads them back with
// skopeo and with Load.
func TestSaveIsDockerLoadable(t *testing.T) {
	testenv.Tool(t, "skopeo", "skopeo")
	s, _ := newStore(t, nil)
	work := t.TempDir()
	img, _ := nastyImage(t)
	other := testImage(t, "linux/amd64", busyboxLayer(t))
	for name, im := range map[string]v1.Image{"a": img, "b": other} {
		p, err := layout.Write(filepath.Join(work, name), empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(im, layout.WithAnnotations(map[string]string{"io.containerd.image.name": "example.com/" + name + ":v1"})); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(context.Background(), filepath.Join(work, name), LoadOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(work, "saved.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(context.Background(), f, "example.com/a:v1", "example.com/b:v1"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	skopeo(t, "copy", "docker-archive:"+out+":example.com/b:v1", "oci:"+filepath.Join(work, "check")+":b")
	s2, _ := newStore(t, nil)
	got, err := s2.Load(context.Background(), out, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("loaded %d images from the save, want 2", len(got))
	}
	// The same tarball, gzip-compressed, from a stream (an embedded image).
	gzipFile(t, out, out+".gz")
	gz, err := os.Open(out + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	s3, _ := newStore(t, nil)
	streamed, err := s3.LoadArchive(context.Background(), gz, "embedded", LoadOptions{})
	if err != nil || len(streamed) != 2 {
		t.Fatalf("LoadArchive = %d images, %v", len(streamed), err)
	}
	if _, err := s3.LoadArchive(context.Background(), strings.NewReader(strings.Repeat("junk", 300)), "junk", LoadOptions{}); !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), "junk") {
		t.Fatalf("LoadArchive of junk: %v", err)
	}
	for _, im := range got {
		orig, err := s.Get(context.Background(), im.Names[0])
		if err != nil || orig.ID != im.ID {
			t.Fatalf("%v: id %s after save+load, %s before (%v)", im.Names, im.ID, orig.ID, err)
		}
	}
}
