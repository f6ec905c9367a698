package layertest

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/gzip"
)

// Generate writes n gzip layer tarballs of about size uncompressed bytes
// each into dir, for benchmarks: real files from the host's /usr (text,
// binaries, libraries: what images hold) mixed with incompressible random
// files (a third of each layer), all from data found offline. It returns
// their paths, bottom layer first.
func Generate(dir string, n int, size int64) ([]string, error) {
	var host []string
	for _, root := range []string{"/usr/lib", "/usr/share", "/usr/bin"} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				host = append(host, p)
			}
			return nil
		})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var out []string
	next := 0
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", i))
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		zw, _ := gzip.NewWriterLevel(f, gzip.DefaultCompression)
		tw := tar.NewWriter(zw)
		var written int64
		dirs := map[string]bool{}
		add := func(name string, body io.Reader, sz int64, mode int64) error {
			d := filepath.Dir(name)
			var chain []string
			for ; d != "." && !dirs[d]; d = filepath.Dir(d) {
				chain = append(chain, d)
				dirs[d] = true
			}
			for j := len(chain) - 1; j >= 0; j-- {
				if err := tw.WriteHeader(&tar.Header{Name: chain[j] + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
					return err
				}
			}
			if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: sz}); err != nil {
				return err
			}
			_, err := io.CopyN(tw, body, sz)
			written += sz
			return err
		}
		for k := 0; written < size/3; k++ {
			sz := int64(64<<10 + rng.IntN(2<<20))
			if err := add(fmt.Sprintf("data/l%d/random-%d.bin", i, k), io.LimitReader(rngReader{rng}, sz), sz, 0o644); err != nil {
				return nil, err
			}
		}
		for written < size && len(host) > 0 {
			src := host[next%len(host)]
			next++
			fi, err := os.Stat(src)
			if err != nil || fi.Size() > size/2 {
				continue
			}
			r, err := os.Open(src)
			if err != nil {
				continue
			}
			name := fmt.Sprintf("l%d%s", i, src)
			err = add(name, r, fi.Size(), int64(fi.Mode().Perm()))
			r.Close()
			if err != nil {
				return nil, err
			}
		}
		if err := tw.Close(); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

type rngReader struct{ r *rand.Rand }

func (g rngReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(g.r.Uint32())
	}
	return len(p), nil
}
