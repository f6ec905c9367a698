//go:build unix

package archive

import (
	"archive/tar"
	"errors"
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysInfo is what a tar header needs beyond fs.FileInfo.
type sysInfo struct {
	uid, gid   int
	dev, ino   uint64
	nlink      uint64
	major, min uint32
}

func sysOf(fi fs.FileInfo) sysInfo {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return sysInfo{}
	}
	rdev := uint64(st.Rdev)
	return sysInfo{uid: int(st.Uid), gid: int(st.Gid), dev: uint64(st.Dev), ino: uint64(st.Ino),
		nlink: uint64(st.Nlink), major: unix.Major(rdev), min: unix.Minor(rdev)}
}

func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

// setTimes gives p the header's mtime (and atime, else the mtime too)
// without following a link.
func setTimes(p string, h *tar.Header) error {
	atime := h.AccessTime
	if atime.IsZero() {
		atime = h.ModTime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(h.ModTime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func chmod(p string, mode int64) error { return unix.Chmod(p, uint32(mode&0o7777)) }

func mknod(p string, typ byte, mode int64, major, minor int64) error {
	var t uint32
	switch typ {
	case '3': // tar.TypeChar
		t = unix.S_IFCHR
	case '4': // tar.TypeBlock
		t = unix.S_IFBLK
	default:
		t = unix.S_IFIFO
	}
	return unix.Mknod(p, t|uint32(mode&0o7777), int(unix.Mkdev(uint32(major), uint32(minor))))
}

// noFollow makes an open fail on a link rather than follow it.
const noFollow = unix.O_NOFOLLOW
