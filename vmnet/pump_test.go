package vmnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rig is a pump between a VM's socket and an engine, as a network process
// runs it: the VM's NIC is a datagram socket bound at vm.sock (QEMU's
// -netdev dgram plays it here), the network listens at net.sock
// (ListenDatagram), and the engine holds one end of a DatagramPair.
type rig struct {
	dir     string
	vm      *vmSocket
	vmPort  *DatagramPort
	engine  *net.UnixConn
	engPort *DatagramPort
	stats   *Stats
	cancel  context.CancelFunc
	done    chan error
}

func newRig(t *testing.T, opts PumpOptions, configure ...func(*rig)) *rig {
	t.Helper()
	r := &rig{dir: shortDir(t)}
	var err error
	r.vmPort, err = ListenDatagram(filepath.Join(r.dir, "net.sock"), filepath.Join(r.dir, "vm.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.vmPort.Close() })
	r.vm = newVMSocket(t, filepath.Join(r.dir, "vm.sock"), filepath.Join(r.dir, "net.sock"))
	r.engPort, r.engine, err = DatagramPair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.engPort.Close(); r.engine.Close() })
	if opts.Stats == nil {
		opts.Stats = new(Stats)
	}
	r.stats = opts.Stats
	for _, f := range configure {
		f(r)
	}
	r.start(t, opts)
	return r
}

func (r *rig) start(t *testing.T, opts PumpOptions) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- Pump(ctx, r.vmPort, r.engPort, opts) }()
	t.Cleanup(func() { r.stop(t) })
}

// stop cancels the pump and returns its error (once; later calls nil).
func (r *rig) stop(t *testing.T) error {
	t.Helper()
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Pump did not return after its context was canceled")
	}
	return nil
}

// ended waits for the pump to return on its own.
func (r *rig) ended(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.cancel()
		r.cancel = nil
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Pump did not return")
	}
	return nil
}

