// Package rootfs makes the disks a container's root filesystem is built
// from: one read-only ext4 base disk per image, holding the image's layers
// flattened (whiteouts applied), and one writable ext4 disk per container
// on which the guest keeps the overlayfs upper and work directories.
//
// Both are raw ext4 filesystems without a partition table. The base disk
// is streamed straight from the compressed layers into a compact ext4
// (hcsshim's tar2ext4): no layer is ever held in memory or unpacked on the
// host. The writable disk is cloned from a template formatted once.
//
// It must not know about image stores, names or containers: callers hand
// it layers and paths. It writes every disk under a temp name and renames
// it into place, so a disk that exists is complete.
package rootfs
