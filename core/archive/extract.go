package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/berthvm/berth/core/api"
)

// ExtractOptions tune Extract. The zero value extracts entries under
// their own names, replacing what is in the way, owners untouched.
type ExtractOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with something
	// else, or something else with a directory.
	NoOverwriteDirNonDir bool
	// RenameFrom, if set, is the archive's top entry, extracted as
	// RenameTo instead (docker's rebase: a copy takes its destination's
	// name). "." renames every entry: "x" becomes "RenameTo/x".
	RenameFrom, RenameTo string
	// Chown gives every entry the numeric uid and gid it has in the
	// archive. Only root can; others get their own.
	Chown bool
}

// Extract creates the entries of the tar stream r in dir, a path inside
// root (root is "/" to any link met on the way: see InRoot). dir must be
// a directory. An entry that climbs out of dir ("../x") fails the
// extraction; "/x" is taken as "x", and links, those already there and
// those the archive makes, are followed inside root only, so no entry is
// written outside it. An existing entry of the same name is replaced
// (unlinked first: a link in the way is replaced, never written through),
// except that directories merge. Directory modes and mtimes are applied
// last, so that a read-only directory can be filled first.
func Extract(r io.Reader, root, dir string, opts ExtractOptions) error {
	base, err := InRoot(root, dir)
	if err != nil {
		return err
	}
	fi, err := os.Stat(base)
	switch {
	case err != nil && (os.IsNotExist(err) || isNotDir(err)):
		return fmt.Errorf("%s: %w", dir, api.ErrNotFound)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("extraction point %s is not a directory: %w", dir, api.ErrInvalidArgument)
	}
	x := extractor{root: root, dir: path.Clean("/" + dir), opts: opts, chown: opts.Chown && os.Geteuid() == 0}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read the archive: %v: %w", err, api.ErrInvalidArgument)
		}
		if err := x.entry(h, tr); err != nil {
			return err
		}
	}
	// Directories last, innermost first: their mtimes would change with
	// every entry made in them, and a read-only one must take entries.
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		if err := chmod(d.path, d.h.Mode); err != nil {
			return fmt.Errorf("extract %s: %w", d.h.Name, err)
		}
		if err := setTimes(d.path, d.h); err != nil {
			return fmt.Errorf("extract %s: %w", d.h.Name, err)
		}
	}
	// Read the end of the stream too, so that its writer finishes.
	_, _ = io.Copy(io.Discard, r)
	return nil
}

type extractor struct {
	root, dir string
	opts      ExtractOptions
	chown     bool
	dirs      []dirEntry
}

type dirEntry struct {
	path string
	h    *tar.Header
}

// name cleans an entry's name and applies the rename.
func (x *extractor) name(raw string) (string, error) {
	n, err := entryName(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %w", err, api.ErrInvalidArgument)
	}
	from, to := x.opts.RenameFrom, x.opts.RenameTo
	switch {
	case from == "":
	case from == ".":
		n = path.Join(to, n)
	case n == from:
		n = to
	case strings.HasPrefix(n, from+"/"):
		n = to + n[len(from):]
	}
	return n, nil
}

// place is where name goes on this machine: its parent resolved inside
// root, its last element as it is.
func (x *extractor) place(name string) (string, error) {
	p := path.Join(x.dir, name)
	if name == "." {
		return InRoot(x.root, p)
	}
	parent, err := InRoot(x.root, path.Dir(p))
	if err != nil {
		return "", err
	}
	return filepath.Join(parent, path.Base(p)), nil
}

func (x *extractor) entry(h *tar.Header, r io.Reader) error {
	switch h.Typeflag {
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return nil // nothing a file system holds (PAX globals are read by tar)
	}
	name, err := x.name(h.Name)
	if err != nil {
		return err
	}
	target, err := x.place(name)
	if err != nil {
		return fmt.Errorf("extract %s: %w", h.Name, err)
	}
	isDir := h.Typeflag == tar.TypeDir
	if fi, err := os.Lstat(target); err == nil {
		switch {
		case fi.IsDir() && isDir:
			if name == "." {
				return nil // the destination itself keeps its own mode and owner
			}
		case fi.IsDir():
			if x.opts.NoOverwriteDirNonDir {
				return fmt.Errorf("cannot overwrite directory %q with non-directory %q: %w", path.Join(x.dir, name), h.Name, api.ErrConflict)
			}
			if err := os.RemoveAll(target); err != nil {
				return fmt.Errorf("extract %s: %w", h.Name, err)
			}
		case isDir && x.opts.NoOverwriteDirNonDir:
			return fmt.Errorf("cannot overwrite non-directory %q with directory %q: %w", path.Join(x.dir, name), h.Name, api.ErrConflict)
		default:
			if err := os.Remove(target); err != nil {
				return fmt.Errorf("extract %s: %w", h.Name, err)
			}
		}
	} else if !os.IsNotExist(err) {
		return fmt.Errorf("extract %s: %w", h.Name, err)
	} else if name == "." {
		return fmt.Errorf("extract %s: the destination is gone: %w", h.Name, api.ErrNotFound)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("extract %s: %w", h.Name, err)
	}
	if err := x.create(target, h, r); err != nil {
		return fmt.Errorf("extract %s: %w", h.Name, err)
	}
	return nil
}

func (x *extractor) create(target string, h *tar.Header, r io.Reader) error {
	switch h.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := x.owner(target, h); err != nil {
			return err
		}
		x.dirs = append(x.dirs, dirEntry{target, h})
		return nil
	case tar.TypeReg:
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := os.Symlink(h.Linkname, target); err != nil {
			return err
		}
		if err := x.owner(target, h); err != nil {
			return err
		}
		return setTimes(target, h)
	case tar.TypeLink:
		name, err := x.name(h.Linkname)
		if err != nil {
			return err
		}
		old, err := x.place(name)
		if err != nil {
			return err
		}
		// link(2) does not follow a link at old: the hard link is to
		// whatever old is, inside root.
		return os.Link(old, target)
	default:
		if err := mknod(target, h.Typeflag, h.Mode, h.Devmajor, h.Devminor); err != nil {
			return err
		}
	}
	// Owner before mode: chown clears the set-id bits.
	if err := x.owner(target, h); err != nil {
		return err
	}
	if err := chmod(target, h.Mode); err != nil {
		return err
	}
	return setTimes(target, h)
}

func (x *extractor) owner(target string, h *tar.Header) error {
	if !x.chown {
		return nil
	}
	return os.Lchown(target, h.Uid, h.Gid)
}
