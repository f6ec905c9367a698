package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

// serve runs h on a unix socket and returns a client for it.
func serve(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	sock, ln := listenUnix(t)
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return New(sock)
}

// listenUnix listens on a fresh socket (in a short temp path: unix socket
// paths are limited), closed and removed when the test ends.
func listenUnix(t *testing.T) (string, net.Listener) {
	t.Helper()
	dir, err := os.MkdirTemp("", "bc")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); os.RemoveAll(dir) })
	return sock, ln
}

func writeLines(w http.ResponseWriter, lines ...api.StreamLine) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for _, l := range lines {
		enc.Encode(l)
	}
}

func TestStream(t *testing.T) {
	p := func(n int64) api.StreamLine { return api.StreamLine{Progress: &api.Progress{ID: "l", Current: n}} }
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    error // sentinel, or nil for success
		seen    int
	}{
		{"result", func(w http.ResponseWriter, r *http.Request) {
			writeLines(w, p(1), p(2), api.StreamLine{Result: json.RawMessage(`{"n":7}`)})
		}, nil, 2},
		{"error line", func(w http.ResponseWriter, r *http.Request) {
			writeLines(w, p(1), api.StreamLine{Error: &api.RemoteError{Code: api.CodeCorrupt, Message: "bad layer"}})
		}, api.ErrCorrupt, 1},
		{"early http error", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			json.NewEncoder(w).Encode(api.RemoteError{Code: api.CodeNotFound, Message: `image "x": not found`})
		}, api.ErrNotFound, 0},
		{"cut short", func(w http.ResponseWriter, r *http.Request) { writeLines(w, p(1)) }, api.ErrUnavailable, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, tc.handler)
			seen := 0
			var out struct{ N int }
			err := c.stream(context.Background(), "POST", "/x", nil, nil, func(api.Progress) { seen++ }, &out)
			if tc.want == nil && (err != nil || out.N != 7) {
				t.Fatalf("stream = %v, out %+v", err, out)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("stream = %v, want %v", err, tc.want)
			}
			if seen != tc.seen {
				t.Fatalf("saw %d progress lines, want %d", seen, tc.seen)
			}
		})
	}
}

func TestDaemonDown(t *testing.T) {
	c := New(filepath.Join(t.TempDir(), "none.sock"))
	err := c.Ping(context.Background())
	if !IsDaemonDown(err) || !errors.Is(err, api.ErrUnavailable) {
		t.Fatalf("ping with no daemon: %v", err)
	}
}

// A daemon that dies after accepting (its socket still open while it
// exits) resets the connection: a read is then as good as refused, a
// write is not known to have failed.
func TestResetBeforeAnswer(t *testing.T) {
	dir, err := os.MkdirTemp("", "bc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Close with the request unread: the peer sees a reset.
			time.Sleep(20 * time.Millisecond)
			c.Close()
		}
	}()
	c := New(sock)
	ctx := context.Background()
	if err := c.Ping(ctx); !IsDaemonDown(err) || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("ping reset: %v; want daemon down", err)
	}
	if err := c.do(ctx, http.MethodPost, "/v1/containers/x/start", nil, nil, nil); err == nil || IsDaemonDown(err) {
		t.Fatalf("post reset: %v; want an error that does not claim the daemon is down", err)
	}
}

// dyingDaemon listens on a fresh socket and breaks every connection
// before answering: reset (closed with the request unread) or, with
// readFirst, closed after reading the request (the client sees EOF).
func dyingDaemon(t *testing.T, readFirst bool) string {
	t.Helper()
	sock, ln := listenUnix(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if readFirst {
				http.ReadRequest(bufio.NewReader(c))
			} else {
				time.Sleep(20 * time.Millisecond)
			}
			c.Close()
		}
	}()
	return sock
}

// failingWrites breaks a connection's first write, as a peer that reset
// it before the request went out.
type failingWrites struct{ net.Conn }

func (c failingWrites) Write([]byte) (int, error) {
	return 0, &net.OpError{Op: "write", Net: "unix", Err: os.NewSyscallError("write", syscall.ECONNRESET)}
}

// A daemon killed just after it answered Ensure's ping: the command's
// request finds it gone. A request it cannot have acted on (a read, or
// one not written) starts a daemon once more and is sent again; a write
// it may have read is an error, never sent twice.
func TestDaemonGoneAfterPing(t *testing.T) {
	var served atomic.Int32
	live := serve(t, func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		json.NewEncoder(w).Encode(struct{ N int }{7})
	})
	liveSock := live.socket
	// client dials sock until its restart hook runs, then the live
	// daemon; brokenWrite makes the first connection's writes fail.
	client := func(sock string, brokenWrite bool) (*Client, *atomic.Int32) {
		c := New(sock)
		var restarts atomic.Int32
		c.restart = func(context.Context) error { restarts.Add(1); return nil }
		c.dial = func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			if restarts.Load() > 0 {
				return d.DialContext(ctx, "unix", liveSock)
			}
			conn, err := d.DialContext(ctx, "unix", sock)
			if err == nil && brokenWrite {
				conn = failingWrites{conn}
			}
			return conn, err
		}
		t.Cleanup(c.Close)
		return c, &restarts
	}
	ctx := context.Background()
	var out struct{ N int }
	for _, tc := range []struct {
		name               string
		method             string
		readFirst, noWrite bool
		wantRestart        bool
	}{
		{"read reset", http.MethodGet, false, false, true},
		{"read closed after the request", http.MethodGet, true, false, true},
		{"write not sent", http.MethodPost, false, true, true},
		{"write reset after it was sent", http.MethodPost, false, false, false},
		{"write closed after it was read", http.MethodPost, true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			served.Store(0)
			out.N = 0
			c, restarts := client(dyingDaemon(t, tc.readFirst), tc.noWrite)
			err := c.do(ctx, tc.method, "/v1/x", nil, map[string]int{"a": 1}, &out)
			if tc.wantRestart {
				if err != nil || out.N != 7 || restarts.Load() != 1 || served.Load() != 1 {
					t.Fatalf("err %v, out %d, restarts %d, served %d: want one restart and one answer",
						err, out.N, restarts.Load(), served.Load())
				}
				return
			}
			if err == nil || IsDaemonDown(err) || restarts.Load() != 0 || served.Load() != 0 {
				t.Fatalf("err %v, restarts %d, served %d: want an error that is not 'daemon down', nothing sent again",
					err, restarts.Load(), served.Load())
			}
		})
	}
}
