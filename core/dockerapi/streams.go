package dockerapi

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/runtime"
)

// Docker's stream ids in a multiplexed stream's frame header.
const (
	streamStdout byte = 1
	streamStderr byte = 2
)

// muxWriter writes docker's multiplexed frames: an 8-byte header (stream
// id, three zero bytes, the payload's length big-endian) and the payload.
// With raw set (a TTY) bytes pass as they are. It is safe for concurrent
// use by the stdout and stderr pumps.
type muxWriter struct {
	mu    sync.Mutex
	w     io.Writer
	raw   bool
	flush func()
}

func (m *muxWriter) write(stream byte, p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.raw {
		var h [8]byte
		h[0] = stream
		binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
		if _, err := m.w.Write(h[:]); err != nil {
			return 0, err
		}
	}
	n, err := m.w.Write(p)
	if m.flush != nil {
		m.flush()
	}
	return n, err
}

// stream is an io.Writer for one stream id.
func (m *muxWriter) stream(id byte) io.Writer {
	return writerFunc(func(p []byte) (int, error) { return m.write(id, p) })
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// contentType is docker's for an output stream.
func contentType(tty bool) string {
	if tty {
		return "application/vnd.docker.raw-stream"
	}
	return "application/vnd.docker.multiplexed-stream"
}

// logOptions reads docker's logs query: tail (a number or all), since
// (unix seconds, with an optional fraction), follow.
func logOptions(q map[string][]string) (runtime.LogOptions, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var opts runtime.LogOptions
	opts.Follow = queryBool(q, "follow")
	if t := get("tail"); t != "" && t != "all" {
		n, err := strconv.Atoi(t)
		if err != nil {
			return opts, fmt.Errorf("tail %q: want a number or all: %w", t, api.ErrInvalidArgument)
		}
		opts.Tail = n
		if n <= 0 {
			opts.Tail = -1 // none of the stored entries
		}
	}
	if s := get("since"); s != "" && s != "0" {
		t, err := unixTime(s)
		if err != nil {
			return opts, err
		}
		opts.Since = t
	}
	return opts, nil
}

// unixTime reads docker's "SECONDS[.NANOSECONDS]".
func unixTime(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	var ns int64
	if err == nil && frac != "" {
		frac = (frac + "000000000")[:9]
		ns, err = strconv.ParseInt(frac, 10, 64)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want unix seconds: %w", s, api.ErrInvalidArgument)
	}
	return time.Unix(n, ns), nil
}

func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) { writeError(w, r, s.log, err) }
	c, err := s.containers()
	if err != nil {
		fail(err)
		return
	}
	q := r.URL.Query()
	id := r.PathValue("id")
	ct, err := c.Inspect(id)
	if err != nil {
		fail(noSuchContainer(id, err))
		return
	}
	opts, err := logOptions(q)
	if err != nil {
		fail(err)
		return
	}
	var until time.Time
	if u := q.Get("until"); u != "" && u != "0" {
		if until, err = unixTime(u); err != nil {
			fail(err)
			return
		}
	}
	wantOut, wantErr, stamps := queryBool(q, "stdout"), queryBool(q, "stderr"), queryBool(q, "timestamps")
	if !wantOut && !wantErr {
		fail(api.Exactly(api.ErrInvalidArgument, "Bad parameters: you must choose at least one stream"))
		return
	}
	w.Header().Set("Content-Type", contentType(ct.Spec.TTY))
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	mw := &muxWriter{w: w, raw: ct.Spec.TTY}
	if flusher != nil {
		mw.flush = flusher.Flush
		flusher.Flush()
	}
	err = c.Logs(r.Context(), ct.ID, opts, func(e runtime.LogEntry) error {
		if !until.IsZero() && e.Time.After(until) {
			return nil
		}
		id := streamStdout
		switch {
		case e.Stream == "stderr" && !wantErr, e.Stream != "stderr" && !wantOut:
			return nil
		case e.Stream == "stderr":
			id = streamStderr
		}
		line := e.Log
		if stamps {
			line = e.Time.UTC().Format(time.RFC3339Nano) + " " + line
		}
		_, err := mw.write(id, []byte(line))
		return err
	})
	if err != nil && r.Context().Err() == nil {
		s.log.Info("docker logs stream ended", "container", ct.Name, "err", err)
	}
}

