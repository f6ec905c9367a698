package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/berthvm/berth/core/api"
)

// CreateContainer makes a container from spec (state created).
func (c *Client) CreateContainer(ctx context.Context, spec api.ContainerSpec) (api.Container, error) {
	var out api.Container
	err := c.do(ctx, http.MethodPost, "/v1/containers", nil, spec, &out)
	return out, err
}

// Containers lists containers; all includes stopped ones.
func (c *Client) Containers(ctx context.Context, all bool) ([]api.Container, error) {
	q := url.Values{}
	if all {
		q.Set("all", "1")
	}
	var out []api.Container
	err := c.do(ctx, http.MethodGet, "/v1/containers", q, nil, &out)
	return out, err
}

// Container inspects one container by id, name or id prefix.
func (c *Client) Container(ctx context.Context, ref string) (api.Container, error) {
	var out api.Container
	err := c.do(ctx, http.MethodGet, "/v1/containers/"+url.PathEscape(ref), nil, nil, &out)
	return out, err
}

// StartContainer boots the container's VM and starts its process.
func (c *Client) StartContainer(ctx context.Context, ref string, progress api.ProgressFunc) (api.Container, error) {
	var out api.Container
	err := c.stream(ctx, http.MethodPost, "/v1/containers/"+url.PathEscape(ref)+"/start", nil, nil, progress, &out)
	return out, err
}

// StopContainer signals the process (signal "" = the image's stop signal
// or TERM), kills it after timeout, and powers the VM off.
func (c *Client) StopContainer(ctx context.Context, ref string, timeout time.Duration, signal string) (api.Container, error) {
	q := url.Values{"t": {strconv.Itoa(int(timeout / time.Second))}}
	if signal != "" {
		q.Set("signal", signal)
	}
	var out api.Container
	err := c.do(ctx, http.MethodPost, "/v1/containers/"+url.PathEscape(ref)+"/stop", q, nil, &out)
	return out, err
}

// UpdateContainer changes a container's restart policy, CPUs or memory
// (see api.ContainerUpdate).
func (c *Client) UpdateContainer(ctx context.Context, ref string, u api.ContainerUpdate) (api.Container, error) {
	var out api.Container
	err := c.do(ctx, http.MethodPost, "/v1/containers/"+url.PathEscape(ref)+"/update", nil, u, &out)
	return out, err
}

// RestartContainer stops a container (killing it after timeout) and
// starts it again.
func (c *Client) RestartContainer(ctx context.Context, ref string, timeout time.Duration, progress api.ProgressFunc) (api.Container, error) {
	q := url.Values{"t": {strconv.Itoa(int(timeout / time.Second))}}
	var out api.Container
	err := c.stream(ctx, http.MethodPost, "/v1/containers/"+url.PathEscape(ref)+"/restart", q, nil, progress, &out)
	return out, err
}

// PauseContainer freezes the processes of a running container.
func (c *Client) PauseContainer(ctx context.Context, ref string) (api.Container, error) {
	var out api.Container
	err := c.do(ctx, http.MethodPost, "/v1/containers/"+url.PathEscape(ref)+"/pause", nil, nil, &out)
	return out, err
}

// UnpauseContainer thaws the processes of a paused container.
func (c *Client) UnpauseContainer(ctx context.Context, ref string) (api.Container, error) {
	var out api.Container
	err := c.do(ctx, http.MethodPost, "/v1/containers/"+url.PathEscape(ref)+"/unpause", nil, nil, &out)
	return out, err
}

// RenameContainer gives a container a new name.
func (c *Client) RenameContainer(ctx context.Context, ref, name string) (api.Container, error) {
	var out api.Container
	err := c.do(ctx, http.MethodPost, "/v1/containers/"+url.PathEscape(ref)+"/rename", url.Values{"name": {name}}, nil, &out)
	return out, err
}

// ContainerTop lists the processes of a running container.
func (c *Client) ContainerTop(ctx context.Context, ref string) (api.ContainerTop, error) {
	var out api.ContainerTop
	err := c.do(ctx, http.MethodGet, "/v1/containers/"+url.PathEscape(ref)+"/top", nil, nil, &out)
	return out, err
}

// KillContainer sends a signal (default KILL) to the main process.
func (c *Client) KillContainer(ctx context.Context, ref, signal string) error {
	q := url.Values{}
	if signal != "" {
		q.Set("signal", signal)
	}
	return c.do(ctx, http.MethodPost, "/v1/containers/"+url.PathEscape(ref)+"/kill", q, nil, nil)
}

// RemoveContainer deletes a container (see api.RemoveOptions).
func (c *Client) RemoveContainer(ctx context.Context, ref string, opts api.RemoveOptions) error {
	q := url.Values{}
	if opts.Force {
		q.Set("force", "1")
	}
	if opts.Volumes {
		q.Set("volumes", "1")
	}
	return c.do(ctx, http.MethodDelete, "/v1/containers/"+url.PathEscape(ref), q, nil, nil)
}

// WaitContainer blocks until the container is not running.
func (c *Client) WaitContainer(ctx context.Context, ref string) (api.Container, error) {
	var out api.Container
	err := c.do(ctx, http.MethodPost, "/v1/containers/"+url.PathEscape(ref)+"/wait", nil, nil, &out)
	return out, err
}

// PruneContainers removes every stopped container and returns their ids.
func (c *Client) PruneContainers(ctx context.Context) ([]string, error) {
	var out []string
	err := c.do(ctx, http.MethodPost, "/v1/containers/prune", nil, nil, &out)
	return out, err
}

// ContainerStats samples a running container.
func (c *Client) ContainerStats(ctx context.Context, ref string) (api.ContainerStats, error) {
	var out api.ContainerStats
	err := c.do(ctx, http.MethodGet, "/v1/containers/"+url.PathEscape(ref)+"/stats", nil, nil, &out)
	return out, err
}

