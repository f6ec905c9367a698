package runtime

import (
	"io"
	"sync"

	"github.com/berthvm/berth/core/agent/proto"
)

// hub is where a container's main process meets the clients attached to
// it. It outlives single runs: a client can attach before `start` and get
// every byte of the run, and waiters learn when a run ends.
type hub struct {
	mu    sync.Mutex
	sinks map[*sink]struct{}
	// stdin is the attached client's input, waiting for a process to feed.
	stdin io.Reader
	// size is the attached terminal's last size: a run's process starts
	// with it, so a shell is never 0x0 before the first resize.
	size *proto.WinSize
	// runs counts finished runs; ended is closed and replaced at each end.
	runs  uint64
	ended chan struct{}
}

// sink is one attached client's output.
type sink struct {
	stdout, stderr io.Writer
}

func newHub() *hub {
	return &hub{sinks: map[*sink]struct{}{}, ended: make(chan struct{})}
}

// attachLocked adds a client's output writers (nil drops that stream);
// call it with h.mu held (inside watch). The returned func detaches it.
func (h *hub) attachLocked(_ io.Reader, stdout, stderr io.Writer) (detach func()) {
	s := &sink{stdout: stdout, stderr: stderr}
	h.sinks[s] = struct{}{}
	return func() {
		h.mu.Lock()
		delete(h.sinks, s)
		h.mu.Unlock()
	}
}

// setStdin keeps a client's input for the next run's process.
func (h *hub) setStdin(r io.Reader) {
	h.mu.Lock()
	h.stdin = r
	h.mu.Unlock()
}

// takeStdin hands the waiting client input to a process (once).
func (h *hub) takeStdin() io.Reader {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.stdin
	h.stdin = nil
	return r
}

// setSize records the attached terminal's size for the next process.
func (h *hub) setSize(sz proto.WinSize) {
	h.mu.Lock()
	h.size = &sz
	h.mu.Unlock()
}

// termSize is the last size an attached terminal reported, or nil.
func (h *hub) termSize() *proto.WinSize {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.size == nil {
		return nil
	}
	sz := *h.size
	return &sz
}

// writer returns the writer for one output stream of the main process:
// it copies to every attached client. A client whose write fails is
// dropped; the process is never blocked by a client that went away.
func (h *hub) writer(stream string) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		h.mu.Lock()
		sinks := make([]*sink, 0, len(h.sinks))
		for s := range h.sinks {
			sinks = append(sinks, s)
		}
		h.mu.Unlock()
		for _, s := range sinks {
			w := s.stdout
			if stream == "stderr" {
				w = s.stderr
			}
			if w == nil {
				continue
			}
			if _, err := w.Write(p); err != nil {
				h.mu.Lock()
				delete(h.sinks, s)
				h.mu.Unlock()
			}
		}
		return len(p), nil
	})
}

// endRun marks the end of a run. Call it after the final state is stored,
// with that store inside record (under the hub's lock, so a waiter that
// read "running" is sure to see this end).
func (h *hub) endRun(record func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	record()
	h.runs++
	close(h.ended)
	h.ended = make(chan struct{})
}

// watch reads state under the hub's lock and returns the channel that the
// next endRun closes.
func (h *hub) watch(read func()) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	read()
	return h.ended
}
