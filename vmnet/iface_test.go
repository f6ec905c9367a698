package vmnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeVmnet is a device that behaves as vmnet_read and vmnet_write do, as
// far as the notes tell: a read fills up to *pktcnt descriptors, shrinking
// vm_pkt_size to each frame's length (and here also setting vm_flags, so a
// missed reset shows); a write takes one frame whose vm_pkt_size and
// iov_len must agree and which vmnet refuses under 64 bytes.
type fakeVmnet struct {
	max int

	mu      sync.Mutex
	iface   *Interface
	queue   [][]byte // frames for the host, not read yet
	bufs    [][]byte
	reads   []int    // packets returned by each read
	bad     []string // rule violations seen
	written [][]byte
	stops   int
	readErr error
}

func newFakeInterface(t *testing.T, p Params) (*Interface, *fakeVmnet) {
	t.Helper()
	f := &fakeVmnet{max: int(p.MaxPacketSize)}
	i, err := newInterface(f, p)
	if err != nil {
		t.Fatal(err)
	}
	f.iface = i
	t.Cleanup(func() { i.Close() })
	return i, f
}

func (f *fakeVmnet) read(ds []pktDesc) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readErr != nil {
		return 0, f.readErr
	}
	for len(f.bufs) < len(ds) {
		f.bufs = append(f.bufs, make([]byte, f.max))
	}
	n := 0
	for n < len(ds) && len(f.queue) > 0 {
		d := ds[n]
		if d.Size != uint64(f.max) || d.IovLen != uint64(f.max) || d.IovCnt != 1 || d.Flags != 0 {
			f.bad = append(f.bad, fmt.Sprintf("read %d: descriptor %d not reset: %+v", len(f.reads), n, d))
		}
		frame := f.queue[0]
		f.queue = f.queue[1:]
		copy(f.bufs[n], frame)
		ds[n].Size = uint64(len(frame))
		ds[n].Flags = 7
		n++
	}
	f.reads = append(f.reads, n)
	return n, nil
}

func (f *fakeVmnet) packet(i, n int) []byte { return f.bufs[i][:n] }

func (f *fakeVmnet) write(frame []byte, d pktDesc) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d.Size != uint64(len(frame)) || d.IovLen != d.Size || d.IovCnt != 1 {
		f.bad = append(f.bad, fmt.Sprintf("write: descriptor %+v for %d bytes", d, len(frame)))
	}
	if len(frame) < 64 {
		return statusError(OpWrite, StatusInvalidArgument)
	}
	f.written = append(f.written, append([]byte(nil), frame...))
	return nil
}

func (f *fakeVmnet) stop() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops++
	return nil
}

// deliver gives vmnet frames for the host and fires its event.
func (f *fakeVmnet) deliver(frames ...[]byte) {
	f.mu.Lock()
	f.queue = append(f.queue, frames...)
	f.mu.Unlock()
	f.iface.packetsAvailable()
}

func (f *fakeVmnet) check(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.bad {
		t.Error(b)
	}
}

var params1514 = Params{MTU: 1500, MaxPacketSize: 1514, ReadMaxPackets: 256, WriteMaxPackets: 256}

