package kernel

import (
	"fmt"
	"io"
	"path"
	"strings"
)

// cpioWriter writes the "newc" cpio format the kernel unpacks as an
// initramfs: a 110-byte ASCII header per entry, the name, then the data,
// each padded to 4 bytes, and a TRAILER!!! entry at the end.
type cpioWriter struct {
	w    io.Writer
	ino  uint32
	dirs map[string]bool
}

func newCPIO(w io.Writer) *cpioWriter {
	return &cpioWriter{w: w, ino: 1, dirs: map[string]bool{"": true, ".": true}}
}

const (
	cpioDir     = 0o040000
	cpioFile    = 0o100000
	cpioCharDev = 0o020000
)

func (c *cpioWriter) header(name string, mode uint32, size int) error {
	return c.headerDev(name, mode, size, 0, 0)
}

// headerDev writes an entry's header; rdev is a device node's number.
func (c *cpioWriter) headerDev(name string, mode uint32, size int, rdevMajor, rdevMinor uint32) error {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if name == "" {
		name = "."
	}
	nlink := 1
	if mode&cpioDir != 0 {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	c.ino++
	buf := append([]byte(hdr), name...)
	buf = append(buf, 0)
	buf = append(buf, make([]byte, pad4(len(buf)))...)
	_, err := c.w.Write(buf)
	return err
}

func pad4(n int) int { return (4 - n%4) % 4 }

// mkdirAll adds every missing parent directory of name, then name.
func (c *cpioWriter) mkdirAll(name string, perm uint32) error {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if c.dirs[name] {
		return nil
	}
	if err := c.mkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	c.dirs[name] = true
	return c.header(name, cpioDir|perm, 0)
}

// file adds a regular file with its parent directories.
func (c *cpioWriter) file(name string, perm uint32, data []byte) error {
	if err := c.mkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	if err := c.header(name, cpioFile|perm, len(data)); err != nil {
		return err
	}
	if _, err := c.w.Write(data); err != nil {
		return err
	}
	_, err := c.w.Write(make([]byte, pad4(len(data))))
	return err
}

// charDev adds a character device node with its parent directories.
func (c *cpioWriter) charDev(name string, perm, major, minor uint32) error {
	if err := c.mkdirAll(path.Dir(name), 0o755); err != nil {
		return err
	}
	return c.headerDev(name, cpioCharDev|perm, 0, major, minor)
}

func (c *cpioWriter) close() error {
	return c.header("TRAILER!!!", 0, 0)
}
