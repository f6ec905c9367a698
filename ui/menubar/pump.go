package menubar

import (
	"context"
	"sync/atomic"
)

// pump turns the model's update signals into renders on the UI thread:
// post queues a function there (dispatch.MainQueue().DispatchAsync on
// macOS). At most one render waits in the queue at a time: signals that
// arrive meanwhile are folded into it, since a render reads the whole
// menu afresh, and a signal that arrives while a render runs queues the
// next one, so no change is lost. It returns when ctx ends or updates is
// closed.
func pump(ctx context.Context, updates <-chan struct{}, post func(func()), render func()) {
	var queued atomic.Bool
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-updates:
			if !ok {
				return
			}
			if queued.CompareAndSwap(false, true) {
				post(func() {
					queued.Store(false) // before reading the menu: a later change queues again
					render()
				})
			}
		}
	}
}