func TestInterfaceReadsInBatches(t *testing.T) {
	noLeaks(t)
	i, f := newFakeInterface(t, params1514)
	const n = 300
	var frames [][]byte
	for seq := range uint32(n) {
		frames = append(frames, testFrame(60+int(seq)*4, seq))
	}
	f.deliver(frames...)
	buf := make([]byte, 1514)
	for seq := range uint32(n) {
		k, err := i.ReadFrame(buf)
		if err != nil {
			t.Fatal(err)
		}
		checkFrame(t, buf[:k], 60+int(seq)*4, seq)
	}
	f.mu.Lock()
	reads := fmt.Sprint(f.reads)
	f.mu.Unlock()
	if reads != "[128 128 44]" {
		t.Fatalf("reads returned %s packets, want batches of 128", reads)
	}
	f.check(t)

	// Nothing left: ReadFrame waits for the event, then reads again.
	got := make(chan error, 1)
	go func() {
		k, err := i.ReadFrame(buf)
		if err == nil && k != 1514 {
			err = fmt.Errorf("%d bytes", k)
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("ReadFrame returned with nothing to read: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	f.deliver(testFrame(1514, 1))
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	f.check(t)
}

func TestInterfaceFrameLargerThanBuffer(t *testing.T) {
	i, f := newFakeInterface(t, params1514)
	f.deliver(testFrame(1000, 1), testFrame(100, 2))
	buf := make([]byte, 500)
	if _, err := i.ReadFrame(buf); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("a 1000-byte frame into 500 bytes: %v", err)
	}
	if k, err := i.ReadFrame(buf); err != nil || k != 100 {
		t.Fatalf("the next frame: %d, %v", k, err)
	}
}

func TestInterfaceDeadline(t *testing.T) {
	noLeaks(t)
	i, f := newFakeInterface(t, params1514)
	buf := make([]byte, 1514)
	i.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := i.ReadFrame(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past the deadline: %v", err)
	}
	// A deadline set while ReadFrame waits ends the wait.
	i.SetReadDeadline(time.Time{})
	got := make(chan error, 1)
	go func() { _, err := i.ReadFrame(buf); got <- err }()
	time.Sleep(20 * time.Millisecond)
	i.SetReadDeadline(time.Unix(1, 0))
	select {
	case err := <-got:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadFrame = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a deadline in the past did not end ReadFrame")
	}
	i.SetReadDeadline(time.Time{})
	f.deliver(testFrame(64, 1))
	if k, err := i.ReadFrame(buf); err != nil || k != 64 {
		t.Fatalf("after clearing the deadline: %d, %v", k, err)
	}
}

func TestInterfaceWrites(t *testing.T) {
	i, f := newFakeInterface(t, params1514)
	for _, n := range []int{14, 42, 63, 64, 1514} {
		if err := i.WriteFrame(testFrame(n, uint32(n))); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
	if err := i.WriteFrame(testFrame(1515, 0)); !errors.Is(err, ErrFrameTooLarge) || classifyWrite(err) != dropTooLarge {
		t.Fatalf("1515 bytes: %v", err)
	}
	f.mu.Lock()
	written := f.written
	f.mu.Unlock()
	if len(written) != 5 {
		t.Fatalf("vmnet got %d frames", len(written))
	}
	for k, n := range []int{14, 42, 63, 64, 1514} {
		w := written[k]
		if len(w) != max(n, 64) || string(w[:n]) != string(testFrame(n, uint32(n))) {
			t.Fatalf("frame of %d bytes reached vmnet as %d bytes", n, len(w))
		}
	}
	f.check(t)
}

func TestInterfaceClose(t *testing.T) {
	noLeaks(t)
	i, f := newFakeInterface(t, params1514)
	buf := make([]byte, 1514)
	got := make(chan error, 1)
	go func() { _, err := i.ReadFrame(buf); got <- err }()
	time.Sleep(20 * time.Millisecond)
	if err := i.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadFrame after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end ReadFrame")
	}
	i.Close()
	if f.stops != 1 {
		t.Fatalf("the interface was stopped %d times", f.stops)
	}
	if err := i.WriteFrame(testFrame(64, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteFrame after Close: %v", err)
	}
	if _, err := i.ReadFrame(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadFrame after Close: %v", err)
	}

	// Frames read before Close are not copied out of freed buffers.
	j, g := newFakeInterface(t, params1514)
	g.deliver(testFrame(64, 1), testFrame(64, 2))
	if _, err := j.ReadFrame(buf); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if _, err := j.ReadFrame(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a frame left in the batch after Close: %v", err)
	}
}

func TestInterfaceReadError(t *testing.T) {
	i, f := newFakeInterface(t, params1514)
	f.readErr = statusError(OpRead, StatusFailure)
	if _, err := i.ReadFrame(make([]byte, 1514)); !errors.Is(err, f.readErr) {
		t.Fatalf("ReadFrame = %v", err)
	}
	if _, err := newInterface(f, Params{}); err == nil {
		t.Fatal("an interface with a max packet size of 0")
	}
}

// TestPumpThroughInterface runs the Mac's path with vmnet faked: a VM's
// datagram socket, ListenDatagram, Pump, Interface, vmnet's calls. Every
// line of it but the cgo calls is what runs on a Mac.
func TestPumpThroughInterface(t *testing.T) {
	noLeaks(t)
	dir := shortDir(t)
	vmPort, err := ListenDatagram(filepath.Join(dir, "net.sock"), filepath.Join(dir, "vm.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer vmPort.Close()
	vm := newVMSocket(t, filepath.Join(dir, "vm.sock"), filepath.Join(dir, "net.sock"))
	vmPort.SetMaxFrame(1514)
	i, f := newFakeInterface(t, params1514)

	var st Stats
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Pump(ctx, vmPort, i, PumpOptions{Stats: &st}) }()

	// The VM's frames reach vmnet, the short ones padded; its greeting
	// does not.
	vm.send(t, []byte("VFKT"))
	for n := MinFrame; n <= 1514; n++ {
		vm.send(t, testFrame(n, uint32(n)))
	}
	waitFor(t, "every frame at vmnet", func() bool { return st.FromVM.Frames.Load() == 1514-MinFrame+1 })
	f.mu.Lock()
	written := f.written
	f.mu.Unlock()
	for k, w := range written {
		n := MinFrame + k
		if len(w) != max(n, 64) || string(w[:n]) != string(testFrame(n, uint32(n))) {
			t.Fatalf("the VM's %d-byte frame reached vmnet as %d bytes", n, len(w))
		}
	}
	if c := st.FromVM.Load(); c.TooSmall != 1 || c.Dropped() != 1 {
		t.Fatalf("from the VM: %+v", c)
	}

	// vmnet's frames reach the VM, in batches, in order. (Eight at a
	// time: Linux queues at most net.unix.max_dgram_qlen = 10 datagrams
	// for a socket that is not connected back to its sender, as QEMU's
	// is not, and the pump drops beyond that, as it must.)
	for n := MinFrame; n <= 1514; n += 8 {
		var frames [][]byte
		for k := n; k < n+8 && k <= 1514; k++ {
			frames = append(frames, testFrame(k, uint32(k)))
		}
		f.deliver(frames...)
		for k := n; k < n+8 && k <= 1514; k++ {
			checkFrame(t, vm.recv(t, 5*time.Second), k, uint32(k))
		}
	}
	// Counted once the write returned, which may be after the VM read it.
	waitFor(t, "the last frame counted", func() bool { return st.ToVM.Frames.Load() >= 1514-MinFrame+1 })
	if c := st.ToVM.Load(); c.Frames != 1514-MinFrame+1 || c.Dropped() != 0 {
		t.Fatalf("to the VM: %+v", c)
	}
	f.check(t)

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Pump = %v", err)
	}
	if f.stops != 0 {
		t.Fatal("Pump stopped the interface")
	}
}

func TestInterfaceConcurrentClose(t *testing.T) {
	noLeaks(t)
	for range 20 {
		i, f := newFakeInterface(t, params1514)
		var wg sync.WaitGroup
		wg.Add(3)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1514)
			for {
				if _, err := i.ReadFrame(buf); errors.Is(err, net.ErrClosed) {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for {
				if err := i.WriteFrame(testFrame(100, 1)); errors.Is(err, net.ErrClosed) {
					return
				}
				f.deliver(testFrame(100, 2))
			}
		}()
		go func() {
			defer wg.Done()
			time.Sleep(time.Millisecond)
			i.Close()
		}()
		wg.Wait()
	}
}