func TestPumpEverySize(t *testing.T) {
	noLeaks(t)
	r := newRig(t, PumpOptions{}, func(r *rig) { r.vmPort.SetMaxFrame(1514) })
	// Every size from an Ethernet header to a full 1500-byte MTU frame,
	// each way, checked byte for byte.
	for n := MinFrame; n <= 1514; n++ {
		r.vm.send(t, testFrame(n, uint32(n)))
		checkFrame(t, recvConn(t, r.engine, 5*time.Second), n, uint32(n))
		if _, err := r.engine.Write(testFrame(n, uint32(n+100000))); err != nil {
			t.Fatal(err)
		}
		checkFrame(t, r.vm.recv(t, 5*time.Second), n, uint32(n+100000))
	}
	const sizes = 1514 - MinFrame + 1
	// The pump counts a frame once its write returned, which may be
	// after the receiver read it.
	waitFor(t, "the last frames counted", func() bool {
		return r.stats.FromVM.Frames.Load() >= sizes && r.stats.ToVM.Frames.Load() >= sizes
	})
	from, to := r.stats.FromVM.Load(), r.stats.ToVM.Load()
	wantBytes := uint64((MinFrame + 1514) * sizes / 2)
	if from.Frames != sizes || to.Frames != sizes || from.Bytes != wantBytes || to.Bytes != wantBytes || from.Dropped() != 0 || to.Dropped() != 0 {
		t.Fatalf("stats from the VM %+v, to it %+v; want %d frames, %d bytes each way", from, to, sizes, wantBytes)
	}
	// The VM's port carries no more than its MTU: a larger frame from
	// the engine is dropped.
	if _, err := r.engine.Write(testFrame(1515, 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the oversized frame to be counted", func() bool { return r.stats.ToVM.TooLarge.Load() == 1 })
}

func TestPumpBurst(t *testing.T) {
	noLeaks(t)
	r := newRig(t, PumpOptions{})
	const n = 5000
	size := func(seq uint32) int { return 60 + int(seq*37%1454) }

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for seq := range uint32(n) {
			if _, _, err := r.vm.c.WriteMsgUnix(testFrame(size(seq), seq), nil, r.vm.to); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for seq := range uint32(n) {
			if _, err := r.engine.Write(testFrame(size(seq), seq)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	type got struct {
		seqs []uint32
		err  error
	}
	receive := func(c *net.UnixConn, counted *Counters) chan got {
		ch := make(chan got, 1)
		go func() {
			var g got
			buf := make([]byte, 2000)
			for {
				// Read until every frame sent is accounted for (written
				// or dropped) and nothing more arrives.
				c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				k, err := c.Read(buf)
				if isTimeout(err) {
					if c := counted.Load(); c.Frames+c.Dropped() == n {
						ch <- g
						return
					}
					continue
				}
				if err != nil {
					g.err = err
					ch <- g
					return
				}
				seq := frameSeq(buf[:k])
				if k != size(seq) || string(buf[:k]) != string(testFrame(k, seq)) {
					g.err = fmt.Errorf("frame %d: %d bytes, not whole", seq, k)
					ch <- g
					return
				}
				g.seqs = append(g.seqs, seq)
			}
		}()
		return ch
	}
	toEngine := receive(r.engine, &r.stats.FromVM)
	toVM := receive(r.vm.c, &r.stats.ToVM)
	wg.Wait()
	for _, d := range []struct {
		name string
		ch   chan got
		c    *Counters
	}{{"from the VM", toEngine, &r.stats.FromVM}, {"to the VM", toVM, &r.stats.ToVM}} {
		var g got
		select {
		case g = <-d.ch:
		case <-time.After(60 * time.Second):
			t.Fatalf("%s: frames still unaccounted for: %+v", d.name, d.c.Load())
		}
		if g.err != nil {
			t.Fatalf("%s: %v", d.name, g.err)
		}
		c := d.c.Load()
		for i := 1; i < len(g.seqs); i++ {
			if g.seqs[i] <= g.seqs[i-1] {
				t.Fatalf("%s: frame %d arrived after frame %d", d.name, g.seqs[i], g.seqs[i-1])
			}
		}
		if uint64(len(g.seqs)) != c.Frames || c.Frames+c.Dropped() != n || c.Dropped() != c.BufferFull {
			t.Fatalf("%s: %d frames received, counters %+v; want all %d sent accounted for, drops only for a full buffer", d.name, len(g.seqs), c, n)
		}
		t.Logf("%s: %d of %d frames delivered in order; %d dropped with the receiver full, %d retries", d.name, c.Frames, n, c.BufferFull, c.Retries)
	}
}

func TestPumpVMGoesAway(t *testing.T) {
	noLeaks(t)
	r := newRig(t, PumpOptions{})
	r.vm.send(t, testFrame(100, 1))
	checkFrame(t, recvConn(t, r.engine, 5*time.Second), 100, 1)

	// The VM stops: its socket goes. Frames for it are counted as having
	// no peer, and the pump goes on.
	r.vm.c.Close()
	if _, err := r.engine.Write(testFrame(100, 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a frame to count as having no peer", func() bool { return r.stats.ToVM.NoPeer.Load() == 1 })
	select {
	case err := <-r.done:
		t.Fatalf("Pump ended when the VM went away: %v", err)
	default:
	}

	// It restarts on the same path (its old socket file removed, as a
	// VM's run directory is): traffic resumes both ways.
	os.Remove(filepath.Join(r.dir, "vm.sock"))
	r.vm = newVMSocket(t, filepath.Join(r.dir, "vm.sock"), filepath.Join(r.dir, "net.sock"))
	if _, err := r.engine.Write(testFrame(200, 3)); err != nil {
		t.Fatal(err)
	}
	checkFrame(t, r.vm.recv(t, 5*time.Second), 200, 3)
	r.vm.send(t, testFrame(300, 4))
	checkFrame(t, recvConn(t, r.engine, 5*time.Second), 300, 4)
}

func TestPumpPortClosed(t *testing.T) {
	t.Run("the VM's port", func(t *testing.T) {
		noLeaks(t)
		r := newRig(t, PumpOptions{})
		r.vmPort.Close()
		err := r.ended(t)
		var pe *PortError
		if !errors.As(err, &pe) || pe.Port != "vm" || pe.Op != "read" || !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Pump = %v, want a read error on the vm port that is net.ErrClosed", err)
		}
		// The engine's port is left as it was, with no deadline.
		if _, err := r.engine.Write(testFrame(64, 7)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1514)
		n, err := r.engPort.ReadFrame(buf)
		if err != nil {
			t.Fatalf("the engine's port after the pump: %v", err)
		}
		checkFrame(t, buf[:n], 64, 7)
		if err := r.engPort.WriteFrame(testFrame(65, 8)); err != nil {
			t.Fatal(err)
		}
		checkFrame(t, recvConn(t, r.engine, 5*time.Second), 65, 8)
	})
	t.Run("the engine's port", func(t *testing.T) {
		noLeaks(t)
		r := newRig(t, PumpOptions{})
		r.engPort.Close()
		err := r.ended(t)
		var pe *PortError
		if !errors.As(err, &pe) || pe.Port != "engine" || !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Pump = %v, want an error on the engine port that is net.ErrClosed", err)
		}
		r.vm.send(t, testFrame(64, 9))
		buf := make([]byte, 1514)
		n, err := r.vmPort.ReadFrame(buf)
		if err != nil {
			t.Fatalf("the VM's port after the pump: %v", err)
		}
		checkFrame(t, buf[:n], 64, 9)
	})
	t.Run("the engine's far end", func(t *testing.T) {
		// The engine lets go of its end of the pair: the first write
		// finds no peer (ECONNREFUSED), the next finds the socket
		// disconnected (ENOTCONN), which ends the pump.
		noLeaks(t)
		r := newRig(t, PumpOptions{})
		r.engine.Close()
		r.vm.send(t, testFrame(64, 1))
		waitFor(t, "a frame without a peer", func() bool { return r.stats.FromVM.NoPeer.Load() == 1 })
		r.vm.send(t, testFrame(64, 2))
		err := r.ended(t)
		var pe *PortError
		if !errors.As(err, &pe) || pe.Port != "engine" || pe.Op != "write" || !errors.Is(err, syscall.ENOTCONN) {
			t.Fatalf("Pump = %v, want a write error on the engine port that is ENOTCONN", err)
		}
		// The VM's port is still usable for the next engine.
		r.vm.send(t, testFrame(64, 3))
		buf := make([]byte, 1514)
		if n, err := r.vmPort.ReadFrame(buf); err != nil || n != 64 {
			t.Fatalf("the VM's port after the pump: %d, %v", n, err)
		}
	})
}

func TestPumpContextCanceled(t *testing.T) {
	noLeaks(t)
	r := newRig(t, PumpOptions{})
	start := time.Now()
	if err := r.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Pump = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Pump took %v to return", d)
	}
	// Both ports are usable, without the deadline Pump used.
	r.vm.send(t, testFrame(80, 1))
	buf := make([]byte, 1514)
	if n, err := r.vmPort.ReadFrame(buf); err != nil || n != 80 {
		t.Fatalf("the VM's port: %d, %v", n, err)
	}
	if _, err := r.engine.Write(testFrame(81, 2)); err != nil {
		t.Fatal(err)
	}
	if n, err := r.engPort.ReadFrame(buf); err != nil || n != 81 {
		t.Fatalf("the engine's port: %d, %v", n, err)
	}
	// A context that has already ended returns at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Pump(ctx, r.vmPort, r.engPort, PumpOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Pump with an ended context = %v", err)
	}
}

// runPump runs Pump between vm and engine until the test ends or the
// returned stop is called; a Pump that does not return in time fails the
// test.
func runPump(t *testing.T, vm, engine Port, opts PumpOptions) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Pump(ctx, vm, engine, opts) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = fmt.Errorf("Pump did not return")
				t.Error(err)
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestPumpBufferFull(t *testing.T) {
	for _, fails := range []int{0, 1, 3, maxRetries} {
		t.Run(fmt.Sprintf("full %d times", fails), func(t *testing.T) {
			noLeaks(t)
			vm, eng := newMemPort(1514), newMemPort(1514)
			calls := 0
			eng.writeHook = func([]byte) error {
				calls++
				if calls <= fails {
					return syscall.ENOBUFS
				}
				return nil
			}
			var st Stats
			runPump(t, vm, eng, PumpOptions{Stats: &st})
			vm.in <- testFrame(100, 1)
			waitFor(t, "the frame", func() bool { return st.FromVM.Frames.Load() == 1 })
			if c := st.FromVM.Load(); c.Retries != uint64(fails) || c.Dropped() != 0 {
				t.Fatalf("counters %+v, want %d retries and no drop", c, fails)
			}
			checkFrame(t, eng.frames()[0], 100, 1)
		})
	}
	for _, full := range []error{syscall.ENOBUFS, syscall.EAGAIN, fmt.Errorf("vmnet: %w", ErrBufferFull)} {
		t.Run(fmt.Sprintf("always %v", full), func(t *testing.T) {
			noLeaks(t)
			vm, eng := newMemPort(1514), newMemPort(1514)
			eng.writeHook = func([]byte) error { return full }
			var st Stats
			runPump(t, vm, eng, PumpOptions{Stats: &st})
			start := time.Now()
			for seq := range uint32(3) {
				vm.in <- testFrame(100, seq)
			}
			waitFor(t, "three drops", func() bool { return st.FromVM.BufferFull.Load() == 3 })
			if c := st.FromVM.Load(); c.Retries != 3*maxRetries || c.Frames != 0 || len(eng.frames()) != 0 {
				t.Fatalf("counters %+v, want %d retries", c, 3*maxRetries)
			}
			if d := time.Since(start); d < 3*maxRetries*retryDelay {
				t.Fatalf("three frames dropped in %v: the retries did not wait", d)
			}
		})
	}
}

func TestPumpWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		err     error
		counter func(Count) uint64
	}{
		{syscall.ENOENT, func(c Count) uint64 { return c.NoPeer }},
		{syscall.ECONNREFUSED, func(c Count) uint64 { return c.NoPeer }},
		{fmt.Errorf("x: %w", ErrNoPeer), func(c Count) uint64 { return c.NoPeer }},
		{syscall.EMSGSIZE, func(c Count) uint64 { return c.TooLarge }},
		{&Error{Op: OpWrite, Status: StatusPacketTooBig}, func(c Count) uint64 { return c.TooLarge }},
		{&Error{Op: OpWrite, Status: StatusInvalidArgument}, func(c Count) uint64 { return c.WriteErrors }},
		{&Error{Op: OpWrite, Status: StatusBufferExhausted}, func(c Count) uint64 { return c.BufferFull }},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			noLeaks(t)
			vm, eng := newMemPort(1514), newMemPort(1514)
			var fail sync.Map
			eng.writeHook = func(p []byte) error {
				if _, ok := fail.Load(frameSeq(p)); ok {
					return tc.err
				}
				return nil
			}
			fail.Store(uint32(1), true)
			var st Stats
			runPump(t, vm, eng, PumpOptions{Stats: &st})
			vm.in <- testFrame(100, 1)
			vm.in <- testFrame(100, 2)
			waitFor(t, "the second frame", func() bool { return st.FromVM.Frames.Load() == 1 })
			if c := st.FromVM.Load(); tc.counter(c) != 1 || c.Dropped() != 1 {
				t.Fatalf("counters %+v", c)
			}
		})
	}
	t.Run("an unknown error ends the pump", func(t *testing.T) {
		noLeaks(t)
		vm, eng := newMemPort(1514), newMemPort(1514)
		boom := errors.New("boom")
		eng.writeHook = func([]byte) error { return boom }
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		vm.in <- testFrame(100, 1)
		err := Pump(ctx, vm, eng, PumpOptions{})
		var pe *PortError
		if !errors.As(err, &pe) || pe.Port != "engine" || pe.Op != "write" || !errors.Is(err, boom) {
			t.Fatalf("Pump = %v", err)
		}
		if vm.closes != 0 || eng.closes != 0 {
			t.Fatalf("Pump closed a port (vm %d, engine %d)", vm.closes, eng.closes)
		}
	})
}

