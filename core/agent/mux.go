package agent

import (
	"bufio"
	"bytes"
	"encoding/binary"
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
	// side allocate without limit.
	maxPayload = 1 << 20
	dataChunk  = 32 << 10
	// Window is how many bytes of one stream may be in flight unconsumed.
	Window = 256 << 10
)

// syncMagic starts every session in each direction, followed by an 8-byte
// session nonce. The guest may have written part of a frame into a
// virtio-serial port just as the previous host went away; those bytes
// reach the next host first, which skips to its own nonce.
var syncMagic = []byte("\x00\xffBERTH-SYNC\n")

type nonce [8]byte

func writeSync(w io.Writer, n nonce) error {
	_, err := w.Write(append(append([]byte{}, syncMagic...), n[:]...))
	return err
}

// readSync skips input up to the sync marker and returns the nonce after
// it. With want set, markers carrying another nonce are skipped too.
func readSync(r *bufio.Reader, want *nonce) (nonce, error) {
	var window []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nonce{}, err
		}
		window = append(window, b)
		if len(window) > len(syncMagic) {
			window = window[1:]
		}
		if !bytes.Equal(window, syncMagic) {
			continue
		}
		var n nonce
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return nonce{}, err
		}
		if want == nil || n == *want {
			return n, nil
		}
		window = window[:0]
	}
}

// errSessionClosed is what streams report once their session ended.
var errSessionClosed = fmt.Errorf("agent session closed: %w", api.ErrUnavailable)

// mux multiplexes control messages and data streams over one connection.
// Its reader goroutine (run) never blocks on a consumer: data is buffered
// in the stream (bounded by the credit the sender was given) and control
// messages go to the handler, which must return quickly.
type mux struct {
	r       *bufio.Reader
	w       io.Writer
	closer  io.Closer
	control func(payload []byte)
	// resync: a sync marker where a frame should start means the peer
	// began a new session on the same byte stream; end this one without
	// closing the stream (the guest side, on virtio-serial).
	resync bool

	// wmu serialises whole frames on the wire. It is shared by the
	// sessions of one stream, so a session being replaced cannot
	// interleave a frame with its successor's.
	wmu *sync.Mutex

	mu   sync.Mutex
	recv map[uint32]*recvStream
	send map[uint32]*sendStream
	err  error
	done chan struct{}
}

// errNewSession ends a session replaced by a new one on the same stream.
var errNewSession = fmt.Errorf("agent session replaced by a new one: %w", api.ErrUnavailable)

func newMux(r *bufio.Reader, w io.Writer, c io.Closer, wmu *sync.Mutex, control func([]byte)) *mux {
	if wmu == nil {
		wmu = &sync.Mutex{}
	}
	return &mux{r: r, w: w, closer: c, control: control, wmu: wmu,
		recv: map[uint32]*recvStream{}, send: map[uint32]*sendStream{}, done: make(chan struct{})}
}

func (m *mux) writeFrame(t frameType, id uint32, payload []byte) error {
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
		m.fail(fmt.Errorf("agent connection: write: %w: %w", err, api.ErrUnavailable))
		return m.Err()
	}
	return nil
}

// run reads frames until the connection fails, then fails every stream.
func (m *mux) run() {
	var h [headerSize]byte
	for {
		if m.resync {
			if b, err := m.r.Peek(1); err == nil && b[0] == syncMagic[0] {
				m.wmu.Lock()
				m.end(errNewSession, false)
				m.wmu.Unlock()
				return
			}
		}
		if _, err := io.ReadFull(m.r, h[:]); err != nil {
			m.fail(fmt.Errorf("agent connection: %w: %w", err, api.ErrUnavailable))
			return
		}
		t, id, n := frameType(h[0]), binary.BigEndian.Uint32(h[1:5]), binary.BigEndian.Uint32(h[5:9])
		if n > maxPayload {
			m.fail(fmt.Errorf("agent connection: frame of %d bytes exceeds %d: %w", n, maxPayload, api.ErrCorrupt))
			return
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(m.r, payload); err != nil {
			m.fail(fmt.Errorf("agent connection: %w: %w", err, api.ErrUnavailable))
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
			s.push(payload)
		case frameClose:
			m.mu.Lock()
			s := m.recv[id]
			m.mu.Unlock()
			if s != nil {
				s.eof()
			}
		case frameCredit:
			if n != 4 {
				m.fail(fmt.Errorf("agent connection: credit frame of %d bytes: %w", n, api.ErrCorrupt))
				return
			}
			m.mu.Lock()
			s := m.send[id]
			m.mu.Unlock()
			if s != nil {
				s.addCredit(int(binary.BigEndian.Uint32(payload)))
			}
		default:
			m.fail(fmt.Errorf("agent connection: unknown frame type %d: %w", t, api.ErrCorrupt))
			return
		}
	}
}

func (m *mux) credit(id uint32, n int) {
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], uint32(n))
	_ = m.writeFrame(frameCredit, id, p[:])
}

// fail ends the session once and closes the stream; later calls keep the
// first error.
func (m *mux) fail(err error) { m.end(err, true) }

func (m *mux) end(err error, closeStream bool) {
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

// Err is the reason the session ended, nil while it runs.
func (m *mux) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *mux) openRecv(id uint32) *recvStream {
	s := &recvStream{m: m, id: id}
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

// openSend registers an outgoing stream with a full window of credit.
// onCredit, if set, learns how many bytes the peer has consumed.
func (m *mux) openSend(id uint32, onCredit func(int)) *sendStream {
	s := &sendStream{m: m, id: id, credit: Window, onCredit: onCredit}
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

func (m *mux) forgetRecv(id uint32) {
	m.mu.Lock()
	delete(m.recv, id)
	m.mu.Unlock()
}

func (m *mux) forgetSend(id uint32) {
	m.mu.Lock()
	delete(m.send, id)
	m.mu.Unlock()
}

// recvStream is the reading end of a stream. Bytes wait here until Read;
// the sender's window bounds how many.
type recvStream struct {
	m    *mux
	id   uint32
	mu   sync.Mutex
	cond *sync.Cond
	buf  []byte
	// gotEOF: the peer closed the stream; broken: the session ended;
	// closed: the local reader gave up.
	gotEOF, broken, closed bool
}

func (s *recvStream) push(p []byte) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.m.credit(s.id, len(p))
		return
	}
	s.buf = append(s.buf, p...)
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *recvStream) eof() {
	s.mu.Lock()
	s.gotEOF = true
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *recvStream) fail() {
	s.mu.Lock()
	s.broken = true
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *recvStream) Read(p []byte) (int, error) {
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
func (s *recvStream) Close() error {
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

// sendStream is the writing end of a stream; Write blocks while the peer
// has not consumed what was sent before (no credit left).
type sendStream struct {
	m        *mux
	id       uint32
	mu       sync.Mutex
	cond     *sync.Cond
	credit   int
	onCredit func(int)
	broken   bool
	closed   bool
}

func (s *sendStream) addCredit(n int) {
	s.mu.Lock()
	s.credit += n
	s.mu.Unlock()
	s.cond.Broadcast()
	if s.onCredit != nil {
		s.onCredit(n)
	}
}

func (s *sendStream) fail() {
	s.mu.Lock()
	s.broken = true
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *sendStream) Write(p []byte) (int, error) {
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
		n := min(s.credit, len(p), dataChunk)
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
func (s *sendStream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cond.Broadcast()
	s.m.forgetSend(s.id)
	if err := s.m.writeFrame(frameClose, s.id, nil); err != nil && !errors.Is(err, api.ErrUnavailable) {
		return err
	}
	return nil
}
