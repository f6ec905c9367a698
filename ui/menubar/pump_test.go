package menubar

import (
	"context"
	"sync"
	"testing"
	"time"
)

// uiThread is a fake main queue: posted functions wait until run.
type uiThread struct {
	mu     sync.Mutex
	queued []func()
}

func (u *uiThread) post(f func()) { u.mu.Lock(); u.queued = append(u.queued, f); u.mu.Unlock() }

func (u *uiThread) len() int { u.mu.Lock(); defer u.mu.Unlock(); return len(u.queued) }

// run runs what is queued now.
func (u *uiThread) run() {
	u.mu.Lock()
	q := u.queued
	u.queued = nil
	u.mu.Unlock()
	for _, f := range q {
		f()
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestMenuPump(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates := make(chan struct{})
	ui := &uiThread{}
	renders := 0 // only touched on the "UI thread" (this goroutine, in ui.run)
	done := make(chan struct{})
	go func() { pump(ctx, updates, ui.post, func() { renders++ }); close(done) }()

	// A burst of signals before the UI thread gets to run: one render.
	for range 5 {
		updates <- struct{}{}
	}
	waitFor(t, "a queued render", func() bool { return ui.len() == 1 })
	updates <- struct{}{} // still only one queued
	if n := ui.len(); n != 1 {
		t.Fatalf("%d renders queued, want 1", n)
	}
	ui.run()
	if renders != 1 {
		t.Fatalf("%d renders, want 1", renders)
	}
	// After it ran, a new signal queues a new render.
	updates <- struct{}{}
	waitFor(t, "the next render", func() bool { return ui.len() == 1 })
	ui.run()
	if renders != 2 {
		t.Fatalf("%d renders, want 2", renders)
	}

	// A signal while a render runs queues the next one.
	ui2 := &uiThread{}
	updates2 := make(chan struct{})
	var inRender func()
	go pump(ctx, updates2, ui2.post, func() { inRender() })
	inRender = func() {
		updates2 <- struct{}{}
		waitFor(t, "a render queued during a render", func() bool { return ui2.len() == 1 })
	}
	updates2 <- struct{}{}
	waitFor(t, "a render", func() bool { return ui2.len() == 1 })
	ui2.run()
	if ui2.len() != 1 {
		t.Fatal("a change during a render was lost")
	}

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("pump did not return when ctx ended")
	}
}

func TestMenuPumpClosedUpdates(t *testing.T) {
	updates := make(chan struct{})
	close(updates)
	done := make(chan struct{})
	go func() {
		pump(context.Background(), updates, func(func()) { t.Error("posted") }, func() {})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("pump did not return when updates closed")
	}
}
