package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/internal/layertest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func writeTar(t *testing.T, p string, files map[string][]byte, order ...string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range order {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		tw.Write(files[n])
	}
	tw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeLayout(t *testing.T, img v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"io.containerd.image.name": "example.com/bad:1"})); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestLoadBadInput: each bad input fails with the right kind of error,
// names the input, and leaves the store exactly as it was.
func TestLoadBadInput(t *testing.T) {
	work := t.TempDir()
	small := testImage(t, "linux/amd64", layertest.Tar(t, []layertest.File{{Name: "f", Body: strings.Repeat("data", 5000)}}))

	// A valid docker save, to break in several ways.
	src, _ := newStore(t, nil)
	loadImage(t, src, small, "example.com/small:1")
	var saved bytes.Buffer
	if err := src.Save(context.Background(), &saved, "example.com/small:1"); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(work, "truncated.tar")
	os.WriteFile(truncated, saved.Bytes()[:saved.Len()/2+100], 0o644)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(saved.Bytes())
	zw.Close()
	corruptGz := gz.Bytes()
	corruptGz[len(corruptGz)/2] ^= 0xff
	corruptGzPath := filepath.Join(work, "corrupt.tar.gz")
	os.WriteFile(corruptGzPath, corruptGz, 0o644)

	mismatch := writeLayout(t, small)
	m, _ := small.Manifest()
	layerPath := filepath.Join(mismatch, "blobs", "sha256", m.Layers[0].Digest.Hex)
	os.Chmod(layerPath, 0o644)
	b, _ := os.ReadFile(layerPath)
	b[len(b)/2] ^= 0xff
	os.WriteFile(layerPath, b, 0o644)

	unknown := writeLayout(t, small)
	var idx v1.IndexManifest
	raw, _ := os.ReadFile(filepath.Join(unknown, "index.json"))
	json.Unmarshal(raw, &idx)
	idx.Manifests[0].Digest = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	raw, _ = json.Marshal(idx)
	os.WriteFile(filepath.Join(unknown, "index.json"), raw, 0o644)

	helm := writeLayout(t, mutate.ConfigMediaType(small, types.MediaType("application/vnd.cncf.helm.config.v1+json")))
	foreign := writeLayout(t, mutate.MediaType(small, types.DockerManifestSchema1))

	escape := filepath.Join(work, "escape.tar")
	writeTar(t, escape, map[string][]byte{"manifest.json": []byte("[]"), "../evil": []byte("x")}, "../evil", "manifest.json")

	badLayer := writeLayout(t, testImage(t, "linux/amd64", layertest.Tar(t, []layertest.File{{Name: "../../etc/cron.d/evil", Body: "x"}})))

	notTar := filepath.Join(work, "random.bin")
	junk := make([]byte, 4096)
	rand.Read(junk)
	os.WriteFile(notTar, junk, 0o644)

	// A docker save whose layer does not match the config's diff id.
	layer := layertest.Tar(t, []layertest.File{{Name: "a", Body: "a"}})
	cfg, _ := json.Marshal(v1.ConfigFile{OS: "linux", Architecture: "amd64",
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}}}})
	manifest, _ := json.Marshal([]dockerManifest{{Config: "c.json", RepoTags: []string{"example.com/d:1"}, Layers: []string{"l/layer.tar"}}})
	diffMismatch := filepath.Join(work, "diffid.tar")
	writeTar(t, diffMismatch, map[string][]byte{"manifest.json": manifest, "c.json": cfg, "l/layer.tar": layer}, "c.json", "l/layer.tar", "manifest.json")

	for _, tc := range []struct {
		name, path string
		want       error
		says       string
	}{
		{"truncated", truncated, api.ErrCorrupt, "truncated"},
		{"corrupt gzip", corruptGzPath, api.ErrCorrupt, "corrupt"},
		{"digest mismatch", mismatch, api.ErrCorrupt, "digest"},
		{"unknown manifest", unknown, api.ErrNotFound, "missing"},
		{"helm artifact", helm, api.ErrUnsupported, "not a container image"},
		{"schema 1", foreign, api.ErrUnsupported, "media type"},
		{"escaping entry", escape, api.ErrInvalidArgument, "escapes"},
		{"escaping layer entry", badLayer, api.ErrCorrupt, "escapes the root"},
		{"not a tar", notTar, api.ErrInvalidArgument, "not a tar"},
		{"diff id mismatch", diffMismatch, api.ErrCorrupt, "diff id"},
		{"missing", filepath.Join(work, "nope.tar"), api.ErrNotFound, "no such file"},
		{"empty dir", t.TempDir(), api.ErrInvalidArgument, "neither"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t, nil)
			loadImage(t, s, testImage(t, "linux/amd64", busyboxLayer(t)), "example.com/keep:1")
			before := snap(t, s)
			_, err := s.Load(context.Background(), tc.path, LoadOptions{})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("err = %v; want %v saying %q and naming %s", err, tc.want, tc.says, tc.path)
			}
			sameSnap(t, before, snap(t, s))
		})
	}
}
