package proto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/berthvm/berth/core/api"
)

type frameType byte

const (
	frameControl frameType = 1 // stream 0, payload: one JSON message
	frameData    frameType = 2 // payload: bytes of the stream
	frameClose   frameType = 3 // the sender sends nothing more on the stream
	frameCredit  frameType = 4 // payload: uint32, bytes the receiver consumed
)

const (
	headerSize = 9
	// maxPayload bounds one frame so a corrupt length cannot make either
	// side allocate without limit. A process's spec is one control frame:
	// room for the 2 MiB of command and environment Linux starts a
	// process with, JSON-escaped.
	maxPayload = 16 << 20
	// DataChunk is the most a data frame carries: a sender that reads
	// its source in pieces of this size fills whole frames.
	DataChunk = 32 << 10
	// Window is how many bytes of one stream may be in flight unconsumed.
	Window = 256 << 10
)

// syncMagic starts every session in each direction, followed by an 8-byte
// session nonce. The guest may have written part of a frame into a
// virtio-serial port just as the previous host went away; those bytes
// reach the next host first, which skips to its own nonce.
var syncMagic = []byte("\x00\xffBERTH-SYNC\n")

// Nonce names one session; the host picks it, the guest echoes it.
type Nonce [8]byte

// WriteSync starts a session in one direction: the marker, then n.
func WriteSync(w io.Writer, n Nonce) error {
	_, err := w.Write(append(append([]byte{}, syncMagic...), n[:]...))
	return err
}

// ReadSync skips input up to the sync marker and returns the nonce after
// it. With want set, markers carrying another nonce are skipped too.
func ReadSync(r *bufio.Reader, want *Nonce) (Nonce, error) {
	var window []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			return Nonce{}, err
		}
		window = append(window, b)
		if len(window) > len(syncMagic) {
			window = window[1:]
		}
		if !bytes.Equal(window, syncMagic) {
			continue
		}
		var n Nonce
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return Nonce{}, err
		}
		if want == nil || n == *want {
			return n, nil
		}
		window = window[:0]
	}
}

// errSessionClosed is what streams report once their session ended.
var errSessionClosed = fmt.Errorf("agent session closed: %w", api.ErrUnavailable)

// Mux multiplexes control messages and data streams over one connection,
// for one session. Its reader (Run) never blocks on a consumer: data is
// buffered in the stream (bounded by the credit the sender was given) and
// control messages go to the handler, which must return quickly. Which
// messages mean what is the two sides' business, not the Mux's.
type Mux struct {
	r       *bufio.Reader
	w       io.Writer
	closer  io.Closer
	control func(payload []byte)
	resync  bool        // see MuxOptions
	wmu     *sync.Mutex // see MuxOptions.WriteLock

	mu   sync.Mutex
	recv map[uint32]*RecvStream
	send map[uint32]*SendStream
	err  error
	done chan struct{}
}

// ErrNewSession ends a session replaced by a new one on the same stream
// (MuxOptions.Resync).
var ErrNewSession = fmt.Errorf("agent session replaced by a new one: %w", api.ErrUnavailable)

// MuxOptions are what the guest's sessions on one long-lived stream need;
// the host's zero value is a Mux that owns its connection.
type MuxOptions struct {
	// WriteLock serialises whole frames on the wire. Sessions of one
	// stream share it, so a session being replaced cannot interleave a
	// frame with its successor's (nor with its sync marker). Nil: the
	// Mux's own.
	WriteLock *sync.Mutex
	// Resync: a sync marker where a frame should start means the peer
	// began a new session on the same byte stream; Run then ends this
	// one with ErrNewSession, without closing the stream (the guest, on
	// virtio-serial).
	Resync bool
}

// NewMux makes a session's Mux on a connection whose sync markers have
// been exchanged: frames are read from r and written to w, and c is
// closed when the session fails. control gets each control frame's
// payload (a JSON Message), on Run's goroutine.
func NewMux(r *bufio.Reader, w io.Writer, c io.Closer, control func(payload []byte), opts MuxOptions) *Mux {
	wmu := opts.WriteLock
	if wmu == nil {
		wmu = &sync.Mutex{}
	}
	return &Mux{r: r, w: w, closer: c, control: control, wmu: wmu, resync: opts.Resync,
		recv: map[uint32]*RecvStream{}, send: map[uint32]*SendStream{}, done: make(chan struct{})}
}

// Send writes msg as one control frame.
func (m *Mux) Send(msg Message) error {
	payload, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode a control message: %w", err)
	}
	if len(payload) > maxPayload {
		// The peer would drop the connection for it ("broken pipe").
		return fmt.Errorf("agent message of %d bytes exceeds the %d a frame carries: %w", len(payload), maxPayload, api.ErrInvalidArgument)
	}
	return m.writeFrame(frameControl, 0, payload)
}

