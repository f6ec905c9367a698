package rootfs

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/units"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// flattener merges layers into one tar stream, top layer first: the first
// time a path is met wins, whiteouts and opaque markers hide what lower
// layers hold, and hard links are written after their targets (a link in
// an upper layer may point at a file of a lower layer).
type flattener struct {
	tw      *tar.Writer
	seen    map[string]seenEntry
	deleted map[string]bool // whited out by an upper layer
	opaque  map[string]bool // made opaque by an upper layer
	// pending holds hard links whose target is not written yet, by target.
	pending map[string][]string
	// Stale counts hard links that point at a file an upper layer replaced:
	// they share the newer content.
	stale int
	// unpacked counts the uncompressed bytes of the layers read so far;
	// past maxUnpacked (if > 0) the flattening fails.
	unpacked, maxUnpacked int64
}

type seenEntry struct {
	dir     bool
	layer   int
	written bool
}

// cleanName normalizes a layer entry name to a path relative to the root
// ("." for the root itself) and refuses one that climbs out of it.
func cleanName(layer, name string) (string, error) {
	n := strings.TrimLeft(name, "/")
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("layer %s: entry %q escapes the root filesystem: %w", layer, name, api.ErrCorrupt)
		}
	}
	return path.Clean("./" + n), nil
}

// hidden reports whether upper layers hide p: p or an ancestor was whited
// out, an ancestor was made opaque, or an ancestor is not a directory.
func (f *flattener) hidden(p string) bool {
	for q := p; ; q = path.Dir(q) {
		if f.deleted[q] {
			return true
		}
		if q != p {
			if f.opaque[q] {
				return true
			}
			if e, ok := f.seen[q]; ok && !e.dir {
				return true
			}
		}
		if q == "." || q == "/" {
			return false
		}
	}
}

func (f *flattener) write(hdr *tar.Header, body io.Reader) error {
	hdr.Format = tar.FormatUnknown
	if err := f.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if body != nil && hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		if _, err := io.CopyN(f.tw, readErrs{body}, hdr.Size); err != nil {
			var tl *tooLarge
			var re readErr
			if errors.As(err, &re) && errors.As(re.err, &tl) {
				return tl.err
			}
			if errors.As(err, &re) {
				return fmt.Errorf("%s: %v: %w", hdr.Name, re.err, api.ErrCorrupt)
			}
			return err
		}
	}
	return nil
}

// linkTo writes the pending hard links to target, which is now written.
func (f *flattener) linkTo(target string) error {
	for _, l := range f.pending[target] {
		if err := f.write(&tar.Header{Name: l, Typeflag: tar.TypeLink, Linkname: target}, nil); err != nil {
			return err
		}
		e := f.seen[l]
		e.written = true
		f.seen[l] = e
	}
	delete(f.pending, target)
	return nil
}

// layer merges one layer (index i, counted from the bottom).
func (f *flattener) layer(ctx context.Context, i int, id string, r io.Reader) error {
	var whiteouts, opaques []string
	passed := map[string]bool{} // shadowed entries met in this layer
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", api.ErrCanceled, err)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var tl *tooLarge
			if errors.As(err, &tl) {
				return tl.err
			}
			return fmt.Errorf("layer %s: %v: %w", id, err, api.ErrCorrupt)
		}
		p, err := cleanName(id, hdr.Name)
		if err != nil {
			return err
		}
		dir, base := path.Split(p)
		dir = path.Clean("./" + dir)
		if base == opaqueMarker {
			opaques = append(opaques, dir)
			continue
		}
		if strings.HasPrefix(base, whiteoutPrefix) {
			whiteouts = append(whiteouts, path.Join(dir, base[len(whiteoutPrefix):]))
			continue
		}
		hdr.Name = p
		if hdr.Typeflag == tar.TypeDir {
			hdr.Name += "/"
		}
		_, shadowed := f.seen[p]
		if shadowed || f.hidden(p) {
			passed[p] = true
			// An upper layer replaced or removed p; hard links an upper
			// layer made to it keep this older version.
			if links := f.pending[p]; len(links) > 0 && hdr.Typeflag != tar.TypeDir && hdr.Typeflag != tar.TypeLink {
				first := links[0]
				hdr.Name = first
				if err := f.write(hdr, tr); err != nil {
					return err
				}
				e := f.seen[first]
				e.written = true
				f.seen[first] = e
				f.pending[first] = links[1:]
				delete(f.pending, p)
				if err := f.linkTo(first); err != nil {
					return err
				}
			}
			continue
		}
		f.seen[p] = seenEntry{dir: hdr.Typeflag == tar.TypeDir, layer: i}
		if hdr.Typeflag == tar.TypeLink {
			target, err := cleanName(id, hdr.Linkname)
			if err != nil {
				return err
			}
			if t, ok := f.seen[target]; ok && t.written && (t.layer == i || passed[target]) {
				if t.layer != i {
					// The version linked to was earlier in this layer and is
					// gone; share the newer one rather than fail.
					f.stale++
				}
				hdr.Linkname = target
				if err := f.write(hdr, nil); err != nil {
					return err
				}
				f.seen[p] = seenEntry{layer: i, written: true}
				continue
			}
			f.pending[target] = append(f.pending[target], p)
			continue
		}
		if err := f.write(hdr, tr); err != nil {
			return err
		}
		f.seen[p] = seenEntry{dir: hdr.Typeflag == tar.TypeDir, layer: i, written: true}
		if len(f.pending[p]) > 0 {
			if err := f.linkTo(p); err != nil {
				return err
			}
		}
	}
	for _, w := range whiteouts {
		f.deleted[w] = true
	}
	for _, o := range opaques {
		f.opaque[o] = true
	}
	return nil
}

