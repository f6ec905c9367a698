package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// TempPrefix begins the name of every temp file this package makes
// (".tmp-<target>-<random>"). Stores that must not keep what a crash
// left sweep their directories for it.
const TempPrefix = ".tmp-"

// File is a temp file that becomes path on Commit. Write to it through
// the embedded *os.File (WriteAt, Truncate and Seek work too); do not
// close it: Commit or Abort does.
type File struct {
	*os.File
	path string
	perm os.FileMode
	done bool // committed or aborted
}

// Create starts replacing path, whose directory must exist. The file
// gets perm exactly (no umask) when committed.
func Create(path string, perm os.FileMode) (*File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), TempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return nil, fmt.Errorf("replace %s: %w", path, err)
	}
	return &File{File: f, path: path, perm: perm}, nil
}

// Commit syncs the file, gives it its mode and renames it over path,
// then syncs the directory. On error the temp file is gone and path is
// as it was, unless only the directory sync failed: the new content is
// then in place but may not survive a crash.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("replace %s: already committed or aborted", f.path)
	}
	err := f.Chmod(f.perm)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), f.path)
	}
	f.done = true
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("replace %s: %w", f.path, err)
	}
	if err := syncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("replace %s: sync the directory: %w", f.path, err)
	}
	return nil
}

// Abort drops the temp file and leaves path alone. It does nothing after
// Commit (or a first Abort), so it can be deferred.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	f.File.Close()
	if err := os.Remove(f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("replace %s: remove the temp file: %w", f.path, err)
	}
	return nil
}

// WriteFile replaces path with data, atomically and durably. It is for
// small files (a pid, a manifest, an index); stream larger ones through
// Create.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return f.Commit()
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	err = d.Sync()
	// Some filesystems cannot sync a directory (they say EINVAL or
	// ENOTSUP); there the rename is as durable as it gets.
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}
