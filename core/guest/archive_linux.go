package guest

import (
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/archive"
)

// berth cp's side in the guest: paths are resolved inside the container's
// root directory (its mounts, under it, are seen as the container sees
// them), tars are written and extracted by core/archive, and no tool of
// the image is needed.

// root is the root directory of a created container.
func (s *Server) root(container string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.containers[container]
	switch {
	case c == nil:
		return "", fmt.Errorf("container %q: %w", container, api.ErrNotFound)
	case c.root == "":
		return "", fmt.Errorf("container %q is still being created: %w", container, api.ErrConflict)
	}
	return c.root, nil
}

func (s *Server) statPath(req proto.PathRequest) (api.PathStat, error) {
	root, err := s.root(req.Container)
	if err != nil {
		return api.PathStat{}, err
	}
	return archive.Stat(root, req.Path)
}

// prepare returns the call for a request. Calls that take a stream open
// it here, on the reader's goroutine, before the frames that follow the
// request are read; a cancel is carried out here for the same reason.
func (ss *session) prepare(op string, body json.RawMessage) func() (any, error) {
	switch op {
	case proto.OpArchiveIn, proto.OpArchiveOut:
		req, err := decode[proto.ArchiveRequest](body)
		if err != nil || req.Stream == 0 {
			return func() (any, error) {
				return nil, fmt.Errorf("bad %s request (stream %d): %v: %w", op, req.Stream, err, api.ErrInvalidArgument)
			}
		}
		if op == proto.OpArchiveIn {
			in := ss.m.OpenRecv(req.Stream)
			ss.onCancel(req.Stream, func() { in.Close() })
			return func() (any, error) {
				defer ss.onCancel(req.Stream, nil)
				defer ss.m.ForgetRecv(req.Stream)
				defer in.Close() // what was not read is credited back: the host never stalls
				return nil, ss.s.archiveIn(req, in)
			}
		}
		out := ss.m.OpenSend(req.Stream, nil)
		ss.onCancel(req.Stream, func() { out.Close() })
		return func() (any, error) {
			defer ss.onCancel(req.Stream, nil)
			defer out.Close() // the host's reader ends, then learns how from the reply
			return nil, ss.s.archiveOut(req, out)
		}
	case proto.OpCancel:
		req, err := decode[proto.StreamRef](body)
		if err == nil {
			ss.mu.Lock()
			cancel := ss.cancels[req.Stream]
			ss.mu.Unlock()
			if cancel != nil {
				cancel()
			}
		}
		return func() (any, error) { return nil, err }
	}
	return func() (any, error) { return ss.handle(op, body) }
}

// onCancel registers how to cancel the transfer on stream (nil: it ended).
func (ss *session) onCancel(stream uint32, cancel func()) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if cancel == nil {
		delete(ss.cancels, stream)
		return
	}
	if ss.cancels == nil {
		ss.cancels = map[uint32]func(){}
	}
	ss.cancels[stream] = cancel
}

func (s *Server) archiveOut(req proto.ArchiveRequest, out *proto.SendStream) error {
	root, err := s.root(req.Container)
	if err != nil {
		return err
	}
	if _, err := archive.Stat(root, req.Path); err != nil {
		return err
	}
	full, err := archive.Resolve(root, req.Path)
	if err != nil {
		return err
	}
	return archive.Write(out, full, archive.TopName(req.Path))
}

func (s *Server) archiveIn(req proto.ArchiveRequest, in *proto.RecvStream) error {
	root, err := s.root(req.Container)
	if err != nil {
		return err
	}
	err = archive.Extract(in, root, req.Path, archive.ExtractOptions{
		NoOverwriteDirNonDir: req.NoOverwriteDirNonDir, Chown: true})
	if err != nil {
		return err
	}
	// A host that shuts the VM down next finds the data on disk.
	if f, err := os.Open(root); err == nil {
		_ = unix.Syncfs(int(f.Fd()))
		f.Close()
	}
	return nil
}
