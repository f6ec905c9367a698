package image

import (
	"context"
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
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BenchmarkPull pulls a ~100 MB (compressed) 5-layer image from a
// loopback registry with Berth (download, verify, store, and build the
// base disk) and with skopeo copy to an OCI layout (download only), in the
// same run.
func BenchmarkPull(b *testing.B) {
	skopeoBin := testenv.Tool(b, "skopeo", "skopeo")
	reg := registrytest.Start(b, registrytest.Options{})
	paths, err := layertest.Generate(b.TempDir(), 5, 30<<20)
	if err != nil {
		b.Fatal(err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var total int64
	for _, p := range paths {
		l, err := tarball.LayerFromFile(p, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			b.Fatal(err)
		}
		n, _ := l.Size()
		total += n
		if img, err = mutate.AppendLayers(img, l); err != nil {
			b.Fatal(err)
		}
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, _ = mutate.ConfigFile(img, cf)
	ref := reg.Host + "/bench/big:1"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		b.Fatal(err)
	}
	var skopeoTotal, downloadTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dst := filepath.Join(b.TempDir(), "oci")
		start := time.Now()
		if out, err := exec.Command(skopeoBin, "--insecure-policy", "copy", "--src-tls-verify=false",
			"docker://"+ref, "oci:"+dst+":big").CombinedOutput(); err != nil {
			b.Fatalf("skopeo: %v %s", err, out)
		}
		skopeoTotal += time.Since(start)
		s := benchStore(b)
		var mu sync.Mutex
		var downloaded time.Time
		b.StartTimer()
		start = time.Now()
		if _, err := s.Pull(context.Background(), ref, PullOptions{Platform: "linux/amd64", Progress: func(p api.Progress) {
			if p.Action == "download" && p.Done {
				mu.Lock()
				downloaded = time.Now()
				mu.Unlock()
			}
		}}); err != nil {
			b.Fatal(err)
		}
		downloadTotal += downloaded.Sub(start)
	}
	b.StopTimer()
	berth := b.Elapsed().Seconds() / float64(b.N)
	sk := skopeoTotal.Seconds() / float64(b.N)
	b.ReportMetric(float64(total)/(1<<20), "compressed-MB")
	b.ReportMetric(berth, "berth-s")
	b.ReportMetric(downloadTotal.Seconds()/float64(b.N), "berth-download-s")
	b.ReportMetric(sk, "skopeo-s")
	b.ReportMetric(berth/sk, "ratio")
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
