package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/image"
	"github.com/berthvm/berth/core/rootfs"
	"github.com/berthvm/berth/core/runtime"
	"github.com/berthvm/berth/resources"
)

// containerRoutes registers the container endpoints. {id} is anything
// the runtime resolves: full id, name or unique id prefix.
func (d *Daemon) containerRoutes() {
	d.route("POST /v1/containers", d.containerCreate)
	d.route("GET /v1/containers", func(r *http.Request) (any, error) {
		return d.runtime.List(r.URL.Query().Get("all") == "1")
	})
	d.route("POST /v1/containers/prune", func(r *http.Request) (any, error) {
		removed, err := d.runtime.Prune(r.Context(), nil)
		if removed == nil {
			removed = []string{}
		}
		return removed, err
	})
	d.route("GET /v1/containers/{id}", func(r *http.Request) (any, error) { return d.runtime.Inspect(r.PathValue("id")) })
	d.streamRoute("POST /v1/containers/{id}/start", func(r *http.Request, p api.ProgressFunc) (any, error) {
		return d.runtime.Start(r.Context(), r.PathValue("id"), p)
	})
	d.route("POST /v1/containers/{id}/stop", d.containerStop)
	d.streamRoute("POST /v1/containers/{id}/restart", func(r *http.Request, p api.ProgressFunc) (any, error) {
		timeout, err := stopTimeout(r.URL.Query().Get("t"))
		if err != nil {
			return nil, err
		}
		return d.runtime.Restart(r.Context(), r.PathValue("id"), timeout, p)
	})
	d.route("POST /v1/containers/{id}/pause", func(r *http.Request) (any, error) {
		return d.runtime.Pause(r.Context(), r.PathValue("id"))
	})
	d.route("POST /v1/containers/{id}/unpause", func(r *http.Request) (any, error) {
		return d.runtime.Unpause(r.Context(), r.PathValue("id"))
	})
	d.route("POST /v1/containers/{id}/rename", func(r *http.Request) (any, error) {
		return d.runtime.Rename(r.Context(), r.PathValue("id"), r.URL.Query().Get("name"))
	})
	d.route("GET /v1/containers/{id}/top", func(r *http.Request) (any, error) {
		return d.runtime.Top(r.Context(), r.PathValue("id"))
	})
	d.route("POST /v1/containers/{id}/kill", func(r *http.Request) (any, error) {
		return nil, d.runtime.Kill(r.Context(), r.PathValue("id"), r.URL.Query().Get("signal"))
	})
	d.route("DELETE /v1/containers/{id}", func(r *http.Request) (any, error) {
		q := r.URL.Query()
		opts := api.RemoveOptions{Force: q.Get("force") == "1", Volumes: q.Get("volumes") == "1"}
		return nil, d.runtime.Remove(r.Context(), r.PathValue("id"), opts)
	})
	d.route("POST /v1/containers/{id}/wait", func(r *http.Request) (any, error) {
		return d.runtime.Wait(r.Context(), r.PathValue("id"))
	})
	d.route("POST /v1/containers/{id}/update", func(r *http.Request) (any, error) {
		var u api.ContainerUpdate
		if err := decodeBody(r, &u); err != nil {
			return nil, err
		}
		return d.runtime.Update(r.PathValue("id"), u)
	})
	d.route("POST /v1/containers/{id}/resize", d.containerResize)
	d.route("GET /v1/containers/{id}/stats", func(r *http.Request) (any, error) {
		return d.runtime.Stats(r.Context(), r.PathValue("id"))
	})
	d.mux.HandleFunc("GET /v1/containers/{id}/logs", d.containerLogs)
	d.mux.HandleFunc("POST /v1/containers/{id}/attach", d.containerAttach)
	d.mux.HandleFunc("POST /v1/containers/{id}/exec", d.containerExec)
	d.archiveRoutes()
}

func (d *Daemon) containerCreate(r *http.Request) (any, error) {
	var spec api.ContainerSpec
	if err := decodeBody(r, &spec); err != nil {
		return nil, err
	}
	return d.runtime.Create(r.Context(), spec)
}

func (d *Daemon) containerStop(r *http.Request) (any, error) {
	q := r.URL.Query()
	timeout, err := stopTimeout(q.Get("t"))
	if err != nil {
		return nil, err
	}
	return d.runtime.Stop(r.Context(), r.PathValue("id"), timeout, q.Get("signal"))
}

// stopTimeout reads ?t=: whole seconds, 10 when absent.
func stopTimeout(t string) (time.Duration, error) {
	if t == "" {
		return 10 * time.Second, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("stop timeout %q: want whole seconds, 0 or more: %w", t, api.ErrInvalidArgument)
	}
	return time.Duration(n) * time.Second, nil
}

