package image

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/image/registrytest"
	"github.com/berthvm/berth/core/internal/layertest"
	"github.com/berthvm/berth/core/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BenchmarkPull pulls images from a loopback registry with Berth
// (download, verify, store, and build the base disk) and, in the same
// run, interleaved, with the baseline: skopeo copy to an OCI layout, then
// gzip -dc of its layers to /dev/null (download and unpack, no disk).
// ns/op is Berth's pull; ratio is Berth's time over the baseline's. The images:
//   - rootfs=198MiB: one layer shaped like a Debian root filesystem, 8,000
//     files, 78 MiB compressed (layertest.GenerateRootfs: deterministic,
//     nothing from the host), issue 15's image;
//   - rootfs=24MiB: the same with 800 files, to show that the peak heap does
//     not grow with the image;
//   - layers=5: five ~30 MB layers of host files and random data
//     (layertest.Generate), for the overlap of layers.
func BenchmarkPull(b *testing.B) {
	skopeoBin := testenv.Tool(b, "skopeo", "skopeo")
	gzipBin := testenv.Tool(b, "gzip", "gzip")
	reg := registrytest.Start(b, registrytest.Options{})
	dir := b.TempDir()
	push := func(repo string, paths []string) (ref string, compressed int64) {
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		for _, p := range paths {
			l, err := tarball.LayerFromFile(p, tarball.WithMediaType(types.OCILayer))
			if err != nil {
				b.Fatal(err)
			}
			n, _ := l.Size()
			compressed += n
			if img, err = mutate.AppendLayers(img, l); err != nil {
				b.Fatal(err)
			}
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", "amd64"
		img, _ = mutate.ConfigFile(img, cf)
		ref = reg.Host + "/bench/" + repo + ":1"
		r, _ := name.ParseReference(ref)
		if err := remote.Write(r, img); err != nil {
			b.Fatal(err)
		}
		return ref, compressed
	}
	type image struct {
		name     string
		ref      string
		size     int64 // compressed
		unpacked int64
	}
	var images []image
	for _, files := range []int{8000, 800} {
		p := filepath.Join(dir, fmt.Sprintf("rootfs%d.tar.gz", files))
		unpacked, err := layertest.GenerateRootfs(p, files)
		if err != nil {
			b.Fatal(err)
		}
		ref, size := push(fmt.Sprintf("rootfs%d", files), []string{p})
		images = append(images, image{fmt.Sprintf("rootfs=%dMiB", unpacked>>20), ref, size, unpacked})
	}
	paths, err := layertest.Generate(b.TempDir(), 5, 30<<20)
	if err != nil {
		b.Fatal(err)
	}
	ref, size := push("layers5", paths)
	images = append(images, image{"layers=5", ref, size, 0})

	for _, im := range images {
		b.Run(im.name, func(b *testing.B) {
			var berthTotal, baseTotal, skopeoTotal, downloadTotal time.Duration
			var peak uint64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				skopeo, base := pullBaseline(b, skopeoBin, gzipBin, im.ref)
				skopeoTotal += skopeo
				baseTotal += base
				s := benchStore(b)
				b.StartTimer()
				var mu sync.Mutex
				var downloaded time.Time
				start := time.Now()
				peak = max(peak, layertest.PeakHeap(func() {
					if _, err := s.Pull(context.Background(), im.ref, PullOptions{Platform: "linux/amd64", Progress: func(p api.Progress) {
						if p.Action == "download" && p.Done {
							mu.Lock()
							downloaded = time.Now()
							mu.Unlock()
						}
					}}); err != nil {
						b.Fatal(err)
					}
				}))
				berthTotal += time.Since(start)
				downloadTotal += downloaded.Sub(start)
			}
			n := float64(b.N)
			b.ReportMetric(float64(im.size)/(1<<20), "compressed-MB")
			if im.unpacked > 0 {
				b.ReportMetric(float64(im.unpacked)/(1<<20), "unpacked-MB")
			}
			b.ReportMetric(berthTotal.Seconds()/n, "berth-s")
			b.ReportMetric(downloadTotal.Seconds()/n, "berth-download-s")
			b.ReportMetric(skopeoTotal.Seconds()/n, "skopeo-s")
			b.ReportMetric(baseTotal.Seconds()/n, "skopeo+gunzip-s")
			b.ReportMetric(berthTotal.Seconds()/baseTotal.Seconds(), "ratio")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}

// pullBaseline copies ref with skopeo to an OCI layout and decompresses its
// layers with gzip -dc to /dev/null, and returns how long the copy took and
// the whole.
func pullBaseline(b *testing.B, skopeoBin, gzipBin, ref string) (skopeo, total time.Duration) {
	dst := filepath.Join(b.TempDir(), "oci")
	start := time.Now()
	if out, err := exec.Command(skopeoBin, "--insecure-policy", "copy", "--src-tls-verify=false",
		"docker://"+ref, "oci:"+dst+":img").CombinedOutput(); err != nil {
		b.Fatalf("skopeo: %v %s", err, out)
	}
	skopeo = time.Since(start)
	idx, err := layout.ImageIndexFromPath(dst)
	if err != nil {
		b.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		b.Fatal(err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		b.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		b.Fatal(err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	for _, l := range m.Layers {
		cmd := exec.Command(gzipBin, "-dc", filepath.Join(dst, "blobs", l.Digest.Algorithm, l.Digest.Hex))
		cmd.Stdout = null
		if err := cmd.Run(); err != nil {
			b.Fatalf("gzip -dc: %v", err)
		}
	}
	total = time.Since(start)
	os.RemoveAll(dst)
	return skopeo, total
}
func benchStore(b *testing.B) *Store {
	home := b.TempDir()
	db, err := openDB(home)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	s, err := Open(context.Background(), Options{Home: home, DB: db})
	if err != nil {
		b.Fatal(err)
	}
	return s
}
