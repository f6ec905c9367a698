package image

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/berthvm/berth/core/api"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layerStream lets a pull's disk build read a layer while it downloads,
// instead of after: the download tells it which temp file it writes (a
// retry starts a new one) and how much of it is written; a streamReader
// follows. Nothing is held in memory: the reader reads the file back, from
// the page cache.
type layerStream struct {
	mu      sync.Mutex
	changed chan struct{} // closed on the next change, if someone waits
	waiting bool
	path    string // the file being written, then the stored blob
	gen     int    // files started: a reader of an older one reopens
	written int64
	done    bool  // the blob is stored at path
	err     error // the download failed for good
}

func newLayerStream() *layerStream { return &layerStream{changed: make(chan struct{})} }

// notifyLocked wakes the readers waiting for a change. st.mu is held.
func (st *layerStream) notifyLocked() {
	if st.waiting {
		close(st.changed)
		st.changed = make(chan struct{})
		st.waiting = false
	}
}

// attempt says a download (or a retry) writes the blob to path, from the start.
func (st *layerStream) attempt(path string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.path, st.written = path, 0
	st.gen++
	st.notifyLocked()
}

func (st *layerStream) wrote(n int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.written += int64(n)
	st.notifyLocked()
}

// complete says the blob, size bytes, is stored at path.
func (st *layerStream) complete(path string, size int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.path, st.written, st.done = path, size, true
	st.gen++
	st.notifyLocked()
}

// fail says the blob will not arrive.
func (st *layerStream) fail(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.err = err
	st.notifyLocked()
}

// streamWriter tells a stream of each write to its file.
type streamWriter struct {
	f  *os.File
	st *layerStream
}

func (w streamWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.st.wrote(n)
	return n, err
}

// streamReader reads a layer as it arrives. It hashes what it reads and
// ends only once it has read the layer's size in bytes with the layer's
// digest, whichever attempts they came from: the build never takes a
// byte that is not the layer's, and cannot finish before its layers are
// verified.
type streamReader struct {
	ctx  context.Context
	st   *layerStream
	desc v1.Descriptor
	f    *os.File
	gen  int // of f
	off  int64
	h    hash.Hash
}

func newStreamReader(ctx context.Context, st *layerStream, desc v1.Descriptor) *streamReader {
	return &streamReader{ctx: ctx, st: st, desc: desc, h: sha256.New()}
}

func (r *streamReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if r.off >= r.desc.Size {
			if got := hashOf(r.h); got != r.desc.Digest {
				return 0, fmt.Errorf("layer %s: content has digest %s: %w", r.desc.Digest, got, api.ErrCorrupt)
			}
			return 0, io.EOF
		}
		st := r.st
		st.mu.Lock()
		path, gen, written, err := st.path, st.gen, st.written, st.err
		var changed chan struct{}
		if err == nil && (gen == 0 || r.off >= written) {
			changed = st.changed
			st.waiting = true
		}
		st.mu.Unlock()
		if err != nil {
			return 0, fmt.Errorf("layer %s did not arrive: %w", r.desc.Digest, err)
		}
		if changed == nil && r.gen != gen {
			if r.f != nil {
				r.f.Close()
				r.f = nil
			}
			f, err := os.Open(path)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				// Renamed into the store or removed after a failed
				// attempt: what comes next says which.
				st.mu.Lock()
				if st.gen == gen && st.err == nil {
					changed = st.changed
					st.waiting = true
				}
				st.mu.Unlock()
			case err != nil:
				return 0, fmt.Errorf("layer %s: %w", r.desc.Digest, err)
			default:
				r.f, r.gen = f, gen
			}
		}
		if changed != nil {
			select {
			case <-changed:
			case <-r.ctx.Done():
				return 0, fmt.Errorf("layer %s did not arrive: %w", r.desc.Digest, context.Cause(r.ctx))
			}
			continue
		}
		if r.f == nil {
			continue
		}
		n, err := r.f.ReadAt(p[:min(int64(len(p)), written-r.off, r.desc.Size-r.off)], r.off)
		if n > 0 {
			r.h.Write(p[:n])
			r.off += int64(n)
			return n, nil
		}
		if err != nil && err != io.EOF {
			return 0, fmt.Errorf("layer %s: %w", r.desc.Digest, err)
		}
	}
}

func (r *streamReader) Close() error {
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}
