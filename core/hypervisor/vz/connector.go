package vz

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/berthvm/berth/core/api"
)

// connector makes a host's vsock connections to the guest agent with at
// most one VM.Connect in flight. The framework documents that connecting
// to a port nobody listens on may do nothing, and then vz's Connect never
// returns and cannot be cancelled: the goroutine running it is stuck.
// Starting a new Connect for every retry and abandoning the old one would
// stack one stuck goroutine per retry for the life of the host process.
// Instead every caller waits for the one call in flight, each up to its own
// deadline, and the outcome goes to whoever still waits. A connection that
// arrives when nobody waits any more (its caller gave up a moment earlier
// and is about to retry) is kept for the next caller for keepLate, then
// closed: it is used or closed, never leaked. So a hung Connect costs one
// goroutine per VM, whatever the retries. The price: while it hangs, no
// other call can reach the agent (callers get errConnectPending).
//
// The zero value is ready to use.
type connector struct {
	keep time.Duration // how long a late connection is kept; zero means keepLate

	mu      sync.Mutex
	dialing bool              // a call is in flight
	since   time.Time         // when it started
	waiters []chan dialResult // callers waiting for it, oldest first
	ready   net.Conn          // a connection that arrived with nobody waiting
	expire  *time.Timer       // closes ready unless someone takes it first
}

type dialResult struct {
	c   net.Conn
	err error
}

// keepLate is how long a connection that completed after its caller gave
// up is kept for the next caller: longer than agentConn's longest backoff,
// so the retry of the caller that gave up finds it.
const keepLate = 2 * time.Second

// slowConnect is how long a Connect may take before its end is logged: a
// healthy guest answers in milliseconds, so slower ones are worth a line.
const slowConnect = 2 * time.Second

// errConnectPending says the call in flight had not completed by the
// caller's deadline; it may still complete for a later caller.
var errConnectPending = errors.New("the vsock connect in flight has not completed")

// get returns a connection made by dial, waiting until deadline at most.
// It starts dial only when no call is in flight; otherwise it waits for
// that call's outcome (the connection, if this caller is the first one
// waiting, or its error). Once stop is closed (the VM ended) it fails at
// once and connections that arrive are closed.
func (k *connector) get(deadline time.Time, dial func() (net.Conn, error), stop <-chan struct{}) (net.Conn, error) {
	if closed(stop) {
		return nil, fmt.Errorf("the VM has ended: %w", api.ErrUnavailable)
	}
	k.mu.Lock()
	if c := k.ready; c != nil {
		k.ready = nil
		k.expire.Stop()
		k.mu.Unlock()
		return c, nil
	}
	w := make(chan dialResult, 1) // the sender never blocks: it holds k.mu
	k.waiters = append(k.waiters, w)
	if !k.dialing {
		k.dialing = true
		k.since = time.Now()
		go k.run(dial, stop)
	}
	since := k.since
	k.mu.Unlock()

	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case r := <-w:
		return r.c, r.err
	case <-t.C:
	case <-stop:
	}
	k.mu.Lock()
	waiting := k.leave(w)
	k.mu.Unlock()
	if !waiting {
		// The outcome was handed over as the wait ended: it is this
		// caller's, and returning it is the only way not to leak it.
		r := <-w
		return r.c, r.err
	}
	if closed(stop) {
		return nil, fmt.Errorf("the VM has ended: %w", api.ErrUnavailable)
	}
	return nil, fmt.Errorf("%w after %v", errConnectPending, time.Since(since).Round(time.Millisecond))
}

// leave removes w from the waiters and reports whether it was there.
// Called with k.mu held.
func (k *connector) leave(w chan dialResult) bool {
	for i, x := range k.waiters {
		if x == w {
			k.waiters = append(k.waiters[:i], k.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// run makes the one call in flight and hands its outcome over.
func (k *connector) run(dial func() (net.Conn, error), stop <-chan struct{}) {
	c, err := dial()
	if err == nil && c == nil {
		err = errors.New("no connection")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dialing = false
	if took := time.Since(k.since); took > slowConnect {
		slog.Warn("vsock connect completed late", "took", took.Round(time.Millisecond), "ok", err == nil, "waiting", len(k.waiters))
	}
	if err == nil && closed(stop) {
		c.Close()
		c, err = nil, fmt.Errorf("the VM has ended: %w", api.ErrUnavailable)
	}
	if err != nil {
		// Everyone waiting waited for this call: all hear how it failed
		// and retry (or give up) on their own schedule.
		for _, w := range k.waiters {
			w <- dialResult{err: err}
		}
		k.waiters = nil
		return
	}
	if len(k.waiters) > 0 {
		k.waiters[0] <- dialResult{c: c}
		k.waiters = k.waiters[1:]
		if len(k.waiters) > 0 && !closed(stop) {
			// The others need a connection each: the next call, still
			// one at a time. (After the VM's end they leave on their own.)
			k.dialing = true
			k.since = time.Now()
			go k.run(dial, stop)
		}
		return
	}
	if k.ready != nil {
		// Not reachable (ready is taken before a call starts); closing
		// keeps the promise that nothing leaks if that ever changes.
		c.Close()
		return
	}
	keep := k.keep
	if keep <= 0 {
		keep = keepLate
	}
	k.ready = c
	k.expire = time.AfterFunc(keep, func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.ready == c {
			k.ready = nil
			c.Close()
		}
	})
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
