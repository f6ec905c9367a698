package vmnet

import (
	"errors"
	"fmt"
	"syscall"
)

// Port is one end frames go in and out of: a VM's datagram socket, a vmnet
// interface, an engine.
//
// ReadFrame is called from one goroutine at a time, and WriteFrame from
// one goroutine at a time; the two may run at once. A frame that does not
// fit p is consumed and reported as ErrFrameTooLarge (wrapped), never
// delivered cut short. After Close, ReadFrame returns an error that is
// net.ErrClosed.
//
// A port that also has SetReadDeadline(time.Time) error (DatagramPort,
// Interface) lets Pump end without closing it: see Pump.
type Port interface {
	ReadFrame(p []byte) (int, error) // one Ethernet frame (no FCS) per call; blocks
	WriteFrame(p []byte) error       // one frame
	MaxFrame() int                   // the largest frame it carries (read at run time for vmnet)
	Close() error                    // unblocks ReadFrame
}

// Filter decides whether a frame may pass; it must not keep p.
type Filter func(frame []byte) bool

// What a port's errors may wrap, so that Pump can tell a frame it should
// retry or drop from a port that is gone. DatagramPort and Interface wrap
// them; Pump also knows the raw errnos (ENOBUFS, EAGAIN, ENOENT,
// ECONNREFUSED, EMSGSIZE) for ports that return those.
var (
	// ErrBufferFull: the receiver is not keeping up (ENOBUFS on macOS,
	// EAGAIN on Linux, vmnet's VMNET_BUFFER_EXHAUSTED). The same frame
	// may succeed a moment later.
	ErrBufferFull = errors.New("buffer full")
	// ErrNoPeer: nobody receives at the peer's address (ENOENT,
	// ECONNREFUSED): the VM has not started yet, or is restarting.
	ErrNoPeer = errors.New("no peer")
	// ErrFrameTooLarge: a frame longer than the port carries.
	ErrFrameTooLarge = errors.New("frame too large")
	// ErrFrameRefused: the port refused this frame but takes others (vmnet's
	// VMNET_INVALID_ARGUMENT on a write).
	ErrFrameRefused = errors.New("frame refused")
)

// PortError is how Pump reports the port that ended it.
type PortError struct {
	Port string // "vm" or "engine"
	Op   string // "read" or "write"
	Err  error
}

func (e *PortError) Error() string {
	return fmt.Sprintf("vmnet: pump: %s from the %s port: %v", e.Op, e.Port, e.Err)
}

func (e *PortError) Unwrap() error { return e.Err }

// writeOutcome is what Pump does after a WriteFrame.
type writeOutcome int

const (
	wrote        writeOutcome = iota
	retryLater                // the buffer is full: try again shortly, then drop
	dropNoPeer                // nobody listens yet: drop, keep going
	dropTooLarge              // the port says the frame is too large: drop
	dropRefused               // the port refused this frame: drop
	portGone                  // anything else: the port cannot carry frames any more
)

// classifyWrite sorts a WriteFrame error. Unknown errors end the pump:
// dropping every frame silently behind an error nobody reads is worse
// than a network process that reports its port failed.
func classifyWrite(err error) writeOutcome {
	switch {
	case err == nil:
		return wrote
	case errors.Is(err, ErrBufferFull), errors.Is(err, syscall.ENOBUFS), errors.Is(err, syscall.EAGAIN):
		return retryLater
	case errors.Is(err, ErrNoPeer), errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		return dropNoPeer
	case errors.Is(err, ErrFrameTooLarge), errors.Is(err, syscall.EMSGSIZE):
		return dropTooLarge
	case errors.Is(err, ErrFrameRefused):
		return dropRefused
	}
	return portGone
}
