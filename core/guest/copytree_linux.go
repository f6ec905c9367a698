package guest

import (
	"io"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/archive"
)

// copyTree copies the folder src to dst (which must not exist) with
// everything in it, through berth cp's tar code: contents, modes, owners,
// times (to the second), symbolic and hard links, device nodes and
// FIFOs; sockets are skipped. It never follows a symbolic link.
func copyTree(src, dst string) error {
	top, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Write(pw, src, ".")) }()
	err = archive.Extract(pr, dst, "/", archive.ExtractOptions{Chown: true})
	pr.CloseWithError(err) // a failed extraction stops the writer
	if err != nil {
		return err
	}
	return copyMeta(dst, top) // the folder itself, which the archive's "." does not set
}

// copyMeta gives p fi's owner, mode and times.
func copyMeta(p string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	// After chown, which clears setuid and setgid bits.
	if err := os.Chmod(p, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}
