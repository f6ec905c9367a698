package dockerapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/runtime"
)

// Execer runs another process in a running container (*runtime.Manager).
// Docker splits an exec into create, start and inspect; the runtime runs
// one in a single call, so the server keeps docker's exec ids itself.
type Execer interface {
	Exec(ctx context.Context, ref string, spec api.ExecSpec, stdio runtime.ExecIO) (int, error)
}

// execCreateBody is docker's POST /containers/{id}/exec request.
type execCreateBody struct {
	User         string
	Tty          bool
	ConsoleSize  *[2]uint16 // rows, columns
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	Detach       bool
	Env          []string
	WorkingDir   string
	Cmd          []string
	Privileged   bool
}

// execStartBody is docker's POST /exec/{id}/start request.
type execStartBody struct {
	Detach      bool
	Tty         bool
	ConsoleSize *[2]uint16
}

// execInspect is docker's GET /exec/{id}/json reply.
type execInspect struct {
	ID            string
	Running       bool
	ExitCode      *int
	ProcessConfig execProcessConfig
	OpenStdin     bool
	OpenStderr    bool
	OpenStdout    bool
	CanRemove     bool
	ContainerID   string
	DetachKeys    string
	Pid           int
}

type execProcessConfig struct {
	Privileged bool     `json:"privileged"`
	User       string   `json:"user"`
	Tty        bool     `json:"tty"`
	Entrypoint string   `json:"entrypoint"`
	Arguments  []string `json:"arguments"`
}

// execRecord is one docker exec: created, then started once.
type execRecord struct {
	id, container string
	body          execCreateBody

	mu       sync.Mutex
	started  bool
	running  bool
	exitCode *int
	ended    time.Time
	size     *api.TermSize
	resize   chan proto.WinSize // while running with a TTY
}

// execTable holds the exec ids of this server's life; ended execs are
// forgotten after execKeep, once there are more than execKeepMin.
type execTable struct {
	mu sync.Mutex
	m  map[string]*execRecord
}

const (
	execKeep    = 10 * time.Minute
	execKeepMin = 64
)

func (t *execTable) add(e *execRecord) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*execRecord{}
	}
	if len(t.m) >= execKeepMin {
		for id, old := range t.m {
			old.mu.Lock()
			stale := !old.ended.IsZero() && time.Since(old.ended) > execKeep
			old.mu.Unlock()
			if stale {
				delete(t.m, id)
			}
		}
	}
	t.m[e.id] = e
}

func (t *execTable) get(id string) (*execRecord, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.m[id]; ok {
		return e, nil
	}
	return nil, api.Exactly(api.ErrNotFound, "No such exec instance: %s", id)
}

func (e *execRecord) inspect() execInspect {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := execInspect{ID: e.id, ContainerID: e.container, Running: e.running, ExitCode: e.exitCode,
		OpenStdin: e.body.AttachStdin, OpenStdout: e.body.AttachStdout, OpenStderr: e.body.AttachStderr,
		ProcessConfig: execProcessConfig{Privileged: e.body.Privileged, User: e.body.User, Tty: e.body.Tty,
			Entrypoint: e.body.Cmd[0], Arguments: append([]string{}, e.body.Cmd[1:]...)}}
	return out
}

func (s *Server) execer() (Execer, error) {
	c, err := s.containers()
	if err != nil {
		return nil, err
	}
	x, ok := c.(Execer)
	if !ok {
		return nil, fmt.Errorf("this runtime cannot exec: %w", api.ErrUnsupported)
	}
	return x, nil
}

func (s *Server) execCreate(r *http.Request) (any, error) {
	if _, err := s.execer(); err != nil {
		return nil, err
	}
	c, _ := s.containers()
	id := r.PathValue("id")
	var body execCreateBody
	if err := decode(r, &body); err != nil {
		return nil, err
	}
	if len(body.Cmd) == 0 {
		return nil, api.Exactly(api.ErrInvalidArgument, "No exec command specified")
	}
	if body.Privileged {
		return nil, fmt.Errorf("privileged exec is not supported by Berth: the container's VM is its boundary: %w", api.ErrInvalidArgument)
	}
	ct, err := c.Inspect(id)
	if err != nil {
		return nil, noSuchContainer(id, err)
	}
	switch ct.State {
	case api.StateRunning:
	case api.StatePaused:
		return nil, api.Exactly(api.ErrConflict, "Container %s is paused, unpause the container before exec", ct.ID)
	default:
		return nil, api.Exactly(api.ErrConflict, "Container %s is not running", ct.ID)
	}
	e := &execRecord{id: newExecID(), container: ct.ID, body: body}
	if cs := body.ConsoleSize; cs != nil && cs[0] > 0 && cs[1] > 0 {
		e.size = &api.TermSize{Rows: cs[0], Cols: cs[1]}
	}
	s.execs.add(e)
	return created{struct{ Id string }{e.id}}, nil
}