func (m *Mux) writeFrame(t frameType, id uint32, payload []byte) error {
	var h [headerSize]byte
	h[0] = byte(t)
	binary.BigEndian.PutUint32(h[1:5], id)
	binary.BigEndian.PutUint32(h[5:9], uint32(len(payload)))
	m.wmu.Lock()
	defer m.wmu.Unlock()
	select {
	case <-m.done:
		return m.Err()
	default:
	}
	// One Write per frame: a frame is never interleaved, and transports
	// like net.Pipe see whole frames.
	buf := make([]byte, 0, headerSize+len(payload))
	buf = append(append(buf, h[:]...), payload...)
	if _, err := m.w.Write(buf); err != nil {
		m.Fail(fmt.Errorf("agent connection: write: %w: %w", err, api.ErrUnavailable))
		return m.Err()
	}
	return nil
}

// Run reads frames until the connection fails (or, with Resync, a new
// session starts), then fails every stream. It returns when the session
// has ended.
func (m *Mux) Run() {
	var h [headerSize]byte
	for {
		if m.resync {
			// A failed Peek is a failed read: bufio reports an error
			// once, and reading on could start in the next host's
			// sync marker, as if it were a frame.
			b, err := m.r.Peek(1)
			if err != nil {
				m.Fail(fmt.Errorf("agent connection: %w: %w", err, api.ErrUnavailable))
				return
			}
			if b[0] == syncMagic[0] {
				m.wmu.Lock()
				m.end(ErrNewSession, false)
				m.wmu.Unlock()
				return
			}
		}
		if _, err := io.ReadFull(m.r, h[:]); err != nil {
			m.Fail(fmt.Errorf("agent connection: %w: %w", err, api.ErrUnavailable))
			return
		}
		t, id, n := frameType(h[0]), binary.BigEndian.Uint32(h[1:5]), binary.BigEndian.Uint32(h[5:9])
		if n > maxPayload {
			m.Fail(fmt.Errorf("agent connection: frame of %d bytes exceeds %d: %w", n, maxPayload, api.ErrCorrupt))
			return
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(m.r, payload); err != nil {
			m.Fail(fmt.Errorf("agent connection: %w: %w", err, api.ErrUnavailable))
			return
		}
		switch t {
		case frameControl:
			m.control(payload)
		case frameData:
			m.mu.Lock()
			s := m.recv[id]
			m.mu.Unlock()
			if s == nil {
				// Nobody reads this stream (any more): hand the credit
				// straight back so the sender never stalls on it.
				m.credit(id, len(payload))
				continue
			}
			if err := s.push(payload); err != nil {
				m.Fail(err)
				return
			}
		case frameClose:
			m.mu.Lock()
			s := m.recv[id]
			m.mu.Unlock()
			if s != nil {
				s.eof()
			}
		case frameCredit:
			if n != 4 {
				m.Fail(fmt.Errorf("agent connection: credit frame of %d bytes: %w", n, api.ErrCorrupt))
				return
			}
			m.mu.Lock()
			s := m.send[id]
			m.mu.Unlock()
			if s != nil {
				s.addCredit(int(binary.BigEndian.Uint32(payload)))
			}
		default:
			m.Fail(fmt.Errorf("agent connection: unknown frame type %d: %w", t, api.ErrCorrupt))
			return
		}
	}
}

func (m *Mux) credit(id uint32, n int) {
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], uint32(n))
	_ = m.writeFrame(frameCredit, id, p[:])
}

// Fail ends the session once and closes the connection; later calls keep
// the first error.
func (m *Mux) Fail(err error) { m.end(err, true) }

func (m *Mux) end(err error, closeStream bool) {
	m.mu.Lock()
	if m.err != nil {
		m.mu.Unlock()
		return
	}
	m.err = err
	close(m.done)
	recv, send := m.recv, m.send
	m.mu.Unlock()
	if closeStream {
		_ = m.closer.Close()
	}
	for _, s := range recv {
		s.fail()
	}
	for _, s := range send {
		s.fail()
	}
}

// Done is closed when the session has ended; Err says why.
func (m *Mux) Done() <-chan struct{} { return m.done }

// Err is the reason the session ended, nil while it runs.
func (m *Mux) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// OpenRecv registers an incoming stream: the peer's data frames for id
// wait in it until read.
func (m *Mux) OpenRecv(id uint32) *RecvStream {
	s := &RecvStream{m: m, id: id}
	s.cond = sync.NewCond(&s.mu)
	m.mu.Lock()
	m.recv[id] = s
	failed := m.err != nil
	m.mu.Unlock()
	if failed {
		s.fail()
	}
	return s
}