func (d *Daemon) containerResize(r *http.Request) (any, error) {
	rows, cols, err := termSize(r.URL.Query().Get("h"), r.URL.Query().Get("w"))
	if err != nil {
		return nil, err
	}
	return nil, d.runtime.Resize(r.Context(), r.PathValue("id"), rows, cols)
}

func termSize(h, w string) (uint16, uint16, error) {
	rows, err1 := strconv.ParseUint(h, 10, 16)
	cols, err2 := strconv.ParseUint(w, 10, 16)
	if err1 != nil || err2 != nil || rows == 0 || cols == 0 {
		return 0, 0, fmt.Errorf("terminal size %sx%s: want positive rows and columns: %w", h, w, api.ErrInvalidArgument)
	}
	return uint16(rows), uint16(cols), nil
}

// containerLogs streams stored log entries as NDJSON; with follow=1 it
// keeps going until the container stops or the client leaves.
func (d *Daemon) containerLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := runtime.LogOptions{Follow: q.Get("follow") == "1"}
	if t := q.Get("tail"); t != "" && t != "all" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			d.writeError(w, r, fmt.Errorf("--tail %q: want a number or all: %w", t, api.ErrInvalidArgument))
			return
		}
		opts.Tail = n
		if n == 0 {
			opts.Tail = -1 // none of the stored entries
		}
	}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			d.writeError(w, r, fmt.Errorf("since %q: %w", s, api.ErrInvalidArgument))
			return
		}
		opts.Since = t
	}
	if _, err := d.runtime.Inspect(r.PathValue("id")); err != nil {
		d.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	err := d.runtime.Logs(r.Context(), r.PathValue("id"), opts, func(e runtime.LogEntry) error {
		if err := enc.Encode(e); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	})
	if err != nil && r.Context().Err() == nil {
		d.log.Info("logs stream ended", "err", err)
	}
}

// upgrade takes over the connection for a raw frame stream.
func upgrade(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be upgraded")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", api.UpgradeProtocol)
	if err := brw.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, brw, nil
}

// errClientLeft ends a client's input that stopped without an end of
// input (it detached, or went): the runtime keeps a terminal's stdin open
// for the next client, as docker does.
var errClientLeft = errors.New("the attached client left")

// clientInput reads the client's frames: input into stdin, resizes to
// resize. It closes stdin at the client's EOF, and with errClientLeft when
// the client goes.
func clientInput(r io.Reader, stdin *io.PipeWriter, resize func(api.TermSize)) {
	defer func() {
		if stdin != nil {
			stdin.CloseWithError(errClientLeft)
		}
	}()
	for {
		kind, p, err := api.ReadFrame(r)
		if err != nil {
			return
		}
		switch kind {
		case api.FrameStdin:
			if stdin != nil {
				if _, err := stdin.Write(p); err != nil {
					stdin = nil
				}
			}
		case api.FrameStdinEOF:
			if stdin != nil {
				stdin.Close()
				stdin = nil
			}
		case api.FrameResize:
			var sz api.TermSize
			if json.Unmarshal(p, &sz) == nil && sz.Rows > 0 && sz.Cols > 0 {
				resize(sz)
			}
		}
	}
}

// containerAttach streams the main process: output of the current run (or
// of the next, if the container is not running yet), input if stdin=1,
// and an exit frame when that run ends.
func (d *Daemon) containerAttach(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, err := d.runtime.Inspect(id)
	if err == nil && c.State == api.StatePaused {
		err = fmt.Errorf("you cannot attach to a paused container, unpause it first: %w", api.ErrConflict)
	}
	if err == nil && r.URL.Query().Get("running") == "1" && !c.State.Active() {
		err = fmt.Errorf("you cannot attach to a stopped container, start it first: %w", api.ErrConflict)
	}
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	if qh, qw := r.URL.Query().Get("h"), r.URL.Query().Get("w"); qh != "" || qw != "" {
		// The client's terminal, before the process starts with it.
		rows, cols, err := termSize(qh, qw)
		if err == nil {
			err = d.runtime.Resize(r.Context(), c.ID, rows, cols)
		}
		if err != nil {
			d.writeError(w, r, err)
			return
		}
	}
	var stdinR *io.PipeReader
	var stdinW *io.PipeWriter
	if r.URL.Query().Get("stdin") == "1" {
		stdinR, stdinW = io.Pipe()
	}
	conn, brw, err := upgrade(w)
	if err != nil {
		d.log.Warn("attach upgrade", "err", err)
		return
	}
	defer conn.Close()
	fw := api.NewFrameWriter(conn)
	opts := runtime.AttachOptions{Stdout: fw.Stream(api.FrameStdout), Stderr: fw.Stream(api.FrameStderr)}
	if stdinR != nil {
		opts.Stdin = stdinR
	}
	wait, detach, err := d.runtime.Attach(c.ID, opts)
	if err != nil {
		writeExit(fw, 0, err)
		return
	}
	defer detach()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		clientInput(brw, stdinW, func(sz api.TermSize) { d.runtime.Resize(ctx, c.ID, sz.Rows, sz.Cols) })
		cancel() // the connection closed: the client left (or detached)
	}()
	end, err := wait(ctx)
	if err != nil {
		return // the client left; the container runs on
	}
	var cause error
	if end.Error != "" && end.State == api.StateDead {
		cause = &api.RemoteError{Code: api.CodeUnavailable, Message: end.Error}
	}
	writeExit(fw, end.ExitCode, cause)
}