func TestPumpFilters(t *testing.T) {
	noLeaks(t)
	vm, eng := newMemPort(1514), newMemPort(1514)
	odd := func(f []byte) bool { return frameSeq(f)%2 == 1 }
	even := func(f []byte) bool { return frameSeq(f)%2 == 0 }
	var st Stats
	runPump(t, vm, eng, PumpOptions{FromVM: odd, ToVM: even, Stats: &st})
	for seq := range uint32(10) {
		vm.in <- testFrame(70, seq)
		eng.in <- testFrame(71, seq)
	}
	waitFor(t, "every frame", func() bool {
		a, b := st.FromVM.Load(), st.ToVM.Load()
		return a.Frames+a.Dropped() == 10 && b.Frames+b.Dropped() == 10
	})
	for _, d := range []struct {
		port *memPort
		c    Count
		keep uint32
	}{{eng, st.FromVM.Load(), 1}, {vm, st.ToVM.Load(), 0}} {
		if d.c.Frames != 5 || d.c.Filtered != 5 || d.c.Dropped() != 5 {
			t.Fatalf("counters %+v, want 5 passed and 5 filtered", d.c)
		}
		for _, f := range d.port.frames() {
			if frameSeq(f)%2 != d.keep {
				t.Fatalf("frame %d passed the filter", frameSeq(f))
			}
		}
	}
}