// Flatten writes the merged filesystem of layers (bottom layer first, as
// a manifest lists them) to w as one tar stream. onRead is told how many
// compressed bytes have been consumed.
func Flatten(ctx context.Context, layers []v1.Layer, w io.Writer, onRead func(n int64)) error {
	return flatten(ctx, layers, w, onRead, 0)
}

// flatten is Flatten with a bound on the bytes the layers unpack to, in
// all (0: none).
func flatten(ctx context.Context, layers []v1.Layer, w io.Writer, onRead func(n int64), maxUnpacked int64) error {
	f := &flattener{
		maxUnpacked: maxUnpacked,
		tw:          tar.NewWriter(w),
		seen:        map[string]seenEntry{},
		deleted:     map[string]bool{},
		opaque:      map[string]bool{},
		pending:     map[string][]string{},
	}
	for i := len(layers) - 1; i >= 0; i-- {
		if err := f.openLayer(ctx, i, layers[i], onRead); err != nil {
			return err
		}
	}
	for target, links := range f.pending {
		return fmt.Errorf("hard link %q points at %q, which no layer holds: %w", links[0], target, api.ErrCorrupt)
	}
	if f.stale > 0 {
		slog.Warn("rootfs: hard links to files replaced by an upper layer share the newer content", "links", f.stale)
	}
	return f.tw.Close()
}

func (f *flattener) openLayer(ctx context.Context, i int, l v1.Layer, onRead func(int64)) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	id := d.String()
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("layer %s: %w", id, err)
	}
	defer rc.Close()
	var src io.Reader = rc
	if onRead != nil {
		src = &countReader{r: rc, on: onRead}
	}
	r, closeFn, err := Decompress(src)
	if err != nil {
		return fmt.Errorf("layer %s: %w", id, err)
	}
	if f.maxUnpacked > 0 {
		r = &unpackLimit{r: r, f: f, id: id}
	}
	err = f.layer(ctx, i, id, r)
	closeFn()
	if err != nil {
		return err
	}
	// Read the layer to its end (past the tar's end-of-archive marker and
	// the compressor's trailer): a layer read while it downloads is only
	// verified there, and the disk must not be committed before.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return fmt.Errorf("layer %s: %w", id, err)
	}
	return nil
}

// readErrs marks errors that come from reading a layer, to tell a corrupt
// layer from a failing writer.
type readErrs struct{ r io.Reader }

type readErr struct{ err error }

func (e readErr) Error() string { return e.err.Error() }

func (r readErrs) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = readErr{err}
	}
	return n, err
}

// unpackLimit stops a layer's uncompressed stream once the layers read so
// far unpack past the flattener's bound.
type unpackLimit struct {
	r  io.Reader
	f  *flattener
	id string
}

func (u *unpackLimit) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	u.f.unpacked += int64(n)
	if u.f.unpacked > u.f.maxUnpacked {
		return n, &tooLarge{fmt.Errorf("layer %s unpacks past %s (%d bytes), the most an image's layers may hold together: %w",
			u.id, units.Size(u.f.maxUnpacked), u.f.maxUnpacked, api.ErrInvalidArgument)}
	}
	return n, err
}

// tooLarge is unpackLimit's error, kept whole through the tar reader.
type tooLarge struct{ err error }

func (e *tooLarge) Error() string { return e.err.Error() }
func (e *tooLarge) Unwrap() error { return e.err }

type countReader struct {
	r  io.Reader
	on func(int64)
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.on(int64(n))
	}
	return n, err
}

// Compression names the compression a stream starts with: "gzip", "zstd"
// or "" (none), from its first four bytes.
func Compression(magic []byte) string {
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return "gzip"
	case len(magic) >= 4 && bytes.Equal(magic[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	}
	return ""
}

// Decompress returns r uncompressed (gzip and zstd are told by their
// magic; anything else passes through) and a function that releases the
// decompressor.
func Decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, _ := br.Peek(4)
	switch Compression(magic) {
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %v: %w", err, api.ErrCorrupt)
		}
		return zr, func() { zr.Close() }, nil
	case "zstd":
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %v: %w", err, api.ErrCorrupt)
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}
