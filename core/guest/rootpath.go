package guest

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/archive"
)

// InRoot resolves p as if root were "/": symbolic links are followed
// inside root, as the container would see them after chroot (see
// archive.InRoot, which berth cp shares with the host). The last
// component need not exist.
func InRoot(root, p string) (string, error) { return archive.InRoot(root, p) }

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
