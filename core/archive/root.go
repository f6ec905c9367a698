package archive

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/berthvm/berth/core/api"
)

// InRoot resolves p as if root were "/": symbolic links are followed
// inside root (an absolute link target starts again at root, ".." stops
// at root), as the container would see them after chroot. The last
// component need not exist.
func InRoot(root, p string) (string, error) {
	const maxLinks = 40
	links := 0
	resolved := "/" // path inside root, always clean and absolute
	rest := strings.Split(path.Clean("/"+p), "/")
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, c)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			if os.IsNotExist(err) {
				// The remainder does not exist: keep it literally.
				return filepath.Join(root, path.Join(append([]string{next}, rest...)...)), nil
			}
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		links++
		if links > maxLinks {
			return "", fmt.Errorf("resolve %q in the container: too many symbolic links: %w", p, api.ErrInvalidArgument)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			resolved = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return filepath.Join(root, resolved), nil
}

// EndsInDir reports whether p names a directory by its form: it ends in
// "/" or "/." (or is "."). Such a path means the directory a link points
// to, not the link.
func EndsInDir(p string) bool {
	return strings.HasSuffix(p, "/") || CopiesContents(p)
}

// CopiesContents reports whether p ends in "/." (or is "."): docker's way
// of saying "what is in this directory", not the directory itself.
func CopiesContents(p string) bool {
	return p == "." || strings.HasSuffix(p, "/.")
}

// TopName is the name of the top entry of p's archive: its last element,
// or "." for a directory's contents (p ends in "/.", or is the root).
func TopName(p string) string {
	if CopiesContents(p) {
		return "."
	}
	base := path.Base(path.Clean("/" + p))
	if base == "/" {
		return "."
	}
	return base
}

// Resolve finds p inside root the way cp means it: links on the way are
// followed inside root; the last element is taken as it is (a link is
// the link) unless p ends in "/" or "/.", which means the directory.
func Resolve(root, p string) (string, error) {
	if EndsInDir(p) {
		return InRoot(root, p)
	}
	clean := path.Clean("/" + p)
	if clean == "/" {
		return root, nil
	}
	dir, err := InRoot(root, path.Dir(clean))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, path.Base(clean)), nil
}

// Stat describes p, a path inside root, as Resolve finds it. A path that
// is not there wraps api.ErrNotFound; one that ends in "/" but is no
// directory wraps api.ErrInvalidArgument.
func Stat(root, p string) (api.PathStat, error) {
	full, err := Resolve(root, p)
	if err != nil {
		return api.PathStat{}, err
	}
	fi, err := os.Lstat(full)
	if err != nil {
		if os.IsNotExist(err) || isNotDir(err) {
			return api.PathStat{}, fmt.Errorf("%s: %w", p, api.ErrNotFound)
		}
		return api.PathStat{}, err
	}
	if EndsInDir(p) && !fi.IsDir() {
		return api.PathStat{}, fmt.Errorf("%s: not a directory: %w", p, api.ErrInvalidArgument)
	}
	st := api.PathStat{Name: path.Base(path.Clean("/" + p)), Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime()}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := InRoot(root, p)
		if err != nil {
			return api.PathStat{}, err
		}
		rel, err := filepath.Rel(root, target)
		if err != nil {
			return api.PathStat{}, err
		}
		st.LinkTarget = path.Clean("/" + filepath.ToSlash(rel))
	}
	return st, nil
}