func writeExit(fw *api.FrameWriter, code int, err error) {
	raw, _ := json.Marshal(api.ExitFrame{ExitCode: code, Error: api.ToRemote(err)})
	fw.WriteFrame(api.FrameExit, raw)
}

// containerExec runs a process in a running container. Detached execs get
// a plain JSON reply; others an upgraded stream ending in an exit frame.
func (d *Daemon) containerExec(w http.ResponseWriter, r *http.Request) {
	var spec api.ExecSpec
	if err := decodeBody(r, &spec); err != nil {
		d.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	c, err := d.runtime.Inspect(id)
	if err == nil && c.State == api.StatePaused {
		err = fmt.Errorf("container %s is paused, unpause the container before exec: %w", c.Name, api.ErrConflict)
	}
	if err == nil && c.State != api.StateRunning {
		err = fmt.Errorf("container %s is not running (%s): start it first: %w", c.Name, c.State, api.ErrConflict)
	}
	if err == nil && len(spec.Cmd) == 0 {
		err = fmt.Errorf("exec needs a command: %w", api.ErrInvalidArgument)
	}
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	if spec.Detach {
		if _, err := d.runtime.Exec(r.Context(), c.ID, spec, runtime.ExecIO{}); err != nil {
			d.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	conn, brw, err := upgrade(w)
	if err != nil {
		d.log.Warn("exec upgrade", "err", err)
		return
	}
	defer conn.Close()
	fw := api.NewFrameWriter(conn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resize := make(chan proto.WinSize, 4)
	stdio := runtime.ExecIO{Stdout: fw.Stream(api.FrameStdout), Stderr: fw.Stream(api.FrameStderr), Resize: resize}
	var stdinW *io.PipeWriter
	if spec.Stdin {
		var stdinR *io.PipeReader
		stdinR, stdinW = io.Pipe()
		stdio.Stdin = stdinR
	}
	go func() {
		clientInput(brw, stdinW, func(sz api.TermSize) {
			select {
			case resize <- proto.WinSize{Rows: sz.Rows, Cols: sz.Cols}:
			default:
			}
		})
		if stdinW == nil {
			cancel()
		}
	}()
	code, err := d.runtime.Exec(ctx, c.ID, spec, stdio)
	writeExit(fw, code, err)
}

// imageSource adapts the image store to what the runtime needs, and loads
// the embedded demo image the first time it is asked for.
type imageSource struct{ store *image.Store }

func (s imageSource) Resolve(ctx context.Context, ref string) (runtime.Image, error) {
	det, err := s.store.Inspect(ctx, ref)
	if errors.Is(err, api.ErrNotFound) && isDemoRef(ref) {
		if lerr := s.loadDemo(ctx); lerr != nil {
			return runtime.Image{}, lerr
		}
		det, err = s.store.Inspect(ctx, ref)
	}
	if err != nil {
		return runtime.Image{}, err
	}
	arch := ""
	if parts := strings.Split(det.Platform, "/"); len(parts) >= 2 {
		arch = parts[1]
	}
	return runtime.Image{Ref: ref, Digest: det.Digest, Arch: arch, Config: det.Config, BaseDisk: det.RootFS.Path}, nil
}

// isDemoRef matches the names `berth run berth/demo` may be given as.
func isDemoRef(ref string) bool {
	switch ref {
	case "berth/demo", resources.DemoImageRef, "docker.io/" + resources.DemoImageRef, "docker.io/berth/demo":
		return true
	}
	return false
}

func (s imageSource) loadDemo(ctx context.Context) error {
	b, err := resources.DemoImage(goruntime.GOARCH)
	if err != nil {
		return err
	}
	_, err = s.store.LoadArchive(ctx, bytes.NewReader(b), "embedded "+resources.DemoImageRef, image.LoadOptions{})
	return err
}

// writableDisks makes containers' writable disks from a template.
type writableDisks struct{ templates string }

func (w writableDisks) Create(ctx context.Context, path string) error {
	return rootfs.CreateWritable(ctx, w.templates, path, rootfs.DefaultWritableSize)
}

func templatesDir(home string) string { return filepath.Join(home, "rootfs", "templates") }