func TestPumpFrameSizes(t *testing.T) {
	noLeaks(t)
	// The VM's port carries 200-byte frames, the engine's 100.
	vm, eng := newMemPort(200), newMemPort(100)
	var st Stats
	runPump(t, vm, eng, PumpOptions{Stats: &st})
	vm.in <- nil                   // an empty datagram
	vm.in <- []byte("VFKT")        // vfkit's greeting
	vm.in <- testFrame(13, 0)[:13] // one byte short of a header
	vm.in <- testFrame(14, 1)      // a bare header: passes
	vm.in <- testFrame(100, 2)     // the engine's largest: passes
	vm.in <- testFrame(101, 3)     // larger than the engine takes
	vm.in <- testFrame(201, 4)     // larger than the VM's port carries
	vm.in <- testFrame(60, 5)
	waitFor(t, "every frame", func() bool { c := st.FromVM.Load(); return c.Frames+c.Dropped() == 8 })
	c := st.FromVM.Load()
	if c.TooSmall != 3 || c.TooLarge != 2 || c.Frames != 3 || c.Bytes != 14+100+60 {
		t.Fatalf("counters %+v", c)
	}
	got := eng.frames()
	for i, want := range []struct {
		n   int
		seq uint32
	}{{14, 1}, {100, 2}, {60, 5}} {
		checkFrame(t, got[i], want.n, want.seq)
	}
}

func TestPumpPortWithoutDeadline(t *testing.T) {
	noLeaks(t)
	vm, eng := newMemPort(1514), newMemPort(1514)
	stop := runPump(t, plainPort{vm}, eng, PumpOptions{})
	vm.in <- testFrame(64, 1)
	waitFor(t, "the frame", func() bool { return len(eng.frames()) == 1 })
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Pump = %v", err)
	}
	// The port Pump could not interrupt was closed; the other was not.
	if vm.closes != 1 || eng.closes != 0 {
		t.Fatalf("closes: vm %d, engine %d; want 1, 0", vm.closes, eng.closes)
	}
	eng.in <- testFrame(64, 2)
	buf := make([]byte, 100)
	if n, err := eng.ReadFrame(buf); err != nil || n != 64 {
		t.Fatalf("the engine's port after the pump: %d, %v", n, err)
	}
}

func TestPumpRefusesTinyPorts(t *testing.T) {
	err := Pump(context.Background(), newMemPort(10), newMemPort(1514), PumpOptions{})
	if err == nil {
		t.Fatal("Pump took a port whose MaxFrame is 10")
	}
}
