package api

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// An attach or exec request is upgraded to a raw stream of frames:
// [kind:1][length:4 big-endian][payload]. The daemon sends output frames
// and ends with one FrameExit; the client sends input, EOF and resizes.
const (
	FrameStdin    byte = 0 // client → daemon: input bytes
	FrameStdout   byte = 1 // daemon → client
	FrameStderr   byte = 2 // daemon → client
	FrameExit     byte = 3 // daemon → client: JSON ExitFrame, the last frame
	FrameStdinEOF byte = 4 // client → daemon: no more input
	FrameResize   byte = 5 // client → daemon: JSON TermSize
)

// UpgradeProtocol is the Upgrade header value of attach and exec streams.
const UpgradeProtocol = "berth-stream"

// maxFrame bounds a frame's payload; writers split larger writes.
const maxFrame = 32 << 10

// ExitFrame ends a stream: how the process ended, or why it could not run.
type ExitFrame struct {
	ExitCode int          `json:"exitCode"`
	Error    *RemoteError `json:"error,omitempty"`
}

// TermSize is a terminal's size.
type TermSize struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// FrameWriter writes frames; it is safe for concurrent use, so stdout and
// stderr can share one connection.
type FrameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewFrameWriter writes frames to w.
func NewFrameWriter(w io.Writer) *FrameWriter { return &FrameWriter{w: w} }

// WriteFrame writes one frame of kind, splitting a long payload.
func (f *FrameWriter) WriteFrame(kind byte, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for first := true; first || len(p) > 0; first = false {
		n := min(len(p), maxFrame)
		var hdr [5]byte
		hdr[0] = kind
		binary.BigEndian.PutUint32(hdr[1:], uint32(n))
		if _, err := f.w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := f.w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// Stream returns an io.Writer that sends its bytes as frames of kind.
func (f *FrameWriter) Stream(kind byte) io.Writer { return frameStream{f, kind} }

type frameStream struct {
	f    *FrameWriter
	kind byte
}

func (s frameStream) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := s.f.WriteFrame(s.kind, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ReadFrame reads one frame.
func ReadFrame(r io.Reader) (kind byte, payload []byte, err error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("stream frame of %d bytes is over the %d limit: %w", n, maxFrame, ErrCorrupt)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	return hdr[0], payload, nil
}
