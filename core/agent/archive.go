package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
)

// The host's side of berth cp: a stat, and tar streams both ways over
// the session's flow-controlled streams, so a big file never sits whole
// in memory on either side.

func (c *Client) needArchive() error {
	if !c.info.Has(proto.FeatureArchive) {
		return fmt.Errorf("the guest agent (version %q) cannot copy files: rebuild the initramfs with this Berth: %w",
			c.info.AgentVersion, api.ErrUnsupported)
	}
	return nil
}

// StatPath describes a path in the container's root as cp means it:
// links on the way followed inside the container, the last element
// taken as it is unless the path ends in "/" or "/.".
func (c *Client) StatPath(ctx context.Context, container, path string) (api.PathStat, error) {
	var st api.PathStat
	if err := c.needArchive(); err != nil {
		return st, err
	}
	err := c.call(ctx, proto.OpStatPath, proto.PathRequest{Container: container, Path: path}, &st)
	return st, err
}

// ArchiveOut returns the tar of a path in the container (see
// proto.ArchiveRequest). The reader ends with io.EOF only when the guest
// wrote the whole archive, else with the guest's error; closing it early
// stops the guest.
func (c *Client) ArchiveOut(ctx context.Context, container, path string) (io.ReadCloser, error) {
	if err := c.needArchive(); err != nil {
		return nil, err
	}
	id := c.nextStream.Add(1)
	r := &archiveReader{c: c, id: id, rs: c.m.OpenRecv(id), done: make(chan error, 1)}
	go func() {
		r.done <- c.call(ctx, proto.OpArchiveOut, proto.ArchiveRequest{Container: container, Path: path, Stream: id}, nil)
	}()
	return r, nil
}

type archiveReader struct {
	c    *Client
	id   uint32
	rs   *proto.RecvStream
	done chan error

	mu     sync.Mutex
	ended  bool  // the call has replied
	result error // its reply
}

func (r *archiveReader) Read(p []byte) (int, error) {
	n, err := r.rs.Read(p)
	if errors.Is(err, io.EOF) {
		// The guest closes the stream before it replies: the reply
		// says whether the archive is whole.
		if cerr := r.wait(); cerr != nil {
			return n, fmt.Errorf("archive from the container: %w", cerr)
		}
	}
	return n, err
}

func (r *archiveReader) wait() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.ended {
		r.result, r.ended = <-r.done, true
	}
	return r.result
}

// Close stops the transfer if it is still going.
func (r *archiveReader) Close() error {
	r.mu.Lock()
	ended := r.ended
	r.mu.Unlock()
	if !ended {
		r.c.cancel(r.id)
	}
	r.rs.Close()
	r.c.m.ForgetRecv(r.id)
	return nil
}

// cancel asks the guest to end the transfer on stream id. It does not
// wait long: a guest that does not answer is on its way out anyway.
func (c *Client) cancel(id uint32) {
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = c.call(ctx, proto.OpCancel, proto.StreamRef{Stream: id}, nil)
}

// ArchiveIn extracts the tar stream r into dir, a directory in the
// container, and returns once the guest has extracted all of it (or
// failed: then r may not have been read to its end). A failure to read r
// cancels the extraction, which then fails: an archive cut short is
// never taken for a whole one.
func (c *Client) ArchiveIn(ctx context.Context, container, dir string, r io.Reader, noOverwriteDirNonDir bool) error {
	if err := c.needArchive(); err != nil {
		return err
	}
	id := c.nextStream.Add(1)
	ws := c.m.OpenSend(id, nil)
	defer c.m.ForgetSend(id)
	// The request goes first: the guest opens the stream as it reads
	// it, and data that came before would be dropped.
	callID, ch, err := c.send(proto.OpArchiveIn, proto.ArchiveRequest{Container: container, Path: dir, Stream: id,
		NoOverwriteDirNonDir: noOverwriteDirNonDir})
	if err != nil {
		return err
	}
	replied := make(chan error, 1)
	go func() { replied <- c.await(ctx, proto.OpArchiveIn, callID, ch, nil) }()
	sent := make(chan error, 1)
	go func() {
		_, err := io.Copy(ws, r)
		if err == nil {
			err = ws.Close()
		}
		sent <- err
	}()
	select {
	case err := <-replied:
		// The guest is done: a failure it met (the rest of r is not
		// needed), or success after it read the stream to its end.
		ws.Close()
		if errors.Is(err, api.ErrCanceled) {
			c.cancel(id) // ctx ended: the guest may still be at it
		}
		return err
	case err := <-sent:
		if err == nil {
			return <-replied
		}
		c.cancel(id)
		<-replied
		return fmt.Errorf("send the archive: %w", err)
	}
}
