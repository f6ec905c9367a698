package client

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

// serve runs h on a unix socket and returns a client for it.
func serve(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	dir, err := os.MkdirTemp("", "bc")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); os.RemoveAll(dir) })
	return New(sock)
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
