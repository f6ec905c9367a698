package vmnet

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// MinFrame is the shortest frame Pump passes: an Ethernet header
// (destination, source, EtherType). Anything shorter is not a frame:
// vfkit's and Berth's vz driver's 4-byte "VFKT" greeting is the one a VM's
// socket sends. Frames from 14 bytes up pass as they are, in both
// directions: Linux guests send 42-byte ARP frames (virtio-net does not
// pad to Ethernet's 60), and padding is the business of the port that
// needs it (Interface pads what it gives vmnet to 64 bytes).
const MinFrame = 14

// The buffer-full policy, vmnet-helper's: its measurements show one 50 µs
// wait is enough in most cases. After maxRetries waits the frame is
// dropped, as a switch drops for a port that does not drain: a VM that
// stops reading must not stall its engine.
const (
	retryDelay = 50 * time.Microsecond
	maxRetries = 10
)

// PumpOptions configure Pump.
type PumpOptions struct {
	FromVM Filter // frames from the VM to the engine (nil: all pass)
	ToVM   Filter // frames from the engine to the VM (nil: all pass)
	Stats  *Stats // counters (frames, bytes, dropped by filter, dropped too small/large, write errors), atomic
}

// Stats counts what Pump did, per direction. Pumps may share one (a
// network process restarting the pump of a VM keeps its counts).
type Stats struct {
	FromVM, ToVM Counters
}

// Counters are one direction's counts. Every frame read is counted once:
// as written (Frames), or under the reason it was dropped.
type Counters struct {
	Frames      atomic.Uint64 // frames written
	Bytes       atomic.Uint64 // their bytes
	Filtered    atomic.Uint64 // dropped by the direction's Filter
	TooSmall    atomic.Uint64 // shorter than MinFrame
	TooLarge    atomic.Uint64 // longer than the destination's MaxFrame, or than the source carries
	NoPeer      atomic.Uint64 // dropped: nobody received at the destination yet (ErrNoPeer)
	BufferFull  atomic.Uint64 // dropped: the destination was still full after the retries
	WriteErrors atomic.Uint64 // dropped: the destination refused the frame (ErrFrameRefused)
	Retries     atomic.Uint64 // writes retried because the destination was full
}

// Count is a snapshot of Counters.
type Count struct {
	Frames, Bytes, Filtered, TooSmall, TooLarge, NoPeer, BufferFull, WriteErrors, Retries uint64
}

// Load reads the counters (each atomically; not all at one instant).
func (c *Counters) Load() Count {
	return Count{
		Frames: c.Frames.Load(), Bytes: c.Bytes.Load(), Filtered: c.Filtered.Load(),
		TooSmall: c.TooSmall.Load(), TooLarge: c.TooLarge.Load(), NoPeer: c.NoPeer.Load(),
		BufferFull: c.BufferFull.Load(), WriteErrors: c.WriteErrors.Load(), Retries: c.Retries.Load(),
	}
}

// Dropped is the number of frames read but not written.
func (c Count) Dropped() uint64 {
	return c.Filtered + c.TooSmall + c.TooLarge + c.NoPeer + c.BufferFull + c.WriteErrors
}

// Pump moves frames both ways between vm and engine until ctx ends or
// either side fails or closes, and returns only once both directions have
// stopped.
//
// It closes neither port: a network process keeps one engine for many
// VMs, and a VM that goes away must not take its engine down, nor the
// engine a VM that a new pump may serve. To stop the read still blocked
// on the other port, Pump sets that port's read deadline in the past
// (every port in this package has SetReadDeadline) and clears it once the
// reader has returned, so both ports are usable again when Pump returns.
// A port without SetReadDeadline cannot be interrupted: Pump closes it
// (and only it). While Pump runs, the ports' read deadlines are its own.
//
// Frames shorter than MinFrame or longer than the destination's MaxFrame
// (read once, when Pump starts) are dropped; so are frames a filter
// refuses, and frames the destination cannot take at the moment: a full
// buffer is retried for about half a millisecond, a missing peer (a VM
// not started yet) is not retried. Each drop is counted in opts.Stats.
//
// A datagram socket never reports that its peer went away on reads, so a
// VM that stops shows up only as writes to it failing with ErrNoPeer
// (counted); a connected socket whose peer has gone reports ENOTCONN on
// the next write, which ends Pump. The network process ends the pump of a
// VM it stops with ctx.
//
// It returns ctx.Err() when ctx ended it, and otherwise a *PortError
// naming the port, the operation and its error (errors.Is(err,
// net.ErrClosed) when that port was closed).
func Pump(ctx context.Context, vm, engine Port, opts PumpOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stats := opts.Stats
	if stats == nil {
		stats = new(Stats)
	}
	var stopping atomic.Bool
	dirs := []*direction{
		{src: vm, dst: engine, srcName: "vm", dstName: "engine", filter: opts.FromVM, c: &stats.FromVM, stopping: &stopping},
		{src: engine, dst: vm, srcName: "engine", dstName: "vm", filter: opts.ToVM, c: &stats.ToVM, stopping: &stopping},
	}
	for _, d := range dirs {
		if err := d.prepare(); err != nil {
			return err
		}
	}
	done := make(chan error, len(dirs))
	for _, d := range dirs {
		go func() { done <- d.run() }()
	}
	var first error
	running := len(dirs)
	select {
	case <-ctx.Done():
		first = ctx.Err()
	case first = <-done:
		running--
	}
	stopping.Store(true)
	var restore []func()
	for _, p := range []Port{vm, engine} {
		if undo := interrupt(p); undo != nil {
			restore = append(restore, undo)
		}
	}
	for ; running > 0; running-- {
		<-done
	}
	for _, undo := range restore {
		undo()
	}
	return first
}

