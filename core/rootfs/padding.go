package rootfs

import (
	"encoding/binary"
	"fmt"
	"io"
)

// fixInodeBitmapPadding sets the unused tail bits of every inode bitmap
// block, which tar2ext4 leaves clear: ext4 wants them set, and e2fsck -fn
// reports "Padding at end of inode bitmap is not set" otherwise. The
// kernel mounts either way; this makes the disk check clean. Filesystems
// with metadata checksums are left alone (tar2ext4 writes none; patching
// one would need the checksums redone).
func fixInodeBitmapPadding(f io.ReadWriteSeeker) error {
	rw, ok := f.(interface {
		io.ReaderAt
		io.WriterAt
	})
	if !ok {
		return fmt.Errorf("fix inode bitmap padding: need random access")
	}
	sb := make([]byte, 1024)
	if _, err := rw.ReadAt(sb, 1024); err != nil {
		return fmt.Errorf("fix inode bitmap padding: read superblock: %w", err)
	}
	le := binary.LittleEndian
	if le.Uint16(sb[0x38:]) != 0xEF53 {
		return fmt.Errorf("fix inode bitmap padding: not an ext4 superblock")
	}
	const (
		incompat64bit  = 0x80
		roGdtCsum      = 0x10
		roMetadataCsum = 0x400
	)
	if le.Uint32(sb[0x64:])&(roGdtCsum|roMetadataCsum) != 0 {
		return nil
	}
	blocks := uint64(le.Uint32(sb[0x4:]))
	firstData := uint64(le.Uint32(sb[0x14:]))
	blockSize := int64(1024) << le.Uint32(sb[0x18:])
	blocksPerGroup := uint64(le.Uint32(sb[0x20:]))
	inodesPerGroup := int64(le.Uint32(sb[0x28:]))
	descSize := int64(32)
	is64 := le.Uint32(sb[0x60:])&incompat64bit != 0
	if is64 {
		if d := int64(le.Uint16(sb[0xFE:])); d >= 64 {
			descSize = d
		}
	}
	if blocksPerGroup == 0 || inodesPerGroup <= 0 || inodesPerGroup > blockSize*8 {
		return fmt.Errorf("fix inode bitmap padding: implausible superblock")
	}
	groups := (blocks - firstData + blocksPerGroup - 1) / blocksPerGroup
	gdt := int64(firstData+1) * blockSize
	desc := make([]byte, descSize)
	bitmap := make([]byte, blockSize)
	for g := int64(0); g < int64(groups); g++ {
		if _, err := rw.ReadAt(desc, gdt+g*descSize); err != nil {
			return fmt.Errorf("fix inode bitmap padding: group %d: %w", g, err)
		}
		block := int64(le.Uint32(desc[0x4:]))
		if is64 && descSize >= 64 {
			block |= int64(le.Uint32(desc[0x24:])) << 32
		}
		off := block * blockSize
		if _, err := rw.ReadAt(bitmap, off); err != nil {
			return fmt.Errorf("fix inode bitmap padding: group %d bitmap: %w", g, err)
		}
		for bit := inodesPerGroup; bit < blockSize*8; bit++ {
			bitmap[bit/8] |= 1 << (bit % 8)
		}
		if _, err := rw.WriteAt(bitmap, off); err != nil {
			return fmt.Errorf("fix inode bitmap padding: group %d bitmap: %w", g, err)
		}
	}
	return nil
}
