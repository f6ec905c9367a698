package rootfs

import "golang.org/x/sys/unix"

// cloneFile makes dst an APFS copy-on-write clone of src.
func cloneFile(src, dst string) error { return unix.Clonefile(src, dst, unix.CLONE_NOFOLLOW) }
