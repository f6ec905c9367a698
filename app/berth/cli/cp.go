package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/archive"
	"github.com/berthvm/berth/core/client"
	"github.com/spf13/cobra"
)

const cpLong = `Copy files/folders between a container and the local filesystem

Use '-' as the source to read a tar archive from stdin
and extract it to a directory destination in a container.
Use '-' as the destination to stream a tar archive of a
container source to stdout.

Modes, mtimes and symbolic links are kept. Unlike docker, Berth always
keeps the numeric uid and gid of what it copies where it can: inside the
container always, on this machine when berth runs as root (otherwise the
files are yours); -a is accepted for compatibility. Copying to or from a
container that is not running boots its VM for the copy, without starting
its process; a start meanwhile waits for the copy.`

// cpOptions are berth cp's flags.
type cpOptions struct {
	follow, quiet bool
}

func (a *app) cpCommand() *cobra.Command {
	var opts cpOptions
	var archiveMode bool
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long:  cpLong,
		Args:  exactArgs(2, "CONTAINER:SRC_PATH DEST_PATH|-  or  SRC_PATH|- CONTAINER:DEST_PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst, err := parseCpArgs(args[0], args[1])
			if err != nil {
				return &usageError{err: err}
			}
			// Progress is for people: docker prints it only on a terminal.
			opts.quiet = opts.quiet || !isTerminal(a.streams.Err)
			ctx := cmd.Context()
			c, err := a.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			if src.container != "" {
				return a.copyFrom(ctx, c, src, dst.path, opts)
			}
			return a.copyTo(ctx, c, src.path, dst, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&archiveMode, "archive", "a", false, "Archive mode (copy all uid/gid information); Berth always does")
	f.BoolVarP(&opts.follow, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	f.BoolVarP(&opts.quiet, "quiet", "q", false,
		"Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// cpArg is one side of berth cp: a container's path, or a local one.
type cpArg struct {
	container string // "" for a local path
	path      string
}

func (c cpArg) String() string {
	if c.container == "" {
		return c.path
	}
	return c.container + ":" + c.path
}

// splitCpArg reads CONTAINER:PATH the way docker does: an absolute path,
// or one that starts with ".", is local even with a colon in it.
func splitCpArg(arg string) cpArg {
	if strings.HasPrefix(arg, "/") {
		return cpArg{path: arg}
	}
	name, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(name, ".") || name == "" {
		return cpArg{path: arg}
	}
	// Paths in a container are from its root.
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return cpArg{container: name, path: p}
}

func parseCpArgs(a, b string) (src, dst cpArg, err error) {
	src, dst = splitCpArg(a), splitCpArg(b)
	switch {
	case src.path == "" || dst.path == "":
		return src, dst, errors.New("filepath can not be empty")
	case src.container != "" && dst.container != "":
		return src, dst, errors.New("copying between containers is not supported")
	case src.container == "" && dst.container == "":
		return src, dst, errors.New("must specify at least one container source")
	case dst.container != "" && dst.path == "/-":
		return src, dst, errors.New("destination can not be '-' in a container")
	}
	return src, dst, nil
}

func (a *app) copyFrom(ctx context.Context, c *client.Client, src cpArg, dstPath string, opts cpOptions) error {
	srcPath := src.path
	if opts.follow {
		st, err := c.StatContainerPath(ctx, src.container, srcPath)
		if err != nil {
			return err
		}
		if st.Mode&fs.ModeSymlink != 0 {
			srcPath = st.LinkTarget
		}
	}
	st, rc, err := c.CopyFromContainer(ctx, src.container, srcPath)
	if err != nil {
		return err
	}
	defer rc.Close()
	if dstPath == "-" {
		_, err := io.Copy(a.streams.Out, rc)
		return err
	}
	dst, err := hostEndpoint(dstPath)
	if err != nil {
		return err
	}
	plan, err := archive.PlanCopy(archive.Endpoint{Path: src.path, Exists: true, IsDir: st.Mode.IsDir()}, dst)
	if err != nil {
		return err
	}
	// The archive's top entry is named after the path the daemon read
	// (a followed link's target); the copy takes the name the rules
	// give it: the destination's, or the source's as the user wrote it.
	x := archive.ExtractOptions{NoOverwriteDirNonDir: true, Chown: true,
		RenameFrom: archive.TopName(srcPath), RenameTo: plan.RenameTo}
	if plan.RenameFrom == "" {
		x.RenameTo = archive.TopName(src.path)
	}
	if x.RenameFrom == x.RenameTo {
		x.RenameFrom, x.RenameTo = "", ""
	}
	root, err := hostDir(plan.Dir)
	if err != nil {
		return err
	}
	counted := &countingReader{r: rc}
	if err := archive.Extract(counted, root, "/", x); err != nil {
		return err
	}
	a.copied(counted.n, dstPath, opts)
	return nil
}

func (a *app) copyTo(ctx context.Context, c *client.Client, srcPath string, dst cpArg, opts cpOptions) error {
	// A missing container, unlike a missing path, ends the copy here.
	if _, err := c.Container(ctx, dst.container); err != nil {
		return err
	}
	dstInfo := archive.Endpoint{Path: dst.path}
	st, err := c.StatContainerPath(ctx, dst.container, dst.path)
	if err == nil && st.Mode&fs.ModeSymlink != 0 {
		// The destination is what the link points to.
		dstInfo.Path = st.LinkTarget
		st, err = c.StatContainerPath(ctx, dst.container, dstInfo.Path)
	}
	switch {
	case err == nil:
		dstInfo.Exists, dstInfo.IsDir = true, st.Mode.IsDir()
		if !st.Mode.IsDir() && !st.Mode.IsRegular() {
			return fmt.Errorf("destination %q must be a directory or a regular file", dst.String())
		}
	case !errors.Is(err, api.ErrNotFound):
		return err
	}
	if srcPath == "-" {
		if !dstInfo.IsDir {
			return fmt.Errorf("destination %q must be a directory", dst.String())
		}
		counted := &countingReader{r: a.streams.In}
		if err := c.CopyToContainer(ctx, dst.container, dstInfo.Path, counted, true); err != nil {
			return err
		}
		a.copied(counted.n, dst.String(), opts)
		return nil
	}
	fi, err := os.Lstat(srcPath)
	if err != nil {
		return err
	}
	if opts.follow && fi.Mode()&fs.ModeSymlink != 0 {
		if fi, err = os.Stat(srcPath); err != nil {
			return err
		}
	}
	if archive.EndsInDir(srcPath) && !fi.IsDir() {
		return fmt.Errorf("%s: %w", srcPath, archive.ErrNotDirectory)
	}
	plan, err := archive.PlanCopy(archive.Endpoint{Path: srcPath, Exists: true, IsDir: fi.IsDir()}, dstInfo)
	if err != nil {
		return err
	}
	name := archive.TopName(srcPath)
	if plan.RenameFrom != "" {
		name = plan.RenameTo
	}
	from := srcPath
	if opts.follow {
		if from, err = filepath.EvalSymlinks(srcPath); err != nil {
			return err
		}
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Write(pw, from, name)) }()
	counted := &countingReader{r: pr}
	err = c.CopyToContainer(ctx, dst.container, plan.Dir, counted, true)
	pr.CloseWithError(errors.New("copy ended"))
	if err != nil {
		return err
	}
	a.copied(counted.n, dst.String(), opts)
	return nil
}

// hostEndpoint describes a local destination; a link is described by
// what it points to, as docker does.
func hostEndpoint(p string) (archive.Endpoint, error) {
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return archive.Endpoint{Path: p}, nil
	case err != nil:
		return archive.Endpoint{}, err
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return archive.Endpoint{}, err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		return hostEndpoint(target)
	}
	return archive.Endpoint{Path: p, Exists: true, IsDir: fi.IsDir()}, nil
}

// hostDir is the real path of a local directory a copy is extracted into.
func hostDir(dir string) (string, error) {
	real, err := filepath.EvalSymlinks(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %s", archive.ErrDirNotExists, dir)
	}
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("%s: %w", dir, archive.ErrNotDirectory)
	}
	return real, nil
}

func (a *app) copied(n int64, to string, opts cpOptions) {
	if !opts.quiet {
		fmt.Fprintf(a.streams.Err, "Successfully copied %s to %s\n", copySize(n), to)
	}
}

// copySize writes a byte count as docker cp does: three significant
// digits, SI units, no space ("2.05kB").
func copySize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f, i := float64(n), 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
