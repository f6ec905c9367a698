package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"
)

// Write writes the tree at src, a path on this machine taken as it is (a
// link at src is written as the link), to w as a tar stream whose top
// entry is named name: docker's layout, "web" and "web/index.html" for
// /srv/web. A name of "." writes a directory's contents ("./index.html").
// Modes, numeric owners, mtimes (to the second), symbolic links, devices
// and fifos are kept; files linked more than once are written once and
// then as hard links. Sockets are left out, as tar cannot hold them.
func Write(w io.Writer, src, name string) error {
	tw := tar.NewWriter(w)
	seen := map[[2]uint64]string{} // (dev, ino) -> entry name, for hard links
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		entry := name
		if rel != "." {
			entry = name + "/" + filepath.ToSlash(rel)
		}
		return writeEntry(tw, p, entry, fi, seen)
	})
	if err != nil {
		return fmt.Errorf("archive %s: %w", src, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", src, err)
	}
	return nil
}

func writeEntry(tw *tar.Writer, p, name string, fi fs.FileInfo, seen map[[2]uint64]string) error {
	sys := sysOf(fi)
	h := &tar.Header{Name: name, Mode: modeBits(fi.Mode()), Uid: sys.uid, Gid: sys.gid,
		ModTime: fi.ModTime().Truncate(time.Second)}
	m := fi.Mode()
	switch {
	case m.IsDir():
		h.Typeflag, h.Name = tar.TypeDir, name+"/"
	case m&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		h.Typeflag, h.Linkname = tar.TypeSymlink, target
	case m&fs.ModeSocket != 0:
		return nil
	case m&fs.ModeNamedPipe != 0:
		h.Typeflag = tar.TypeFifo
	case m&fs.ModeDevice != 0:
		h.Typeflag = tar.TypeBlock
		if m&fs.ModeCharDevice != 0 {
			h.Typeflag = tar.TypeChar
		}
		h.Devmajor, h.Devminor = int64(sys.major), int64(sys.min)
	case m.IsRegular():
		if sys.nlink > 1 {
			id := [2]uint64{sys.dev, sys.ino}
			if first, ok := seen[id]; ok {
				h.Typeflag, h.Linkname = tar.TypeLink, first
				return tw.WriteHeader(h)
			}
			seen[id] = name
		}
		h.Typeflag, h.Size = tar.TypeReg, fi.Size()
	default:
		return nil
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if h.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	// Exactly the size the header promised: a file that grows while it
	// is read is cut there, one that shrinks fails the copy.
	if _, err := io.CopyN(tw, f, h.Size); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// modeBits turns Go's mode into tar's (and stat's) permission bits.
func modeBits(m fs.FileMode) int64 {
	b := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// entryName cleans an archive entry's name: a leading "/" is dropped (the
// name is taken below the destination, as tar does), and a name that
// climbs out of the destination is refused.
func entryName(raw string) (string, error) {
	n := path.Clean("/" + raw)[1:]
	if n == "" {
		n = "."
	}
	// Clean of "/"+raw cannot climb; check the raw form for "..".
	rel := path.Clean(trimSlashes(raw))
	if rel == ".." || len(rel) > 2 && rel[:3] == "../" {
		return "", fmt.Errorf("archive entry %q is outside of the destination", raw)
	}
	return n, nil
}

func trimSlashes(s string) string {
	for len(s) > 0 && s[0] == '/' {
		s = s[1:]
	}
	if s == "" {
		return "."
	}
	return s
}
