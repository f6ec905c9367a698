package events

import (
	"context"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

func recv(t *testing.T, ch <-chan api.Event) (api.Event, bool) {
	t.Helper()
	select {
	case e, ok := <-ch:
		return e, ok
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return api.Event{}, false
}

func TestPublishSubscribe(t *testing.T) {
	b := NewBus(4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	all := b.Subscribe(ctx, time.Time{}, nil)
	images := b.Subscribe(ctx, time.Time{}, func(e api.Event) bool { return e.Type == api.EventImage })

	b.Publish(api.Event{Type: api.EventContainer, Action: "start", ID: "c1"})
	b.Publish(api.Event{Type: api.EventImage, Action: "pull", ID: "i1"})

	if e, _ := recv(t, all); e.ID != "c1" || e.Time.IsZero() {
		t.Fatalf("first event %+v", e)
	}
	if e, _ := recv(t, all); e.ID != "i1" {
		t.Fatalf("second event %+v", e)
	}
	if e, _ := recv(t, images); e.ID != "i1" {
		t.Fatalf("filtered subscriber got %+v", e)
	}
	cancel()
	if _, ok := recv(t, all); ok {
		t.Fatal("stream not closed after cancel")
	}
}

func TestReplaySinceWithBoundedHistory(t *testing.T) {
	b := NewBus(3)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		b.Publish(api.Event{Type: api.EventContainer, Action: "create", ID: string(rune('a' + i)),
			Time: base.Add(time.Duration(i) * time.Second)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// History holds c, d, e; since=t+3s keeps d, e.
	ch := b.Subscribe(ctx, base.Add(3*time.Second), nil)
	for _, want := range []string{"d", "e"} {
		if e, _ := recv(t, ch); e.ID != want {
			t.Fatalf("replayed %q, want %q", e.ID, want)
		}
	}
	b.Publish(api.Event{Type: api.EventContainer, Action: "start", ID: "live"})
	if e, _ := recv(t, ch); e.ID != "live" {
		t.Fatalf("live event %q", e.ID)
	}
	all := b.Subscribe(ctx, base, nil)
	// The ring dropped a, b, c: what is left replays oldest first.
	var ids string
	for range 3 {
		e, _ := recv(t, all)
		ids += e.ID + " "
	}
	if ids != "d e live " {
		t.Fatalf("replay order %q, want \"d e live \"", ids)
	}
}

func TestSlowSubscriberIsCutOff(t *testing.T) {
	b := NewBus(8)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := b.Subscribe(ctx, time.Time{}, nil)
	done := make(chan struct{})
	go func() {
		for i := 0; i < subscriberBuf+10; i++ {
			b.Publish(api.Event{Type: api.EventDaemon, Action: "tick"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a slow subscriber")
	}
	n := 0
	for range slow {
		n++
	}
	if n != subscriberBuf {
		t.Fatalf("slow subscriber got %d events before the cut, want %d", n, subscriberBuf)
	}
}
