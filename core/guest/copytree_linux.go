package guest

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// copyTree copies the folder src to dst (which must not exist) with
// everything in it: contents, modes, owners, times, symbolic links,
// device nodes and FIFOs; hard links become copies, sockets are skipped.
// It never follows a symbolic link.
func copyTree(src, dst string) error {
	type dir struct {
		path string
		fi   fs.FileInfo
	}
	var dirs []dir // their owner, mode and times are set once filled
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch mode := fi.Mode(); {
		case mode.IsDir():
			dirs = append(dirs, dir{to, fi})
			return os.Mkdir(to, 0o700)
		case mode.IsRegular():
			if err := copyFile(p, to); err != nil {
				return err
			}
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, to); err != nil {
				return err
			}
		case mode&(fs.ModeDevice|fs.ModeNamedPipe) != 0:
			st := fi.Sys().(*syscall.Stat_t)
			if err := unix.Mknod(to, st.Mode, int(st.Rdev)); err != nil {
				return fmt.Errorf("copy %s: %w", p, err)
			}
		default:
			return nil // sockets belong to a running program
		}
		return copyMeta(to, fi)
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := copyMeta(dirs[i].path, dirs[i].fi); err != nil {
			return err
		}
	}
	return nil
}

// copyMeta gives p fi's owner, mode and times.
func copyMeta(p string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		// After chown, which clears setuid and setgid bits.
		if err := os.Chmod(p, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}
