package vmnet

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestListenDatagram(t *testing.T) {
	dir := shortDir(t)
	local, peer := filepath.Join(dir, "net.sock"), filepath.Join(dir, "vm.sock")

	t.Run("paths", func(t *testing.T) {
		long := "/tmp/" + strings.Repeat("x", maxSocketPath)
		for _, p := range [][2]string{{long, peer}, {local, long}, {"", peer}} {
			if _, err := ListenDatagram(p[0], p[1]); err == nil || !strings.Contains(err.Error(), "103 bytes") {
				t.Fatalf("ListenDatagram(%q, %q) = %v", p[0], p[1], err)
			}
		}
		plain := filepath.Join(dir, "file")
		os.WriteFile(plain, nil, 0o600)
		if _, err := ListenDatagram(plain, peer); err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Fatalf("over a regular file: %v", err)
		}
		if _, err := os.Stat(plain); err != nil {
			t.Fatalf("the regular file was removed: %v", err)
		}
	})

	t.Run("buffers", func(t *testing.T) {
		d, err := ListenDatagram(local, peer)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		var snd, rcv int
		if err := d.raw.Control(func(fd uintptr) {
			snd, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
			rcv, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		}); err != nil {
			t.Fatal(err)
		}
		// macOS applies 1 MiB and 4 MiB as asked (kern.ipc.maxsockbuf is
		// 8 MiB); Linux doubles them (its bookkeeping), capped at
		// net.core.{w,r}mem_max.
		t.Logf("SO_SNDBUF %d, SO_RCVBUF %d", snd, rcv)
		if snd <= 0 || rcv < snd {
			t.Fatalf("SO_SNDBUF %d, SO_RCVBUF %d: the receive buffer must be at least the send buffer", snd, rcv)
		}
	})

	t.Run("a stale socket is replaced, and Close removes it", func(t *testing.T) {
		stale, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: local, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		stale.Close() // the file stays, as a dead process leaves it
		d, err := ListenDatagram(local, peer)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(local)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("socket file %v, %v; want mode 0600", fi, err)
		}
		d.Close()
		if _, err := os.Stat(local); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Close left %s: %v", local, err)
		}
	})

	t.Run("no peer yet, then the peer, and strangers", func(t *testing.T) {
		d, err := ListenDatagram(local, peer)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if err := d.WriteFrame(testFrame(60, 1)); !errors.Is(err, ErrNoPeer) || !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("write before the peer exists: %v", err)
		}
		vm := newVMSocket(t, peer, local)
		if err := d.WriteFrame(testFrame(60, 2)); err != nil {
			t.Fatal(err)
		}
		checkFrame(t, vm.recv(t, 5*time.Second), 60, 2)

		// Another process's socket sends to ours: dropped, counted.
		other := newVMSocket(t, filepath.Join(dir, "other.sock"), local)
		other.send(t, testFrame(60, 3))
		vm.send(t, testFrame(61, 4))
		buf := make([]byte, 1514)
		n, err := d.ReadFrame(buf)
		if err != nil {
			t.Fatal(err)
		}
		checkFrame(t, buf[:n], 61, 4)
		if d.Strangers() != 1 {
			t.Fatalf("Strangers = %d, want 1", d.Strangers())
		}

		// A datagram longer than the buffer is consumed and reported.
		vm.send(t, testFrame(200, 5))
		vm.send(t, testFrame(62, 6))
		if _, err := d.ReadFrame(buf[:100]); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("a 200-byte datagram into 100 bytes: %v", err)
		}
		if n, err := d.ReadFrame(buf); err != nil || n != 62 {
			t.Fatalf("the next frame: %d, %v", n, err)
		}

		// The peer stops: its file stays without a socket.
		vm.c.Close()
		if err := d.WriteFrame(testFrame(60, 7)); !errors.Is(err, ErrNoPeer) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("write after the peer closed: %v", err)
		}
	})

	t.Run("a full receiver does not block the writer", func(t *testing.T) {
		d, err := ListenDatagram(local, peer)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		newVMSocket(t, peer, local) // never reads
		start := time.Now()
		var werr error
		for i := 0; i < 100000 && werr == nil; i++ {
			werr = d.WriteFrame(testFrame(1514, uint32(i)))
		}
		if !errors.Is(werr, ErrBufferFull) {
			t.Fatalf("writing to a receiver that never reads: %v", werr)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("the writes took %v", d)
		}
		os.Remove(peer)
	})
}

func TestDatagramPair(t *testing.T) {
	a, b, err := DatagramPair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.WriteFrame(testFrame(1514, 1)); err != nil {
		t.Fatal(err)
	}
	checkFrame(t, recvConn(t, b, 5*time.Second), 1514, 1)
	if _, err := b.Write(testFrame(64, 2)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1514)
	n, err := a.ReadFrame(buf)
	if err != nil {
		t.Fatal(err)
	}
	checkFrame(t, buf[:n], 64, 2)

	// A read deadline ends ReadFrame and can be lifted.
	a.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := a.ReadFrame(buf); !isTimeout(err) {
		t.Fatalf("ReadFrame past its deadline: %v", err)
	}
	a.SetReadDeadline(time.Time{})
	b.Write(testFrame(64, 3))
	if _, err := a.ReadFrame(buf); err != nil {
		t.Fatal(err)
	}

	// The far end goes: ECONNREFUSED once (no peer), then ENOTCONN.
	b.Close()
	if err := a.WriteFrame(testFrame(64, 4)); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("first write after the far end closed: %v", err)
	}
	err = a.WriteFrame(testFrame(64, 5))
	if !errors.Is(err, syscall.ENOTCONN) || classifyWrite(err) != portGone {
		t.Fatalf("second write after the far end closed: %v", err)
	}
	a.Close()
	if _, err := a.ReadFrame(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadFrame after Close: %v", err)
	}
	if err := a.WriteFrame(testFrame(64, 6)); !errors.Is(err, net.ErrClosed) || classifyWrite(err) != portGone {
		t.Fatalf("WriteFrame after Close: %v", err)
	}
}

func TestNewDatagramPort(t *testing.T) {
	_, b, err := DatagramPair()
	if err != nil {
		t.Fatal(err)
	}
	d := NewDatagramPort(b)
	if d.MaxFrame() != DefaultMaxFrame {
		t.Fatalf("MaxFrame = %d", d.MaxFrame())
	}
	d.SetMaxFrame(1514)
	if d.MaxFrame() != 1514 {
		t.Fatalf("MaxFrame = %d after SetMaxFrame(1514)", d.MaxFrame())
	}
	d.Close()
	if err := d.WriteFrame(testFrame(64, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteFrame after Close: %v", err)
	}
}
