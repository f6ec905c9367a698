package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/internal/layertest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// fuzzMaxUnpacked bounds what fuzzed layers unpack to, so that a small
// input that expands enormously fails fast (as it must) instead of
// filling the disk.
const fuzzMaxUnpacked = 4 << 20

func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

func zstded(b []byte) []byte {
	zw, _ := zstd.NewWriter(nil)
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

// rawLayers are layers whose compressed form is exactly raw: the bytes a
// registry or an archive hands over.
func rawLayers(raws ...[]byte) []v1.Layer {
	var out []v1.Layer
	for _, r := range raws {
		out = append(out, static.NewLayer(r, types.OCILayer))
	}
	return out
}

// addLayerSeeds adds the nasty layers (every kind of entry, whiteouts,
// opaque directories, hard links across layers) as pairs, plain and
// compressed, and broken ones.
func addLayerSeeds(f *testing.F) {
	nasty := layertest.Nasty(f)
	f.Add(nasty[0], nasty[1])
	f.Add(gzipped(nasty[1]), zstded(nasty[2]))
	f.Add(nasty[2], []byte{})
	f.Add(layertest.Tar(f, []layertest.File{{Name: "../escape", Body: "x"}}), []byte{})
	f.Add(layertest.Tar(f, []layertest.File{{Name: "a", Typ: tar.TypeLink, Link: "missing"}}), []byte{})
	// Past the bound, compressed: a seed of megabytes would make every
	// mutation and minimization of it slow.
	f.Add(gzipped(layertest.Tar(f, []layertest.File{{Name: "big", Body: strings.Repeat("0", fuzzMaxUnpacked)}})), []byte{})
	f.Add([]byte{0x1f, 0x8b, 8, 0}, []byte{0x28, 0xb5, 0x2f, 0xfd})
}

// FuzzFlatten merges two arbitrary layers, compressed or not. A merge
// that fails says the layer is corrupt or too large; one that succeeds
// is a tar whose names are clean paths inside the root, each once, with
// no whiteouts left, and whose hard links point at entries before them.
func FuzzFlatten(f *testing.F) {
	addLayerSeeds(f)
	f.Fuzz(func(t *testing.T, lower, upper []byte) {
		var out bytes.Buffer
		err := flatten(context.Background(), rawLayers(lower, upper), &out, nil, fuzzMaxUnpacked)
		if err != nil {
			if !errors.Is(err, api.ErrCorrupt) && !errors.Is(err, api.ErrInvalidArgument) {
				t.Fatalf("flatten: %v is neither corrupt nor too large", err)
			}
			return
		}
		seen := map[string]bool{}
		tr := tar.NewReader(&out)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("flatten wrote a bad tar: %v", err)
			}
			name := strings.TrimSuffix(h.Name, "/")
			if name == "" || strings.HasPrefix(name, "/") || path.Clean(name) != name || name == ".." || strings.HasPrefix(name, "../") {
				t.Fatalf("flatten wrote entry %q", h.Name)
			}
			if seen[name] {
				t.Fatalf("flatten wrote %q twice", name)
			}
			seen[name] = true
			if strings.HasPrefix(path.Base(name), whiteoutPrefix) {
				t.Fatalf("flatten wrote whiteout %q", name)
			}
			if h.Typeflag == tar.TypeLink && !seen[h.Linkname] {
				t.Fatalf("flatten wrote hard link %q to %q before its target", name, h.Linkname)
			}
			if _, err := io.Copy(io.Discard, tr); err != nil {
				t.Fatalf("flatten wrote a bad tar: %s: %v", name, err)
			}
		}
	})
}

// FuzzBuildBase writes two arbitrary layers as an image's base disk, the
// ext4 builder's whole path: the disk appears only when the build
// succeeds, nothing else is left beside it, and what it holds passes
// e2fsck.
func FuzzBuildBase(f *testing.F) {
	addLayerSeeds(f)
	e2fsck, _ := exec.LookPath("e2fsck")
	f.Fuzz(func(t *testing.T, lower, upper []byte) {
		dir := t.TempDir()
		disk := filepath.Join(dir, "base.ext4")
		err := BuildBaseMax(context.Background(), rawLayers(lower, upper), disk, fuzzMaxUnpacked, nil)
		entries, _ := os.ReadDir(dir)
		if err != nil {
			if len(entries) != 0 {
				t.Fatalf("a failed build (%v) left %v", err, entries)
			}
			return
		}
		if len(entries) != 1 || entries[0].Name() != "base.ext4" {
			t.Fatalf("a build left %v", entries)
		}
		if e2fsck != "" {
			if out, err := exec.Command(e2fsck, "-fn", disk).CombinedOutput(); err != nil {
				t.Fatalf("e2fsck -fn: %v\n%s", err, out)
			}
		}
	})
}
