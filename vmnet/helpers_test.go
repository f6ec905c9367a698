package vmnet

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// noLeaks fails the test if it leaves more goroutines running than it
// found (waiting a little for ones that are finishing).
func noLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("%d goroutines before the test, %d after:\n%s", before, n, buf)
		}
	})
}

// memPort is an in-memory Port: frames written to in come out of
// ReadFrame; WriteFrame runs writeHook (if set) and records the frame.
type memPort struct {
	in        chan []byte
	max       int
	writeHook func(p []byte) error

	mu       sync.Mutex
	written  [][]byte
	deadline time.Time
	kick     chan struct{}
	closed   chan struct{}
	once     sync.Once
	closes   int
}

func newMemPort(max int) *memPort {
	return &memPort{in: make(chan []byte, 1024), max: max, kick: make(chan struct{}, 1), closed: make(chan struct{})}
}

func (m *memPort) ReadFrame(p []byte) (int, error) {
	for {
		m.mu.Lock()
		dl := m.deadline
		m.mu.Unlock()
		var timeout <-chan time.Time
		if !dl.IsZero() {
			if !time.Now().Before(dl) {
				return 0, os.ErrDeadlineExceeded
			}
			tm := time.NewTimer(time.Until(dl))
			defer tm.Stop()
			timeout = tm.C
		}
		select {
		case f := <-m.in:
			if len(f) > len(p) {
				return 0, ErrFrameTooLarge
			}
			return copy(p, f), nil
		case <-m.kick:
		case <-timeout:
		case <-m.closed:
			return 0, net.ErrClosed
		}
	}
}

func (m *memPort) WriteFrame(p []byte) error {
	select {
	case <-m.closed:
		return net.ErrClosed
	default:
	}
	if m.writeHook != nil {
		if err := m.writeHook(p); err != nil {
			return err
		}
	}
	m.mu.Lock()
	m.written = append(m.written, append([]byte(nil), p...))
	m.mu.Unlock()
	return nil
}

func (m *memPort) MaxFrame() int { return m.max }

func (m *memPort) Close() error {
	m.once.Do(func() { close(m.closed) })
	m.mu.Lock()
	m.closes++
	m.mu.Unlock()
	return nil
}

func (m *memPort) SetReadDeadline(t time.Time) error {
	m.mu.Lock()
	m.deadline = t
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
	return nil
}

func (m *memPort) frames() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.written...)
}

// plainPort is a memPort without SetReadDeadline.
type plainPort struct{ m *memPort }

func (p plainPort) ReadFrame(b []byte) (int, error) { return p.m.ReadFrame(b) }
func (p plainPort) WriteFrame(b []byte) error       { return p.m.WriteFrame(b) }
func (p plainPort) MaxFrame() int                   { return p.m.MaxFrame() }
func (p plainPort) Close() error                    { return p.m.Close() }

// testFrame is an n-byte frame (n >= 14) that carries seq and a pattern
// derived from both, so a receiver can check it is whole and which it is.
func testFrame(n int, seq uint32) []byte {
	f := make([]byte, n)
	copy(f, []byte{0x52, 0x54, 0, 0, 0, 2, 0x52, 0x54, 0, 0, 0, 1, 0x88, 0xb5}) // local experimental EtherType
	if n >= 18 {
		binary.BigEndian.PutUint32(f[14:], seq)
	}
	for i := 18; i < n; i++ {
		f[i] = byte(seq) + byte(i)
	}
	return f
}

func frameSeq(f []byte) uint32 {
	if len(f) < 18 {
		return 0
	}
	return binary.BigEndian.Uint32(f[14:])
}

func checkFrame(t *testing.T, got []byte, n int, seq uint32) {
	t.Helper()
	if want := testFrame(n, seq); !bytes.Equal(got, want) {
		t.Fatalf("frame %d (%d bytes): got %d bytes %x..., want %x...", seq, n, len(got), head(got), head(want))
	}
}

func head(b []byte) []byte { return b[:min(len(b), 24)] }

// shortDir is a directory for unix sockets whose paths stay under
// macOS's 104 bytes (t.TempDir's can be long).
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "vmnet-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// vmSocket plays a VM's NIC socket (QEMU's -netdev dgram): bound at path,
// sending to the network's socket.
type vmSocket struct {
	c  *net.UnixConn
	to *net.UnixAddr
}

func newVMSocket(t *testing.T, path, network string) *vmSocket {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); os.Remove(path) })
	return &vmSocket{c: c, to: &net.UnixAddr{Name: network, Net: "unixgram"}}
}

func (v *vmSocket) send(t *testing.T, f []byte) {
	t.Helper()
	if _, _, err := v.c.WriteMsgUnix(f, nil, v.to); err != nil {
		t.Fatal(err)
	}
}

func (v *vmSocket) recv(t *testing.T, timeout time.Duration) []byte {
	t.Helper()
	buf := make([]byte, 70000)
	v.c.SetReadDeadline(time.Now().Add(timeout))
	n, err := v.c.Read(buf)
	if err != nil {
		t.Fatalf("the VM's socket received nothing: %v", err)
	}
	return buf[:n]
}

func recvConn(t *testing.T, c *net.UnixConn, timeout time.Duration) []byte {
	t.Helper()
	buf := make([]byte, 70000)
	c.SetReadDeadline(time.Now().Add(timeout))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("the engine's socket received nothing: %v", err)
	}
	return buf[:n]
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func isTimeout(err error) bool {
	return err != nil && (os.IsTimeout(err) || strings.Contains(err.Error(), "i/o timeout"))
}
