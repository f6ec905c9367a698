package vz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/berthvm/berth/core/api"
)

// The control protocol between the driver (in the core) and a VM's host
// process, on RunDir/control.sock. A client sends one JSON request line
// and reads one JSON reply line. Then:
//   - "hello": the connection is done. The reply names the VM and the
//     host process, which is how a restarted core knows it found the
//     right one.
//   - "watch": the host keeps the connection and sends a second line
//     when the VM ends (Ended, Reason, ConsoleTail), then closes it. A
//     connection that closes without that line means the host died.
//   - "stop": the host asks the guest to stop (RequestStop: the power
//     key); the reply says the request was made, not that the VM ended.
//   - "kill": the host stops the VM at once (Stop) and replies when done.
//   - "agent": the host connects to the guest agent's vsock port,
//     retrying until TimeoutMS while the agent is not listening yet; on
//     success the reply is followed by the agent's raw byte stream.
// Lines are read a byte at a time so no byte of the agent's stream is
// buffered away.

type request struct {
	Op        string `json:"op"`
	TimeoutMS int64  `json:"timeout_ms,omitempty"`
}

type reply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Kind of failure: "unavailable", "canceled" or "" (see errorFor).
	Kind string `json:"kind,omitempty"`

	ID      string `json:"id,omitempty"`
	PID     int    `json:"pid,omitempty"`
	State   string `json:"state,omitempty"`    // hypervisor.State
	VZState string `json:"vz_state,omitempty"` // VMState

	Ended       bool   `json:"ended,omitempty"`
	Reason      string `json:"reason,omitempty"` // empty: a clean end
	ConsoleTail string `json:"console_tail,omitempty"`
}

const (
	opHello = "hello"
	opWatch = "watch"
	opStop  = "stop"
	opKill  = "kill"
	opAgent = "agent"
)

const maxLine = 1 << 20

// readLine reads one '\n'-terminated line without reading past it.
func readLine(r io.Reader) ([]byte, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				return line, nil
			}
			line = append(line, b[0])
			if len(line) > maxLine {
				return nil, fmt.Errorf("control line longer than %d bytes: %w", maxLine, api.ErrCorrupt)
			}
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func readJSON(r io.Reader, v any) error {
	line, err := readLine(r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("control reply %q: %v: %w", line, err, api.ErrCorrupt)
	}
	return nil
}

// dialControl connects to a host process and sends req, returning the
// connection and the first reply.
func dialControl(ctx context.Context, sock string, req request) (net.Conn, reply, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, reply{}, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	var rep reply
	if err := writeJSON(c, req); err != nil {
		c.Close()
		return nil, reply{}, err
	}
	if err := readJSON(c, &rep); err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, reply{}, fmt.Errorf("%w: %w", ctx.Err(), api.ErrCanceled)
		}
		return nil, reply{}, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, rep, nil
}

// call does a request whose reply ends the exchange.
func call(ctx context.Context, sock string, req request) (reply, error) {
	c, rep, err := dialControl(ctx, sock, req)
	if err != nil {
		return reply{}, err
	}
	c.Close()
	return rep, nil
}

// errorFor turns a failed reply into an error with the right sentinel.
func errorFor(rep reply) error {
	if rep.OK {
		return nil
	}
	s := rep.Error
	if rep.ConsoleTail != "" {
		s += "; console tail:\n" + rep.ConsoleTail
	}
	switch rep.Kind {
	case "canceled":
		return fmt.Errorf("%s: %w", s, api.ErrCanceled)
	case "unsupported":
		return fmt.Errorf("%s: %w", s, api.ErrUnsupported)
	}
	return fmt.Errorf("%s: %w", s, api.ErrUnavailable)
}
