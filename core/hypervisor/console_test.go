package hypervisor

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// A console that writes 8 times the bound, through a unix socket as
// QEMU's console chardev: the log stays within two files of the bound,
// and what is kept is the tail of what was written.
func TestCopyConsoleBounded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "console.log")
	const limit = 64 << 10
	var sent bytes.Buffer
	for i := 0; sent.Len() < 8*limit; i++ {
		fmt.Fprintf(&sent, "[%8d] guest says something on its console\n", i)
	}
	sock := filepath.Join(dir, "console.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Write(sent.Bytes())
		c.Close()
	}()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := CopyConsole(c, path, limit); err != nil {
		t.Fatal(err)
	}
	cur, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	prev, err := os.ReadFile(path + ".1")
	if err != nil {
		t.Fatal(err)
	}
	if len(cur) > limit || len(prev) != limit {
		t.Fatalf("console.log %d bytes, console.log.1 %d bytes; bound %d", len(cur), len(prev), limit)
	}
	kept := append(prev, cur...)
	if !bytes.HasSuffix(sent.Bytes(), kept) {
		t.Fatalf("the %d bytes kept are not the tail of the %d written", len(kept), sent.Len())
	}
	if tail := ConsoleTail(path, int64(len(cur))+10); tail != string(kept[len(kept)-len(cur)-10:]) {
		t.Fatalf("ConsoleTail across the rotation: %q", tail)
	}

	// Another boot appends to what is there, within the same bound.
	if err := CopyConsole(bytes.NewReader(sent.Bytes()[:100]), path, limit); err != nil {
		t.Fatal(err)
	}
	if err := ClearConsole(path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Fatalf("cleared console holds %d bytes", len(b))
	}
	if _, err := os.Stat(path + ".1"); !os.IsNotExist(err) {
		t.Fatalf("cleared console kept its previous file: %v", err)
	}
}
