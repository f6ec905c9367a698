package image

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/internal/layertest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestStreamReader drives a layerStream by hand: the reader follows the
// writes, carries on across a retry from where it was, and ends only with
// the layer's digest.
func TestStreamReader(t *testing.T) {
	blob := bytes.Repeat([]byte("berth layer "), 10000)
	desc := v1.Descriptor{Digest: digestOf(blob), Size: int64(len(blob))}
	half := len(blob) / 2
	dir := t.TempDir()
	// write starts an attempt that writes body to a new file.
	write := func(st *layerStream, n int, body []byte) {
		p := filepath.Join(dir, "attempt"+strconv.Itoa(n))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st.attempt(p)
		if _, err := (streamWriter{f, st}).Write(body); err != nil {
			t.Fatal(err)
		}
	}
	// read reads n bytes, or to the end if n < 0.
	read := func(r io.Reader, n int) ([]byte, error) {
		if n < 0 {
			return io.ReadAll(r)
		}
		buf := make([]byte, n)
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	corrupt := bytes.Clone(blob[:half])
	corrupt[10] ^= 0xff

	t.Run("retry resumes", func(t *testing.T) {
		st := newLayerStream()
		r := newStreamReader(context.Background(), st, desc)
		defer r.Close()
		write(st, 1, blob[:half])
		first, err := read(r, half)
		if err != nil {
			t.Fatal(err)
		}
		write(st, 2, blob) // the retry writes from the start again
		os.Remove(filepath.Join(dir, "attempt1"))
		st.complete(filepath.Join(dir, "attempt2"), desc.Size)
		rest, err := read(r, -1)
		if err != nil {
			t.Fatal(err)
		}
		if got := append(first, rest...); !bytes.Equal(got, blob) {
			t.Fatalf("read %d bytes, not the blob", len(got))
		}
	})
	t.Run("corrupt bytes already read", func(t *testing.T) {
		st := newLayerStream()
		r := newStreamReader(context.Background(), st, desc)
		defer r.Close()
		write(st, 3, corrupt)
		if _, err := read(r, half); err != nil {
			t.Fatal(err)
		}
		write(st, 4, blob) // a good retry cannot mend what was read
		if _, err := read(r, -1); !errors.Is(err, api.ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
	})
	t.Run("download fails", func(t *testing.T) {
		st := newLayerStream()
		r := newStreamReader(context.Background(), st, desc)
		defer r.Close()
		write(st, 5, blob[:half])
		boom := errors.New("boom")
		st.fail(boom)
		if _, err := read(r, -1); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
	})
	t.Run("build canceled", func(t *testing.T) {
		st := newLayerStream()
		ctx, cancel := context.WithCancelCause(context.Background())
		r := newStreamReader(ctx, st, desc)
		defer r.Close()
		write(st, 6, blob[:half])
		if _, err := read(r, half); err != nil {
			t.Fatal(err)
		}
		cancel(context.Canceled)
		if _, err := read(r, -1); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want canceled", err)
		}
	})
}

// TestPullCutLayer pulls while the registry drops the first transfer of
// the layer halfway, whole or with a byte flipped: the pull retries, and
// the disk, built while the layer streams in, is its layers' or, if it
// already took the flipped byte, the pull fails as corrupt and leaves the
// store as it was. Never a wrong disk.
func TestPullCutLayer(t *testing.T) {
	raw := layertest.Tar(t, bigFiles(2<<20))
	img := testImage(t, "linux/amd64", raw)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	for _, flip := range []bool{false, true} {
		t.Run("flip="+strconv.FormatBool(flip), func(t *testing.T) {
			var cuts atomic.Int64
			inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) || cuts.Add(1) > 1 {
					inner.ServeHTTP(w, r)
					return
				}
				rec := httptest.NewRecorder()
				inner.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				half := bytes.Clone(body[:len(body)/2])
				if flip {
					half[len(half)/2] ^= 0xff
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.WriteHeader(http.StatusOK)
				w.Write(half)
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // the connection drops mid-blob
			}))
			defer srv.Close()
			ref := strings.TrimPrefix(srv.URL, "http://") + "/berth/cut:1"
			r, _ := name.ParseReference(ref)
			if err := remote.Write(r, img); err != nil {
				t.Fatal(err)
			}
			s, _ := newStore(t, nil)
			before := snap(t, s)
			got, err := s.Pull(context.Background(), ref, PullOptions{Platform: "linux/amd64"})
			if cuts.Load() < 2 {
				t.Fatalf("the layer was fetched %d times, want a retry", cuts.Load())
			}
			switch {
			case err == nil:
				checkDisk(t, s, got.Digest, [][]byte{raw})
			case flip && errors.Is(err, api.ErrCorrupt):
				t.Logf("pull: %v", err)
				sameSnap(t, before, snap(t, s))
			default:
				t.Fatalf("pull: %v", err)
			}
		})
	}
}

// bigFiles is a few files of size bytes in all, different enough not to
// compress to nothing.
func bigFiles(size int) []layertest.File {
	var files []layertest.File
	for i := 0; size > 0; i++ {
		n := min(size, 256<<10)
		var b strings.Builder
		for j := 0; b.Len() < n; j++ {
			b.WriteString(strconv.Itoa(i*1000003 + j*7919))
		}
		files = append(files, layertest.File{Name: "data" + strconv.Itoa(i), Body: b.String()[:n], Mode: 0o644})
		size -= n
	}
	return files
}
