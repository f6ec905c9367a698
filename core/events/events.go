// Package events is the core's in-memory event bus: producers publish,
// each subscriber gets its own buffered stream, a slow subscriber is cut
// off rather than allowed to stall the core, and a bounded history lets a
// new subscriber replay what happened since a time (`berth events --since`).
// It does not persist events; the durable truth is in core/state.
package events

import (
	"context"
	"sync"
	"time"

	"github.com/berthvm/berth/core/api"
)

// Defaults for NewBus.
const (
	DefaultHistory = 1024
	subscriberBuf  = 256
)

// Bus fans events out to subscribers.
type Bus struct {
	mu      sync.Mutex
	history []api.Event // ring, oldest first once full
	next    int         // where the next event goes once the ring is full
	limit   int
	subs    map[*subscriber]struct{}
	now     func() time.Time
}

type subscriber struct {
	ch     chan api.Event
	filter func(api.Event) bool
	done   bool
}

// NewBus keeps up to history past events for replay.
func NewBus(history int) *Bus {
	if history <= 0 {
		history = DefaultHistory
	}
	return &Bus{limit: history, subs: map[*subscriber]struct{}{}, now: time.Now}
}

// Publish records e (stamping its time if unset) and hands it to every
// subscriber whose filter takes it. It never blocks: a subscriber whose
// buffer is full is closed, and sees its stream end.
func (b *Bus) Publish(e api.Event) {
	if e.Time.IsZero() {
		e.Time = b.now().UTC()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.history) < b.limit {
		b.history = append(b.history, e)
	} else {
		b.history[b.next] = e
		b.next = (b.next + 1) % b.limit
	}
	for s := range b.subs {
		if s.filter != nil && !s.filter(e) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			b.dropLocked(s)
		}
	}
}

// Subscribe returns a stream of events taken by filter (nil: all): first
// the remembered ones at or after since (zero: none), then live ones. The
// channel closes when ctx ends or the subscriber falls too far behind.
func (b *Bus) Subscribe(ctx context.Context, since time.Time, filter func(api.Event) bool) <-chan api.Event {
	b.mu.Lock()
	var replay []api.Event
	if !since.IsZero() {
		for _, e := range b.ordered() {
			if !e.Time.Before(since) && (filter == nil || filter(e)) {
				replay = append(replay, e)
			}
		}
	}
	s := &subscriber{ch: make(chan api.Event, subscriberBuf+len(replay)), filter: filter}
	for _, e := range replay {
		s.ch <- e
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()

	go func() {
		<-ctx.Done()
		b.mu.Lock()
		b.dropLocked(s)
		b.mu.Unlock()
	}()
	return s.ch
}

func (b *Bus) dropLocked(s *subscriber) {
	if s.done {
		return
	}
	s.done = true
	delete(b.subs, s)
	close(s.ch)
}

// ordered returns the history oldest first. Call with b.mu held.
func (b *Bus) ordered() []api.Event {
	if len(b.history) < b.limit {
		return b.history
	}
	return append(append([]api.Event(nil), b.history[b.next:]...), b.history[:b.next]...)
}
