package nethost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"syscall"
	"time"

	"github.com/berthvm/berth/core/api"
)

// Client talks to a network's process over its control socket. It holds
// no connection: each call dials, so a Client outlives a restarted
// process and is safe for concurrent use.
type Client struct {
	sock string
}

// NewClient returns a client for the network whose run directory is
// runDir.
func NewClient(runDir string) *Client {
	return &Client{sock: filepath.Join(runDir, controlSockName)}
}

// defaultCallTimeout bounds a call whose ctx has no deadline.
const defaultCallTimeout = 30 * time.Second

// call sends req and returns the reply; a reply that reports a failure
// is returned with its error (api.RemoteError: errors.Is finds the
// sentinel).
func (c *Client) call(ctx context.Context, req request) (reply, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultCallTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.sock)
	if err != nil {
		if ctx.Err() != nil {
			return reply{}, fmt.Errorf("network control %s: %w: %w", req.Op, ctx.Err(), api.ErrCanceled)
		}
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return reply{}, fmt.Errorf("the network's process is not running (no answer on %s): %w", c.sock, api.ErrUnavailable)
		}
		return reply{}, fmt.Errorf("network control %s: %v: %w", req.Op, err, api.ErrUnavailable)
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	var rep reply
	err = writeJSON(conn, req)
	if err == nil {
		err = readJSON(conn, &rep)
	}
	if err != nil {
		if ctx.Err() != nil {
			return reply{}, fmt.Errorf("network control %s: %w: %w", req.Op, ctx.Err(), api.ErrCanceled)
		}
		if errors.Is(err, api.ErrCorrupt) {
			return reply{}, err
		}
		return reply{}, fmt.Errorf("network control %s: the process did not answer: %v: %w", req.Op, err, api.ErrUnavailable)
	}
	if rep.Error != nil {
		return rep, rep.Error
	}
	if !rep.OK {
		return rep, fmt.Errorf("network control %s: failed without a reason: %w", req.Op, api.ErrCorrupt)
	}
	return rep, nil
}

// Hello says which network and process answer.
func (c *Client) Hello(ctx context.Context) (Hello, error) {
	rep, err := c.call(ctx, request{Op: opHello})
	if err != nil {
		return Hello{}, err
	}
	if rep.Hello == nil {
		return Hello{}, fmt.Errorf("network control hello: no answer: %w", api.ErrCorrupt)
	}
	return *rep.Hello, nil
}

// Attach binds a.Socket and moves the VM's frames; call it before the VM
// starts. Attaching the same again does nothing; the VM may restart
// behind an attachment.
func (c *Client) Attach(ctx context.Context, a Attachment) error {
	_, err := c.call(ctx, request{Op: opAttach, Attach: &a})
	return err
}

// Detach stops moving vm's frames and removes its socket; detaching a VM
// that is not attached does nothing.
func (c *Client) Detach(ctx context.Context, vm string) error {
	_, err := c.call(ctx, request{Op: opDetach, VM: vm})
	return err
}

// SetRecords replaces the network's DNS names with rs.
func (c *Client) SetRecords(ctx context.Context, rs []Record) error {
	if rs == nil {
		rs = []Record{}
	}
	_, err := c.call(ctx, request{Op: opRecords, Records: rs})
	return err
}

// Expose publishes f and returns it as published (with the port bound
// when f.HostPort is 0). A port in use fails with api.ErrConflict and
// says by whom where the host can tell.
func (c *Client) Expose(ctx context.Context, f Forward) (Forward, error) {
	rep, err := c.call(ctx, request{Op: opExpose, Forward: &f})
	if err != nil {
		return f, err
	}
	if rep.Forward == nil {
		return f, fmt.Errorf("network control expose: no answer: %w", api.ErrCorrupt)
	}
	return *rep.Forward, nil
}

// Unexpose releases a published port; one that is not published is no
// error.
func (c *Client) Unexpose(ctx context.Context, k ForwardKey) error {
	_, err := c.call(ctx, request{Op: opUnexpose, Key: &k})
	return err
}

// Status reports the network's attachments, ports, names and traffic.
func (c *Client) Status(ctx context.Context) (Status, error) {
	rep, err := c.call(ctx, request{Op: opStatus})
	if err != nil {
		return Status{}, err
	}
	if rep.Status == nil {
		return Status{}, fmt.Errorf("network control status: no answer: %w", api.ErrCorrupt)
	}
	return *rep.Status, nil
}

// Sync makes the network's live state exactly s and says what changed.
// It does all it can: on error, the result and status still say what was
// done and what is live.
func (c *Client) Sync(ctx context.Context, s State) (SyncResult, Status, error) {
	rep, err := c.call(ctx, request{Op: opSync, State: &s})
	var res SyncResult
	var st Status
	if rep.Sync != nil {
		res = *rep.Sync
	}
	if rep.Status != nil {
		st = *rep.Status
	}
	return res, st, err
}

// Stop asks the process to detach everything, remove its run directory
// and exit; it returns once the request is taken (Process.Stop also
// waits for the exit).
func (c *Client) Stop(ctx context.Context) error {
	_, err := c.call(ctx, request{Op: opStop})
	return err
}
