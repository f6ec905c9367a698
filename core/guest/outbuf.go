package guest

import "sync"

// DefaultOutputLimit is how much of each output stream the guest keeps
// for a host that is not attached or not reading.
const DefaultOutputLimit = 4 << 20

// outBuffer keeps one output stream of a guest process: the bytes from
// offset base up to base+len(data) that no host has consumed yet. While a
// host is attached, a full buffer makes the process wait (like a pipe);
// while none is, the oldest bytes are dropped so the process never
// blocks on a host that is gone.
type outBuffer struct {
	mu       sync.Mutex
	cond     *sync.Cond
	data     []byte
	base     uint64
	limit    int
	closed   bool   // the process's end is closed: no more data
	attached bool   // a host is reading
	gen      uint64 // attachment generation; a pump of an older one stops
}

func newOutBuffer(limit int) *outBuffer {
	b := &outBuffer{limit: limit}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// Write appends process output. It never fails.
func (b *outBuffer) Write(p []byte) (int, error) {
	n := len(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(p) > 0 {
		room := b.limit - len(b.data)
		if room <= 0 {
			if b.attached {
				b.cond.Wait()
				continue
			}
			drop := min(len(p), len(b.data))
			b.data = b.data[drop:]
			b.base += uint64(drop)
			room = b.limit - len(b.data)
		}
		k := min(room, len(p))
		b.data = append(b.data, p[:k]...)
		p = p[k:]
		b.cond.Broadcast()
	}
	return n, nil
}

// close marks the end of output (the process closed its end).
func (b *outBuffer) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cond.Broadcast()
}

// attach starts a new reader generation and returns it with the offset
// of the first byte it will get (the oldest unconsumed one).
func (b *outBuffer) attach() (gen, from uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen++
	b.attached = true
	b.cond.Broadcast()
	return b.gen, b.base
}

// detach ends generation gen if it is still the current one.
func (b *outBuffer) detach(gen uint64) {
	b.mu.Lock()
	if b.gen == gen {
		b.attached = false
		b.gen++
	}
	b.mu.Unlock()
	b.cond.Broadcast()
}

// consumed drops n bytes the host has acknowledged.
func (b *outBuffer) consumed(n int) {
	b.mu.Lock()
	n = min(n, len(b.data))
	b.data = b.data[n:]
	if len(b.data) == 0 {
		b.data = nil
	}
	b.base += uint64(n)
	b.mu.Unlock()
	b.cond.Broadcast()
}

// next waits for bytes at or after offset from and returns a copy of up
// to max of them. eof means everything was handed out and the process
// closed its end; stale means generation gen was replaced.
func (b *outBuffer) next(gen, from uint64, max int) (chunk []byte, eof, stale bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.gen != gen {
			return nil, false, true
		}
		if from < b.base {
			from = b.base // dropped while detached; cannot happen attached
		}
		end := b.base + uint64(len(b.data))
		if from < end {
			off := int(from - b.base)
			k := min(max, len(b.data)-off)
			return append([]byte(nil), b.data[off:off+k]...), false, false
		}
		if b.closed {
			return nil, true, false
		}
		b.cond.Wait()
	}
}
