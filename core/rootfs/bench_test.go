package rootfs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/internal/layertest"
	"github.com/berthvm/berth/core/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// baseline is the classic way: unpack the layers with tar, then
// mkfs.ext4 -d. It returns the time it took.
func baseline(b *testing.B, paths []string) time.Duration {
	dir := b.TempDir()
	root := filepath.Join(dir, "root")
	os.Mkdir(root, 0o755)
	img := filepath.Join(dir, "img.ext4")
	start := time.Now()
	for _, p := range paths {
		if out, err := exec.Command("tar", "-xzf", p, "-C", root).CombinedOutput(); err != nil {
			b.Fatalf("tar: %v %s", err, out)
		}
	}
	out, err := exec.Command("du", "-sk", root).Output()
	if err != nil {
		b.Fatal(err)
	}
	kb, _ := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	size := fmt.Sprintf("%dk", kb*13/10+16<<10)
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-d", root, img, size).CombinedOutput(); err != nil {
		b.Fatalf("mkfs.ext4 -d: %v %s", err, out)
	}
	return time.Since(start)
}

// BenchmarkBaseDisk builds the base disk of generated 4-layer images of
// growing size, against tar -x + mkfs.ext4 -d of the same layers in the
// same run, and reports the peak Go heap, which must not grow with the
// image.
func BenchmarkBaseDisk(b *testing.B) {
	testenv.Tool(b, "mkfs.ext4", "e2fsprogs")
	for _, mb := range []int64{64, 128, 256} {
		b.Run(fmt.Sprintf("image=%dMB", mb), func(b *testing.B) {
			dir := b.TempDir()
			paths, err := layertest.Generate(dir, 4, mb<<20/4)
			if err != nil {
				b.Fatal(err)
			}
			var layers []v1.Layer
			var compressed int64
			for _, p := range paths {
				l, err := tarball.LayerFromFile(p)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := l.Size()
				d, _ := l.Digest()
				compressed += n
				// Stored layers know their digest and size from the manifest;
				// hashing the file on each build would bill the benchmark for it.
				layers = append(layers, knownLayer{Layer: l, digest: d, size: n})
			}
			base := baseline(b, paths)
			var peak uint64
			var disk int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out := filepath.Join(dir, fmt.Sprintf("base%d.ext4", i))
				peak = max(peak, layertest.PeakHeap(func() {
					if err := BuildBase(context.Background(), layers, out, nil); err != nil {
						b.Fatal(err)
					}
				}))
				fi, _ := os.Stat(out)
				disk = fi.Size()
				os.Remove(out)
			}
			b.StopTimer()
			berth := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(base.Seconds(), "baseline-s")
			b.ReportMetric(berth.Seconds(), "berth-s")
			b.ReportMetric(berth.Seconds()/base.Seconds(), "ratio")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(compressed)/(1<<20), "compressed-MB")
			b.ReportMetric(float64(disk)/(1<<20), "disk-MB")
		})
	}
}

type knownLayer struct {
	v1.Layer
	digest v1.Hash
	size   int64
}

func (l knownLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l knownLayer) Size() (int64, error)     { return l.size, nil }

// BenchmarkWritableDisk is the per-container cost of a writable disk once
// the template exists.
func BenchmarkWritableDisk(b *testing.B) {
	dir := b.TempDir()
	start := time.Now()
	if _, err := EnsureTemplate(context.Background(), filepath.Join(dir, "t"), DefaultWritableSize); err != nil {
		b.Fatal(err)
	}
	template := time.Since(start)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := filepath.Join(dir, fmt.Sprintf("c%d.ext4", i))
		if err := CreateWritable(context.Background(), filepath.Join(dir, "t"), p, DefaultWritableSize); err != nil {
			b.Fatal(err)
		}
		os.Remove(p)
	}
	b.ReportMetric(template.Seconds(), "template-once-s")
}