// waitBody is docker's POST /containers/{id}/wait reply.
type waitBody struct {
	StatusCode int
	Error      *struct{ Message string } `json:",omitempty"`
}

// containerWait answers when the container reaches the condition:
// not-running (at once if it is not), next-exit (the end of the current
// run, or of the next one), removed (next-exit, then its removal). The
// status line is sent at once, as docker does: `docker run` waits for it
// before it starts the container.
func (s *Server) containerWait(w http.ResponseWriter, r *http.Request) {
	c, err := s.containers()
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	id := r.PathValue("id")
	ct, err := c.Inspect(id)
	if err != nil {
		writeError(w, r, s.log, noSuchContainer(id, err))
		return
	}
	var wait func(context.Context) (api.Container, error)
	switch cond := r.URL.Query().Get("condition"); cond {
	case "", "not-running":
		wait = func(ctx context.Context) (api.Container, error) { return c.Wait(ctx, ct.ID) }
	case "next-exit", "removed":
		next, detach, err := c.Attach(ct.ID, runtime.AttachOptions{})
		if err != nil {
			writeError(w, r, s.log, noSuchContainer(id, err))
			return
		}
		defer detach()
		wait = next
		if cond == "removed" {
			wait = func(ctx context.Context) (api.Container, error) {
				end, err := next(ctx)
				if err != nil {
					return end, err
				}
				return end, s.waitRemoved(ctx, c, ct.ID)
			}
		}
	default:
		writeError(w, r, s.log, fmt.Errorf("wait condition %q: want not-running, next-exit or removed: %w", cond, api.ErrInvalidArgument))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	end, err := wait(r.Context())
	if r.Context().Err() != nil {
		return // the client left
	}
	body := waitBody{StatusCode: end.ExitCode}
	switch {
	case err != nil:
		body.Error = &struct{ Message string }{err.Error()}
	case end.Error != "" && end.State == api.StateDead:
		body.Error = &struct{ Message string }{end.Error}
	}
	writeJSONBody(w, body)
}

// waitRemoved waits for a container to be gone: the runtime removes an
// auto-remove container just after its run ends, and publishes destroy.
// The answer goes out on that event (docker run --rm ends on it), not on
// the next tick of a poll; the tick remains for a bus that drops this
// subscriber, and is the only signal where the server has no events.
func (s *Server) waitRemoved(ctx context.Context, c Containers, id string) error {
	interval := removedPoll
	var destroyed <-chan api.Event
	if s.cfg.Events != nil {
		// Subscribed before the first look, so a removal between the two
		// is not missed.
		sub, cancel := context.WithCancel(ctx)
		defer cancel()
		destroyed = s.cfg.Events.Subscribe(sub, time.Time{}, func(e api.Event) bool {
			return e.Type == api.EventContainer && e.Action == "destroy" && e.ID == id
		})
		interval = removedSafetyPoll
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ct, err := c.Inspect(id)
		if errors.Is(err, api.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !ct.Spec.AutoRemove && !ct.State.Active() {
			// Nothing will remove it: docker waits for a docker rm, and
			// so does this, on the container's own changes.
			if _, err := c.Wait(ctx, id); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for removal of %s: %w", ct.Name, errors.Join(ctx.Err(), api.ErrCanceled))
		case _, ok := <-destroyed:
			if !ok { // the bus let go of this subscriber: poll
				destroyed = nil
				tick.Reset(removedPoll)
			}
		case <-tick.C:
		}
	}
}

// How often waitRemoved looks without events, and with them.
const (
	removedPoll       = 50 * time.Millisecond
	removedSafetyPoll = time.Second
)

// containerAttach takes over the connection (docker's Upgrade: tcp, or
// the older plain hijack) and streams the main process's output of the
// current run, or the next one, multiplexed unless it has a TTY; with
// stdin=1 the client's bytes go to its stdin. The connection closes when
// that run ends.
func (s *Server) containerAttach(w http.ResponseWriter, r *http.Request) {
	c, err := s.containers()
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	q := r.URL.Query()
	id := r.PathValue("id")
	ct, err := c.Inspect(id)
	if err == nil && ct.State == api.StatePaused {
		err = api.Exactly(api.ErrConflict, "You cannot attach to a paused container, unpause it first")
	}
	if err != nil {
		writeError(w, r, s.log, noSuchContainer(id, err))
		return
	}
	logs, stream := queryBool(q, "logs"), queryBool(q, "stream")
	if !logs && !stream {
		writeError(w, r, s.log, fmt.Errorf("attach without stream=1 or logs=1 has nothing to send: %w", api.ErrInvalidArgument))
		return
	}
	conn, brw, err := hijack(w, r, ct.Spec.TTY)
	if err != nil {
		s.log.Warn("docker attach hijack", "err", err)
		return
	}
	defer conn.Close()
	// A hijacked request's context does not end with its connection: a
	// client that leaves shows as a failed write or read, which ends gone.
	gone, leave := context.WithCancel(context.Background())
	defer leave()
	mw := &muxWriter{w: leaveOnError(conn, leave), raw: ct.Spec.TTY}
	wantOut, wantErr := queryBool(q, "stdout"), queryBool(q, "stderr")
	if logs {
		// As docker: the log so far, then (with stream) the live output.
		err := c.Logs(r.Context(), ct.ID, runtime.LogOptions{}, func(e runtime.LogEntry) error {
			switch {
			case e.Stream == "stderr" && wantErr:
				_, err := mw.write(streamStderr, []byte(e.Log))
				return err
			case e.Stream != "stderr" && wantOut:
				_, err := mw.write(streamStdout, []byte(e.Log))
				return err
			}
			return nil
		})
		if err != nil || !stream {
			if err != nil {
				s.log.Info("docker attach logs", "container", ct.Name, "err", err)
			}
			return
		}
	}
	opts := runtime.AttachOptions{Stdout: io.Discard, Stderr: io.Discard}
	if wantOut {
		opts.Stdout = mw.stream(streamStdout)
	}
	if wantErr {
		opts.Stderr = mw.stream(streamStderr)
	}
	var stdinW *io.PipeWriter
	if queryBool(q, "stdin") && ct.Spec.OpenStdin {
		var stdinR *io.PipeReader
		stdinR, stdinW = io.Pipe()
		opts.Stdin = stdinR
	}
	wait, detach, err := c.Attach(ct.ID, opts)
	if err != nil {
		s.log.Info("docker attach", "container", ct.Name, "err", err)
		return
	}
	defer detach()
	// The client half-closes its side at the end of its input (at once
	// without stdin): that ends stdin, not the attach, which lasts until
	// the run ends.
	go clientInput(brw.Reader, stdinW, leave)
	if _, err := wait(gone); err != nil {
		s.log.Debug("docker attach ended", "container", ct.Name, "err", err)
	}
}

// hijack takes over the connection for a stream in both directions and
// answers as docker does: 101 to an Upgrade: tcp request, else a plain 200.
func hijack(w http.ResponseWriter, r *http.Request, tty bool) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack connection: %w", err)
	}
	if r.Header.Get("Upgrade") != "" {
		fmt.Fprintf(brw, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", contentType(tty))
	} else {
		fmt.Fprintf(brw, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n\r\n", contentType(tty))
	}
	if err := brw.Flush(); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("answer hijacked connection: %w", err)
	}
	return conn, brw, nil
}

// clientInput copies the client's bytes into stdin; the client's end of
// input (a half-close) closes stdin. A failed read (not the end of input)
// means the client is gone: it calls leave.
func clientInput(r *bufio.Reader, stdin *io.PipeWriter, leave context.CancelFunc) {
	var err error
	if stdin == nil {
		_, err = io.Copy(io.Discard, r)
	} else {
		_, err = io.Copy(stdin, r)
		stdin.CloseWithError(err)
	}
	if err != nil {
		leave()
	}
}

// leaveOnError is w, calling leave when a write fails: on a hijacked
// connection that is how a client that left shows. A client that leaves
// a quiet stream without input looks like one that half-closed its
// side at the end of its input until the next write, for docker too.
func leaveOnError(w io.Writer, leave context.CancelFunc) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		n, err := w.Write(p)
		if err != nil {
			leave()
		}
		return n, err
	})
}

func writeJSONBody(w io.Writer, v any) { json.NewEncoder(w).Encode(v) }