// OpenSend registers an outgoing stream with a full window of credit.
// onCredit, if set, learns how many bytes the peer has consumed.
func (m *Mux) OpenSend(id uint32, onCredit func(int)) *SendStream {
	s := &SendStream{m: m, id: id, credit: Window, onCredit: onCredit}
	s.cond = sync.NewCond(&s.mu)
	m.mu.Lock()
	m.send[id] = s
	failed := m.err != nil
	m.mu.Unlock()
	if failed {
		s.fail()
	}
	return s
}

// ForgetRecv drops stream id: later data for it is credited back unread.
func (m *Mux) ForgetRecv(id uint32) {
	m.mu.Lock()
	delete(m.recv, id)
	m.mu.Unlock()
}

// ForgetSend drops stream id: credit for it is ignored.
func (m *Mux) ForgetSend(id uint32) {
	m.mu.Lock()
	delete(m.send, id)
	m.mu.Unlock()
}

// RecvStream is the reading end of a stream. Bytes wait here until Read;
// the sender's window bounds how many.
type RecvStream struct {
	m    *Mux
	id   uint32
	mu   sync.Mutex
	cond *sync.Cond
	buf  []byte
	// gotEOF: the peer closed the stream; broken: the session ended;
	// closed: the local reader gave up.
	gotEOF, broken, closed bool
}

// push buffers p, or refuses it if it goes beyond the window: the bytes
// buffered are bytes the peer sent and was not credited for yet, so an
// honest sender never has more than Window of them here. The guest is
// not trusted; without the check a reader that stops reading would let
// it fill the host's memory.
func (s *RecvStream) push(p []byte) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.m.credit(s.id, len(p))
		return nil
	}
	if len(s.buf)+len(p) > Window {
		n := len(s.buf)
		s.mu.Unlock()
		return fmt.Errorf("agent connection: stream %d: %d bytes sent beyond the %d-byte window (%d unread): %w",
			s.id, n+len(p)-Window, Window, n, api.ErrCorrupt)
	}
	s.buf = append(s.buf, p...)
	s.mu.Unlock()
	s.cond.Broadcast()
	return nil
}

func (s *RecvStream) eof() {
	s.mu.Lock()
	s.gotEOF = true
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *RecvStream) fail() {
	s.mu.Lock()
	s.broken = true
	s.mu.Unlock()
	s.cond.Broadcast()
}

// Read returns buffered bytes, io.EOF once the peer closed the stream,
// or an error wrapping api.ErrUnavailable once the session ended.
func (s *RecvStream) Read(p []byte) (int, error) {
	s.mu.Lock()
	for len(s.buf) == 0 && !s.gotEOF && !s.broken && !s.closed {
		s.cond.Wait()
	}
	if len(s.buf) == 0 {
		defer s.mu.Unlock()
		switch {
		case s.closed:
			return 0, io.ErrClosedPipe
		case s.gotEOF:
			return 0, io.EOF
		default:
			return 0, errSessionClosed
		}
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	if len(s.buf) == 0 {
		s.buf = nil // let the backing array go
	}
	s.mu.Unlock()
	s.m.credit(s.id, n)
	return n, nil
}

// Close stops reading: buffered and later bytes are credited back unread.
func (s *RecvStream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	n := len(s.buf)
	s.buf = nil
	s.mu.Unlock()
	s.cond.Broadcast()
	if n > 0 {
		s.m.credit(s.id, n)
	}
	return nil
}

// SendStream is the writing end of a stream; Write blocks while the peer
// has not consumed what was sent before (no credit left).
type SendStream struct {
	m        *Mux
	id       uint32
	mu       sync.Mutex
	cond     *sync.Cond
	credit   int
	onCredit func(int)
	broken   bool
	closed   bool
}

func (s *SendStream) addCredit(n int) {
	s.mu.Lock()
	s.credit += n
	s.mu.Unlock()
	s.cond.Broadcast()
	if s.onCredit != nil {
		s.onCredit(n)
	}
}

func (s *SendStream) fail() {
	s.mu.Lock()
	s.broken = true
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *SendStream) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		s.mu.Lock()
		for s.credit == 0 && !s.broken && !s.closed {
			s.cond.Wait()
		}
		if s.closed {
			s.mu.Unlock()
			return written, io.ErrClosedPipe
		}
		if s.broken {
			s.mu.Unlock()
			return written, errSessionClosed
		}
		n := min(s.credit, len(p), DataChunk)
		s.credit -= n
		s.mu.Unlock()
		if err := s.m.writeFrame(frameData, s.id, p[:n]); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// Close sends end-of-stream; the peer's reader gets io.EOF after the data.
func (s *SendStream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cond.Broadcast()
	s.m.ForgetSend(s.id)
	if err := s.m.writeFrame(frameClose, s.id, nil); err != nil && !errors.Is(err, api.ErrUnavailable) {
		return err
	}
	return nil
}
