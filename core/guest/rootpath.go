package guest

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

// LookPath finds an executable the way execvp would inside root: a name
// with a slash is taken as is (relative to cwd), otherwise each PATH
// entry is tried. It returns the path as seen inside root.
func LookPath(root, name, pathEnv, cwd string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("empty command: %w", api.ErrInvalidArgument)
	}
	check := func(p string) error {
		full, err := InRoot(root, p)
		if err != nil {
			return err
		}
		fi, err := os.Stat(full)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return fmt.Errorf("is a directory")
		}
		if fi.Mode()&0o111 == 0 {
			return fmt.Errorf("permission denied (not executable)")
		}
		return nil
	}
	if strings.Contains(name, "/") {
		p := name
		if !strings.HasPrefix(p, "/") {
			p = path.Join(cwd, p)
		}
		if err := check(p); err != nil {
			if os.IsNotExist(err) {
				return "", fmt.Errorf("command %q not found in the container: %w", name, api.ErrCommandNotFound)
			}
			return "", fmt.Errorf("command %q: %v: %w", name, err, api.ErrCommandNotRunnable)
		}
		return p, nil
	}
	for _, dir := range strings.Split(pathEnv, ":") {
		if dir == "" {
			dir = "."
		}
		if !strings.HasPrefix(dir, "/") {
			dir = path.Join(cwd, dir)
		}
		p := path.Join(dir, name)
		if check(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found in the container's PATH (%s): %w", name, pathEnv, api.ErrCommandNotFound)
}
