// Package client is the Go client of the Berth daemon API, used by the CLI
// and the menu-bar app. It speaks HTTP/JSON over the daemon's unix socket
// and turns error replies back into errors that match core/api sentinels
// with errors.Is. It starts a daemon only in Ensure, and again for a client
// Ensure made with RestartIfGone: that is the caller's choice.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/berthvm/berth/core/api"
)

// Client talks to one daemon socket. It is safe for concurrent use.
type Client struct {
	socket string
	http   *http.Client
	dial   func(context.Context) (net.Conn, error)
	// restart starts a daemon again (Ensure with RestartIfGone); nil:
	// never. revived says it was used: once per client.
	restart func(context.Context) error
	revived atomic.Bool
}

// New returns a client for the daemon listening on socket.
func New(socket string) *Client {
	c := &Client{socket: socket}
	c.dial = func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			conn, err := c.dial(ctx)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: conn}, nil
		},
		DisableCompression: true,
		MaxIdleConns:       4,
	}
	c.http = &http.Client{Transport: tr}
	return c
}

// countingConn counts the bytes written, so that a request whose
// connection broke is known to have gone out or not (sendOnce).
type countingConn struct {
	net.Conn
	written atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// IsDaemonDown reports whether err means no daemon answered on the socket
// (as opposed to a daemon that answered with an error).
func IsDaemonDown(err error) bool {
	var de *downError
	return errors.As(err, &de)
}

type downError struct {
	socket string
	err    error
}

func (e *downError) Error() string {
	return fmt.Sprintf("berth daemon is not running at %s (%v)", e.socket, e.err)
}
func (e *downError) Unwrap() []error { return []error{e.err, api.ErrUnavailable} }

func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(raw)
	}
	u := "http://berth" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

func (c *Client) send(req *http.Request) (*http.Response, error) {
	resp, err := c.sendOnce(req)
	var de *downError
	if !errors.As(err, &de) || c.restart == nil || !replayable(req) || !c.revived.CompareAndSwap(false, true) {
		return resp, err
	}
	// The daemon that answered Ensure's ping is gone (killed just after),
	// and this request cannot have reached it: start one and send again.
	if rerr := c.restart(req.Context()); rerr != nil {
		return nil, rerr
	}
	if req.GetBody != nil {
		body, berr := req.GetBody()
		if berr != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = body
	}
	return c.sendOnce(req)
}

// replayable: the request's body, if any, can be read again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// sendOnce sends req and tells a daemon that is not there (downError)
// from one that answered with an error, or one that may have acted on
// the request before its connection broke.
func (c *Client) sendOnce(req *http.Request) (*http.Response, error) {
	// The request went out if a byte reached the connection it was given.
	var conn *countingConn
	var before int64
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if cc, ok := i.Conn.(*countingConn); ok {
			conn, before = cc, cc.written.Load()
		}
	}}
	resp, err := c.http.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	wrote := func() bool { return conn != nil && conn.written.Load() > before }
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, errors.Join(ctxErr, api.ErrCanceled))
		}
		if isDialFailure(err) || (isUnanswered(err) && (!wrote() || safeMethod(req.Method))) {
			// A reset or close before any answer: a daemon that is dying
			// (killed, its socket not yet closed) accepted the connection
			// into its backlog. If the request was not all written, or
			// only reads, nothing was changed: it is as down as one that
			// refused. A write it may have read is not: retrying could
			// do it twice.
			return nil, &downError{socket: c.socket, err: err}
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

func isDialFailure(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}

// isUnanswered: the connection broke before a reply began.
func isUnanswered(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// safeMethod: HTTP's safe methods, which change nothing on the daemon.
func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

func decodeError(resp *http.Response) error {
	var re api.RemoteError
	// A reply without a body (HEAD) carries its error in a header.
	if h := resp.Header.Get(api.ErrorHeader); h != "" {
		if raw, err := base64.StdEncoding.DecodeString(h); err == nil && json.Unmarshal(raw, &re) == nil && re.Message != "" {
			return &re
		}
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(raw, &re) == nil && re.Message != "" {
		return &re
	}
	msg := strings.TrimSpace(string(raw))
	if msg == "" {
		msg = resp.Status
	}
	return &api.RemoteError{Message: "daemon: " + msg}
}

// do sends one JSON request and decodes one JSON reply into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	req, err := c.newRequest(ctx, method, path, query, in)
	if err != nil {
		return err
	}
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode reply to %s %s: %w", method, path, err)
	}
	return nil
}

// errStopLines ends eachLine early, without an error.
var errStopLines = errors.New("stop reading lines")

// eachLine sends a request whose reply is a stream of lines (NDJSON or
// server-sent events) and calls fn with each line until the reply ends
// (nil), fn returns an error (errStopLines: stop, nil), or ctx ends.
func (c *Client) eachLine(ctx context.Context, method, path string, query url.Values, in any, fn func([]byte) error) error {
	req, err := c.newRequest(ctx, method, path, query, in)
	if err != nil {
		return err
	}
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		if err := fn(sc.Bytes()); err != nil {
			if errors.Is(err, errStopLines) {
				return nil
			}
			return err
		}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", path, errors.Join(ctxErr, api.ErrCanceled))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read reply from %s: %w", path, err)
	}
	return nil
}

// stream sends a request for a long operation, calls progress for each
// progress line and decodes the final result into out.
func (c *Client) stream(ctx context.Context, method, path string, query url.Values, in any,
	progress api.ProgressFunc, out any) error {
	done := false
	err := c.eachLine(ctx, method, path, query, in, func(raw []byte) error {
		var line api.StreamLine
		if err := json.Unmarshal(raw, &line); err != nil {
			return fmt.Errorf("decode stream from %s: %w", path, err)
		}
		switch {
		case line.Error != nil:
			return line.Error
		case line.Progress != nil:
			progress.Report(*line.Progress)
		case line.Result != nil:
			done = true
			if out != nil {
				if err := json.Unmarshal(line.Result, out); err != nil {
					return fmt.Errorf("decode result of %s: %w", path, err)
				}
			}
			return errStopLines
		}
		return nil
	})
	if err != nil || done {
		return err
	}
	return fmt.Errorf("%s: the daemon closed the stream without a result (did it crash? see its log): %w",
		path, api.ErrUnavailable)
}