// readDeadliner is a port whose blocked ReadFrame a deadline ends.
type readDeadliner interface {
	SetReadDeadline(t time.Time) error
}

// interrupt makes p's blocked ReadFrame return, and returns what undoes
// that once it has (nil when p had to be closed).
func interrupt(p Port) func() {
	if d, ok := p.(readDeadliner); ok {
		if err := d.SetReadDeadline(time.Unix(1, 0)); err == nil {
			return func() { _ = d.SetReadDeadline(time.Time{}) }
		}
	}
	_ = p.Close()
	return nil
}

// direction is one half of a pump: frames from src to dst.
type direction struct {
	src, dst         Port
	srcName, dstName string
	filter           Filter
	c                *Counters
	stopping         *atomic.Bool

	buf []byte
	max int // dst's MaxFrame
}

func (d *direction) prepare() error {
	srcMax, dstMax := d.src.MaxFrame(), d.dst.MaxFrame()
	for _, p := range []struct {
		name string
		max  int
	}{{d.srcName, srcMax}, {d.dstName, dstMax}} {
		if p.max < MinFrame {
			return fmt.Errorf("vmnet: pump: the %s port's MaxFrame is %d, less than an Ethernet header", p.name, p.max)
		}
	}
	// A frame longer than the source carries never reaches us whole (the
	// source reports ErrFrameTooLarge), so the source's maximum is the
	// largest buffer a read needs.
	d.buf = make([]byte, srcMax)
	d.max = dstMax
	return nil
}

func (d *direction) run() error {
	for {
		n, err := d.src.ReadFrame(d.buf)
		if err != nil {
			if d.stopping.Load() {
				return nil // the interrupt, or the port Pump closed
			}
			if errors.Is(err, ErrFrameTooLarge) {
				d.c.TooLarge.Add(1)
				continue
			}
			return &PortError{Port: d.srcName, Op: "read", Err: err}
		}
		frame := d.buf[:n]
		switch {
		case n < MinFrame:
			d.c.TooSmall.Add(1)
			continue
		case n > d.max:
			d.c.TooLarge.Add(1)
			continue
		case d.filter != nil && !d.filter(frame):
			d.c.Filtered.Add(1)
			continue
		}
		// A frame read while Pump stops is still delivered: a pump
		// restarted (with other filters, say) loses nothing.
		if err := d.write(frame); err != nil {
			return err
		}
	}
}

// write writes one frame with the buffer-full policy; it returns an error
// only when dst is gone.
func (d *direction) write(frame []byte) error {
	for try := 0; ; try++ {
		err := d.dst.WriteFrame(frame)
		switch classifyWrite(err) {
		case wrote:
			d.c.Frames.Add(1)
			d.c.Bytes.Add(uint64(len(frame)))
			return nil
		case retryLater:
			if try == maxRetries || d.stopping.Load() {
				d.c.BufferFull.Add(1)
				return nil
			}
			d.c.Retries.Add(1)
			time.Sleep(retryDelay)
		case dropNoPeer:
			d.c.NoPeer.Add(1)
			return nil
		case dropTooLarge:
			d.c.TooLarge.Add(1)
			return nil
		case dropRefused:
			d.c.WriteErrors.Add(1)
			return nil
		default:
			if d.stopping.Load() {
				return nil
			}
			return &PortError{Port: d.dstName, Op: "write", Err: err}
		}
	}
}
