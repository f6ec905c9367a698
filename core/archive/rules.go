package archive

import (
	"errors"
	"path"
	"strings"
)

// Errors of docker's copy rules, in docker's words.
var (
	// ErrCannotCopyDir: a directory cannot be copied onto a file.
	ErrCannotCopyDir = errors.New("cannot copy directory")
	// ErrDirNotExists: a file cannot be copied to a directory that is
	// not there (a destination ending in "/").
	ErrDirNotExists = errors.New("no such directory")
)

// Endpoint is one end of a copy: the path as the user wrote it and what
// is there (a destination that is a link is described by its target).
type Endpoint struct {
	Path   string
	Exists bool
	IsDir  bool
}

// Plan is where the source's archive (top entry TopName(src.Path)) is
// extracted: into Dir, an existing directory, with the top entry renamed
// when Rename is set.
type Plan struct {
	Dir                  string
	RenameFrom, RenameTo string
}

// PlanCopy applies docker's rules for cp to a source and a destination:
//
//   - destination is an existing directory: the source goes into it
//     under its own name; a source ending in "/." puts its contents there;
//   - destination is an existing file: a file replaces it; a directory
//     cannot (ErrCannotCopyDir);
//   - destination is missing: it is made, as a copy of the source (a
//     directory's contents go into a new directory of that name); its
//     parent must exist; a file source to a path ending in "/" is an
//     error (ErrDirNotExists), and so is any source to "x/.." (x is
//     missing).
func PlanCopy(src, dst Endpoint) (Plan, error) {
	from := TopName(src.Path)
	dir, base := splitDir(dst.Path)
	rename := func() Plan {
		if from == base {
			return Plan{Dir: dir}
		}
		return Plan{Dir: dir, RenameFrom: from, RenameTo: base}
	}
	switch {
	case dst.Exists && dst.IsDir:
		return Plan{Dir: dst.Path}, nil
	case base == "..":
		// "x/.." is a directory whenever x is: it is missing (or no
		// directory) only when x is, and a copy must not be renamed "..".
		return Plan{}, ErrDirNotExists
	case dst.Exists && src.IsDir:
		return Plan{}, ErrCannotCopyDir
	case dst.Exists, src.IsDir:
		return rename(), nil
	case EndsInDir(dst.Path):
		return Plan{}, ErrDirNotExists
	}
	return rename(), nil
}

// splitDir splits a path into its parent and last element: "a/b/" is
// "a" and "b", "b" is "." and "b", "/b" is "/" and "b".
func splitDir(p string) (dir, base string) {
	trimmed := strings.TrimRight(p, "/")
	if trimmed == "" {
		return "/", "."
	}
	dir, base = path.Split(trimmed)
	switch {
	case dir == "":
		dir = "."
	case dir != "/":
		dir = strings.TrimRight(dir, "/")
		if dir == "" {
			dir = "/"
		}
	}
	return dir, base
}

// ErrNotDirectory: a path written as a directory ("x/") is not one.
var ErrNotDirectory = errors.New("not a directory")
