package kernel

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ulikunitz/xz"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/atomicfile"
)

// A Debian package is an ar archive holding debian-binary, control.tar.*
// and data.tar.*; the files are in data.tar. Reading it here, instead of
// with dpkg-deb, is what lets a Mac (no dpkg) take a kernel straight from
// Debian's pool.

const arMagic = "!<arch>\n"

// debData returns the decompressed data.tar stream of the .deb in r.
func debData(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, len(arMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != arMagic {
		return nil, fmt.Errorf("not a Debian package (no ar header): %w", api.ErrCorrupt)
	}
	for {
		var hdr [60]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return nil, fmt.Errorf("the package has no data.tar member: %w", api.ErrCorrupt)
		}
		if string(hdr[58:60]) != "`\n" {
			return nil, fmt.Errorf("bad ar member header in the package: %w", api.ErrCorrupt)
		}
		name := strings.TrimRight(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("bad size for package member %q: %w", name, api.ErrCorrupt)
		}
		body := io.LimitReader(br, size)
		if strings.HasPrefix(name, "data.tar") {
			switch path.Ext(name) {
			case ".xz":
				xr, err := xz.NewReader(body)
				if err != nil {
					return nil, fmt.Errorf("package member %s: %v: %w", name, err, api.ErrCorrupt)
				}
				return xr, nil
			case ".gz":
				zr, err := gzip.NewReader(body)
				if err != nil {
					return nil, fmt.Errorf("package member %s: %v: %w", name, err, api.ErrCorrupt)
				}
				return zr, nil
			case ".tar":
				return body, nil
			}
			return nil, fmt.Errorf("package member %s: compression not supported (xz, gz or none): %w", name, api.ErrUnsupported)
		}
		// Members are padded to an even length.
		if _, err := io.CopyN(io.Discard, br, size+size%2); err != nil {
			return nil, fmt.Errorf("package member %q: %w", name, api.ErrCorrupt)
		}
	}
}

// extractDeb writes the regular files of the .deb at debPath for which
// keep returns true into dir, at their paths in the package. It returns
// the paths written (slash-separated, relative). progress hears "extract"
// with the count of files seen.
func extractDeb(ctx context.Context, debPath, dir string, keep func(name string) bool, progress api.ProgressFunc, id string) ([]string, error) {
	f, err := os.Open(debPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	// Progress is in bytes of the package read: the tar inside has no
	// known length, the package has.
	cr := &countingReader{r: f}
	data, err := debData(cr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(debPath), err)
	}
	tr := tar.NewReader(data)
	var written []string
	seen := 0
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("extract %s: %w: %w", filepath.Base(debPath), err, api.ErrCanceled)
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("extract %s: %v: %w", filepath.Base(debPath), err, api.ErrCorrupt)
		}
		seen++
		if seen%100 == 0 {
			progress.Report(api.Progress{ID: id, Action: "extract", Current: cr.n, Total: size})
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if h.Typeflag != tar.TypeReg || !keep(name) {
			continue
		}
		if name == ".." || strings.HasPrefix(name, "../") || path.IsAbs(name) {
			return nil, fmt.Errorf("extract %s: unsafe path %q: %w", filepath.Base(debPath), h.Name, api.ErrCorrupt)
		}
		dest := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return nil, err
		}
		out, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("extract %s from %s: %w", name, filepath.Base(debPath), err)
		}
		written = append(written, name)
	}
	progress.Report(api.Progress{ID: id, Action: "extract", Current: size, Total: size, Done: true,
		Message: fmt.Sprintf("%d files read, %d kept", seen, len(written))})
	return written, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// ARM64 Image header: "ARM\x64" at offset 56 (Documentation/arch/arm64/booting.rst).
const arm64ImageMagicOff = 56

var arm64ImageMagic = []byte{'A', 'R', 'M', 0x64}

// CheckImage checks that path is a kernel image arch can boot directly:
// for arm64 an uncompressed Image (what Apple's Virtualization framework
// and QEMU's -kernel take; a gzip-compressed one is named as such); for
// amd64 a bzImage or an ELF vmlinux.
func CheckImage(path, arch string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("kernel %q: %w", path, api.ErrNotFound)
	}
	defer f.Close()
	head := make([]byte, 1024)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	bad := func(what string) error {
		return fmt.Errorf("kernel %q is %s, not a bootable %s kernel image: %w", path, what, arch, api.ErrInvalidArgument)
	}
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return fmt.Errorf("kernel %q is gzip-compressed; give the uncompressed Image (gunzip -c %s > Image): %w", path, filepath.Base(path), api.ErrInvalidArgument)
	case arch == "arm64":
		if len(head) >= arm64ImageMagicOff+4 && bytes.Equal(head[arm64ImageMagicOff:arm64ImageMagicOff+4], arm64ImageMagic) {
			return nil
		}
		if len(head) > 0x206 && string(head[0x202:0x206]) == "HdrS" {
			return bad("an x86 bzImage")
		}
		return bad("not an arm64 Image (no \"ARM\\x64\" magic at offset 56)")
	case arch == "amd64":
		if len(head) > 0x206 && string(head[0x202:0x206]) == "HdrS" {
			return nil
		}
		if bytes.HasPrefix(head, []byte("\x7fELF")) {
			return nil
		}
		if len(head) >= arm64ImageMagicOff+4 && bytes.Equal(head[arm64ImageMagicOff:arm64ImageMagicOff+4], arm64ImageMagic) {
			return bad("an arm64 Image")
		}
		return bad("neither a bzImage nor an ELF vmlinux")
	}
	return fmt.Errorf("kernel %q: unknown arch %q: %w", path, arch, api.ErrInvalidArgument)
}

// gunzipInPlace replaces a gzip-compressed file by its contents; a file
// that is not gzip is left alone.
func gunzipInPlace(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	var magic [2]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || magic != [2]byte{0x1f, 0x8b} {
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("kernel image %s: %v: %w", p, err, api.ErrCorrupt)
	}
	out, err := atomicfile.Create(p, 0o644)
	if err != nil {
		return err
	}
	defer out.Abort()
	if _, err := io.Copy(out, zr); err != nil {
		return fmt.Errorf("decompress kernel image %s: %w", p, err)
	}
	return out.Commit()
}