func newExecID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) execInspect(r *http.Request) (any, error) {
	e, err := s.execs.get(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return e.inspect(), nil
}

func (s *Server) execResize(r *http.Request) (any, error) {
	e, err := s.execs.get(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	size, err := resizeQuery(r)
	if err != nil || size == nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case !e.started:
		e.size = size
	case e.resize != nil:
		sz := proto.WinSize{Rows: size.Rows, Cols: size.Cols}
		select {
		case e.resize <- sz:
		default: // a resize is pending: the newest one wins
			select {
			case <-e.resize:
			default:
			}
			e.resize <- sz
		}
	}
	return nil, nil
}

// begin marks e started, or says why it cannot start.
func (e *execRecord) begin(start execStartBody) (api.ExecSpec, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		if e.running {
			return api.ExecSpec{}, api.Exactly(api.ErrConflict, "Error: Exec command %s is already running", e.id)
		}
		return api.ExecSpec{}, api.Exactly(api.ErrConflict, "Error: Exec command %s has already run", e.id)
	}
	if cs := start.ConsoleSize; cs != nil && cs[0] > 0 && cs[1] > 0 {
		e.size = &api.TermSize{Rows: cs[0], Cols: cs[1]}
	}
	e.started, e.running = true, true
	tty := e.body.Tty || start.Tty
	if tty {
		e.resize = make(chan proto.WinSize, 1)
	}
	return api.ExecSpec{Cmd: e.body.Cmd, Env: e.body.Env, User: e.body.User, WorkingDir: e.body.WorkingDir,
		TTY: tty, Stdin: e.body.AttachStdin && !start.Detach, Size: e.size}, nil
}

// end records the exit code (-1: the process could not run) and stops
// resizes.
func (e *execRecord) end(code int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.running, e.exitCode, e.ended = false, &code, time.Now()
	if e.resize != nil {
		close(e.resize)
		e.resize = nil
	}
}

// execStart runs the exec: detached, in the background with its output
// dropped; else on the hijacked connection, multiplexed unless it has a
// TTY, until the process exits.
func (s *Server) execStart(w http.ResponseWriter, r *http.Request) {
	x, err := s.execer()
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	e, err := s.execs.get(r.PathValue("id"))
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	var start execStartBody
	if r.ContentLength != 0 {
		if err := decode(r, &start); err != nil {
			writeError(w, r, s.log, err)
			return
		}
	}
	spec, err := e.begin(start)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	e.mu.Lock()
	resize := e.resize
	e.mu.Unlock()
	run := func(ctx context.Context, stdio runtime.ExecIO) {
		stdio.Resize = resize
		code, err := x.Exec(ctx, e.container, spec, stdio)
		if err != nil && ctx.Err() != nil {
			s.log.Debug("docker exec client left", "container", e.container, "exec", e.id, "err", err)
			code = -1
		} else if err != nil {
			s.log.Info("docker exec failed", "container", e.container, "exec", e.id, "err", err)
			code = -1
			fmt.Fprintf(stdio.Stderr, "%v\n", err)
		}
		e.end(code)
	}
	if start.Detach {
		// The exec outlives the request that started it.
		go run(context.WithoutCancel(r.Context()), runtime.ExecIO{Stdout: io.Discard, Stderr: io.Discard})
		w.WriteHeader(http.StatusOK)
		return
	}
	conn, brw, err := hijack(w, r, spec.TTY)
	if err != nil {
		e.end(-1)
		s.log.Warn("docker exec hijack", "err", err)
		return
	}
	defer conn.Close()
	// The exec ends when its client leaves (a failed write or read: a
	// hijacked request's context does not end with its connection), as
	// docker's, which kills it then.
	gone, leave := context.WithCancel(context.WithoutCancel(r.Context()))
	defer leave()
	mw := &muxWriter{w: leaveOnError(conn, leave), raw: spec.TTY}
	stdio := runtime.ExecIO{Stdout: io.Discard, Stderr: io.Discard}
	if e.body.AttachStdout {
		stdio.Stdout = mw.stream(streamStdout)
	}
	if e.body.AttachStderr {
		stdio.Stderr = mw.stream(streamStderr)
	}
	var stdinW *io.PipeWriter
	if spec.Stdin {
		var stdinR *io.PipeReader
		stdinR, stdinW = io.Pipe()
		stdio.Stdin = stdinR
		// Unblocks the client's input once the process is gone.
		defer stdinR.Close()
	}
	go clientInput(brw.Reader, stdinW, leave)
	run(gone, stdio)
}
