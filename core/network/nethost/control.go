package nethost

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/berthvm/berth/core/api"
)

// The control protocol between the core and a network's process, on
// RUN_DIR/control.sock: a client sends one JSON request line and reads
// one JSON reply line; the process then closes the connection. Every
// operation is idempotent, so a core that is unsure whether one was done
// (it restarted) does it again, or sends Sync with the whole state.
//
//	hello      → Hello: which network and process answers, and the
//	             protocol version.
//	attach     Attach → binds Attach.Socket and moves the VM's frames
//	             (filtered) to and from the engine. The same attachment
//	             again does nothing: the VM's process may come and go at
//	             Peer behind it.
//	detach     VM → unbinds and removes the VM's socket.
//	records    Records → the network's DNS names, replacing the last set.
//	expose     Forward → listens on the host and forwards to the guest;
//	             the reply's Forward has the port bound (HostPort 0 asks
//	             for a free one).
//	unexpose   Key → stops listening.
//	status     → Status.
//	sync       State → makes the live state exactly State (SyncResult
//	             says what changed) and returns Status.
//	stop       → replies, then removes every socket and the run
//	             directory and exits.
//
// A failed request's reply carries an api.RemoteError, whose code maps
// back to the core's sentinel errors.

type request struct {
	Op      string      `json:"op"`
	Attach  *Attachment `json:"attach,omitempty"`
	VM      string      `json:"vm,omitempty"`
	Records []Record    `json:"records,omitempty"`
	Forward *Forward    `json:"forward,omitempty"`
	Key     *ForwardKey `json:"key,omitempty"`
	State   *State      `json:"state,omitempty"`
}

type reply struct {
	OK      bool             `json:"ok"`
	Error   *api.RemoteError `json:"error,omitempty"`
	Hello   *Hello           `json:"hello,omitempty"`
	Status  *Status          `json:"status,omitempty"`
	Forward *Forward         `json:"forward,omitempty"`
	Sync    *SyncResult      `json:"sync,omitempty"`
}

// SyncResult says what a Sync changed.
type SyncResult struct {
	Detached  []string `json:"detached,omitempty"`
	Attached  []string `json:"attached,omitempty"`
	Unexposed []string `json:"unexposed,omitempty"` // ForwardKey.String()
	Exposed   []string `json:"exposed,omitempty"`
	// Records: the DNS names were replaced.
	Records bool `json:"records,omitempty"`
}

// Changed reports whether the Sync changed anything.
func (r SyncResult) Changed() bool {
	return len(r.Detached)+len(r.Attached)+len(r.Unexposed)+len(r.Exposed) > 0 || r.Records
}

const (
	opHello    = "hello"
	opAttach   = "attach"
	opDetach   = "detach"
	opRecords  = "records"
	opExpose   = "expose"
	opUnexpose = "unexpose"
	opStatus   = "status"
	opSync     = "sync"
	opStop     = "stop"
)

// maxLine bounds a request or reply (a Sync of many attachments is a few
// hundred kilobytes at most).
const maxLine = 8 << 20

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func readJSON(r io.Reader, v any) error {
	br := bufio.NewReader(io.LimitReader(r, maxLine))
	line, err := br.ReadBytes('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("control line %.200q: %v: %w", line, err, api.ErrCorrupt)
	}
	return nil
}

// errorReply is the reply to a failed request.
func errorReply(err error) reply { return reply{Error: api.ToRemote(err)} }