// LogOptions select log entries.
type LogOptions struct {
	Follow bool
	Tail   int // -1: all
	Since  time.Time
}

// Logs calls fn for each log entry until the log ends (or, with Follow,
// until the container stops or ctx ends).
func (c *Client) Logs(ctx context.Context, ref string, opts LogOptions, fn func(api.LogEntry) error) error {
	q := url.Values{}
	if opts.Follow {
		q.Set("follow", "1")
	}
	if opts.Tail >= 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	if !opts.Since.IsZero() {
		q.Set("since", opts.Since.UTC().Format(time.RFC3339Nano))
	}
	err := c.eachLine(ctx, http.MethodGet, "/v1/containers/"+url.PathEscape(ref)+"/logs", q, nil, func(line []byte) error {
		var e api.LogEntry
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("decode log entry: %w", err)
		}
		return fn(e)
	})
	if ctx.Err() != nil {
		return nil // the caller stopped following
	}
	return err
}

// Stream is an upgraded attach or exec connection.
type Stream struct {
	rw io.ReadWriteCloser
	fw *api.FrameWriter
}

// Stdin returns a writer for the process's input; Close sends EOF.
func (s *Stream) Stdin() io.WriteCloser { return stdinWriter{s} }

type stdinWriter struct{ s *Stream }

func (w stdinWriter) Write(p []byte) (int, error) { return w.s.fw.Stream(api.FrameStdin).Write(p) }
func (w stdinWriter) Close() error                { return w.s.fw.WriteFrame(api.FrameStdinEOF, nil) }

// Resize sends a terminal size.
func (s *Stream) Resize(size api.TermSize) error {
	raw, _ := json.Marshal(size)
	return s.fw.WriteFrame(api.FrameResize, raw)
}

// Copy writes output frames to stdout and stderr until the exit frame,
// and returns it. An error in the exit frame (the process could not run)
// is returned as an error that matches the api sentinels.
func (s *Stream) Copy(stdout, stderr io.Writer) (api.ExitFrame, error) {
	for {
		kind, p, err := api.ReadFrame(s.rw)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return api.ExitFrame{}, fmt.Errorf("the daemon closed the stream before the process ended: %w", api.ErrUnavailable)
			}
			return api.ExitFrame{}, err
		}
		switch kind {
		case api.FrameStdout:
			stdout.Write(p)
		case api.FrameStderr:
			stderr.Write(p)
		case api.FrameExit:
			var ex api.ExitFrame
			if err := json.Unmarshal(p, &ex); err != nil {
				return ex, fmt.Errorf("decode exit frame: %w", err)
			}
			if ex.Error != nil {
				return ex, ex.Error
			}
			return ex, nil
		}
	}
}

// Close ends the connection.
func (s *Stream) Close() error { return s.rw.Close() }

// upgrade sends a request that the daemon answers by switching to frames.
func (c *Client) upgrade(ctx context.Context, path string, q url.Values, body any) (*Stream, error) {
	req, err := c.newRequest(ctx, http.MethodPost, path, q, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", api.UpgradeProtocol)
	resp, err := c.send(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: the daemon answered %s instead of switching to a stream", path, resp.Status)
	}
	rw, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: upgraded connection is not writable", path)
	}
	return &Stream{rw: rw, fw: api.NewFrameWriter(rw)}, nil
}

// AttachOptions choose what an attach carries.
type AttachOptions struct {
	// Stdin asks to feed the process's input.
	Stdin bool
	// Size is the client's terminal, for a container with a TTY: a
	// process that has not started yet starts with it.
	Size *api.TermSize
}

// AttachContainer connects to the main process's streams: the current run,
// or the next one if the container has not started yet (attach, then
// start, and no output is lost). stdin asks to feed the process's input.
func (c *Client) AttachContainer(ctx context.Context, ref string, stdin bool) (*Stream, error) {
	return c.Attach(ctx, ref, AttachOptions{Stdin: stdin})
}

// Attach is AttachContainer with all its options.
func (c *Client) Attach(ctx context.Context, ref string, opts AttachOptions) (*Stream, error) {
	q := url.Values{}
	if opts.Stdin {
		q.Set("stdin", "1")
	}
	if sz := opts.Size; sz != nil && sz.Rows > 0 && sz.Cols > 0 {
		q.Set("h", strconv.Itoa(int(sz.Rows)))
		q.Set("w", strconv.Itoa(int(sz.Cols)))
	}
	return c.upgrade(ctx, "/v1/containers/"+url.PathEscape(ref)+"/attach", q, nil)
}

// AttachRunning is AttachContainer for `berth attach`: it refuses a
// container that is not running, rather than wait for its next run.
func (c *Client) AttachRunning(ctx context.Context, ref string, stdin bool) (*Stream, error) {
	q := url.Values{"running": {"1"}}
	if stdin {
		q.Set("stdin", "1")
	}
	return c.upgrade(ctx, "/v1/containers/"+url.PathEscape(ref)+"/attach", q, nil)
}

// Exec starts a process in a running container and streams it. For a
// detached exec use ExecDetached.
func (c *Client) Exec(ctx context.Context, ref string, spec api.ExecSpec) (*Stream, error) {
	spec.Detach = false
	return c.upgrade(ctx, "/v1/containers/"+url.PathEscape(ref)+"/exec", nil, spec)
}

// ExecDetached starts a process and returns at once.
func (c *Client) ExecDetached(ctx context.Context, ref string, spec api.ExecSpec) error {
	spec.Detach = true
	return c.do(ctx, http.MethodPost, "/v1/containers/"+url.PathEscape(ref)+"/exec", nil, spec, nil)
}
