package agent

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
)

// Client is the host's end of one agent session. It is safe for
// concurrent use; a blocking call (Wait) does not hold up others.
type Client struct {
	m    *proto.Mux
	info proto.Info

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan proto.Message

	nextStream atomic.Uint32
}

// NewClient opens a session on conn: sync marker, then the version
// handshake. It owns conn from then on and closes it on failure or Close.
// Bytes left in the connection by an earlier session are skipped.
func NewClient(ctx context.Context, conn io.ReadWriteCloser) (*Client, error) {
	var n proto.Nonce
	if _, err := rand.Read(n[:]); err != nil {
		conn.Close()
		return nil, fmt.Errorf("agent session nonce: %w", err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	synced := make(chan error, 1)
	go func() {
		if err := proto.WriteSync(conn, n); err != nil {
			synced <- fmt.Errorf("agent connection: send sync: %w: %w", err, api.ErrUnavailable)
			return
		}
		_, err := proto.ReadSync(br, &n)
		if err != nil {
			err = fmt.Errorf("agent connection: wait for the guest's sync: %w: %w", err, api.ErrUnavailable)
		}
		synced <- err
	}()
	select {
	case err := <-synced:
		if err != nil {
			conn.Close()
			return nil, err
		}
	case <-ctx.Done():
		conn.Close()
		return nil, fmt.Errorf("agent handshake: %w: %w", ctx.Err(), api.ErrCanceled)
	}
	c := &Client{pending: map[uint64]chan proto.Message{}}
	c.m = proto.NewMux(br, conn, conn, c.onControl, proto.MuxOptions{})
	go c.m.Run()
	go func() {
		<-c.m.Done()
		if err := c.m.Err(); errors.Is(err, api.ErrCorrupt) {
			// The guest broke the protocol (or the channel corrupted
			// bytes): worth a trace, as nothing else says why the
			// session ended.
			slog.Error("agent session ended on a protocol violation", "err", err)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for id, ch := range c.pending {
			close(ch)
			delete(c.pending, id)
		}
	}()
	var info proto.Info
	if err := c.call(ctx, proto.OpHello, proto.Hello{ProtocolVersion: proto.ProtocolVersion}, &info); err != nil {
		c.Close()
		return nil, fmt.Errorf("agent handshake: %w", err)
	}
	if info.ProtocolVersion != proto.ProtocolVersion {
		c.Close()
		return nil, fmt.Errorf("agent %s speaks protocol %d, this host speaks %d: rebuild the initramfs with the matching agent: %w",
			info.AgentVersion, info.ProtocolVersion, proto.ProtocolVersion, api.ErrUnsupported)
	}
	c.info = info
	return c, nil
}

// Info is what the guest reported in the handshake.
func (c *Client) Info() proto.Info { return c.info }

// Close ends the session. Processes in the guest keep running.
func (c *Client) Close() error {
	c.m.Fail(fmt.Errorf("agent session closed by the host: %w", api.ErrUnavailable))
	return nil
}

// Done is closed when the session has ended; Err says why.
func (c *Client) Done() <-chan struct{} { return c.m.Done() }

// Err is why the session ended, nil while it runs.
func (c *Client) Err() error { return c.m.Err() }

func (c *Client) onControl(payload []byte) {
	var msg proto.Message
	if err := json.Unmarshal(payload, &msg); err != nil {
		c.m.Fail(fmt.Errorf("agent sent a bad control message: %v: %w", err, api.ErrCorrupt))
		return
	}
	c.mu.Lock()
	ch := c.pending[msg.ID]
	delete(c.pending, msg.ID)
	c.mu.Unlock()
	if ch != nil {
		ch <- msg
	}
}

func (c *Client) call(ctx context.Context, op string, req, reply any) error {
	id, ch, err := c.send(op, req)
	if err != nil {
		return err
	}
	return c.await(ctx, op, id, ch, reply)
}

// send writes a request; await then waits for its reply. Calls that
// stream right after the request (archive_in) use the two apart.
func (c *Client) send(op string, req any) (uint64, chan proto.Message, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return 0, nil, fmt.Errorf("agent %s: encode: %w", op, err)
	}
	ch := make(chan proto.Message, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	if c.m.Err() != nil {
		c.mu.Unlock()
		return 0, nil, fmt.Errorf("agent %s: %w", op, c.m.Err())
	}
	c.pending[id] = ch
	c.mu.Unlock()
	if err := c.m.Send(proto.Message{ID: id, Op: op, Body: body}); err != nil {
		c.forget(id)
		return 0, nil, fmt.Errorf("agent %s: %w", op, err)
	}
	return id, ch, nil
}

func (c *Client) await(ctx context.Context, op string, id uint64, ch chan proto.Message, reply any) error {
	select {
	case msg, ok := <-ch:
		if !ok {
			return fmt.Errorf("agent %s: %w", op, c.m.Err())
		}
		if msg.Error != nil {
			return msg.Error
		}
		// An empty body leaves reply at its zero value: an older guest
		// may reply with nothing where this host expects a status.
		if reply != nil && len(msg.Body) > 0 {
			if err := json.Unmarshal(msg.Body, reply); err != nil {
				return fmt.Errorf("agent %s: decode reply: %v: %w", op, err, api.ErrCorrupt)
			}
		}
		return nil
	case <-ctx.Done():
		c.forget(id)
		return fmt.Errorf("agent %s: %w: %w", op, ctx.Err(), api.ErrCanceled)
	}
}

func (c *Client) forget(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// SetTime sets the guest clock.
func (c *Client) SetTime(ctx context.Context, t time.Time) error {
	return c.call(ctx, proto.OpSetTime, proto.SetTime{UnixNano: t.UnixNano()}, nil)
}

// ConfigureNetwork gives the guest its addresses and route: ApplyNetwork
// without the status.
func (c *Client) ConfigureNetwork(ctx context.Context, cfg proto.NetworkConfig) error {
	_, err := c.ApplyNetwork(ctx, cfg)
	return err
}

// ApplyNetwork configures the guest's NICs and reports what they got,
// DHCP leases included. A config using DHCP needs a guest with
// FeatureDHCP; without cfg.Timeout the guest's DHCP deadline comes just
// before ctx's, so its error (which says how far DHCP got) arrives
// first.
func (c *Client) ApplyNetwork(ctx context.Context, cfg proto.NetworkConfig) (proto.NetworkStatus, error) {
	var st proto.NetworkStatus
	if cfg.UsesDHCP() {
		if !c.info.Has(proto.FeatureDHCP) {
			return st, fmt.Errorf("the guest agent (version %q) cannot get addresses by DHCP: rebuild the initramfs with this Berth: %w",
				c.info.AgentVersion, api.ErrUnsupported)
		}
		if dl, ok := ctx.Deadline(); ok && cfg.Timeout == 0 {
			cfg.Timeout = max(time.Until(dl)*9/10, time.Millisecond)
		}
	}
	err := c.call(ctx, proto.OpConfigureNetwork, cfg, &st)
	return st, err
}

// CreateContainer mounts the container's root filesystem (base disk plus
// writable overlay) and writes its hostname, /etc/hosts and resolv.conf.
func (c *Client) CreateContainer(ctx context.Context, cfg proto.ContainerConfig) error {
	return c.call(ctx, proto.OpCreateContainer, cfg, nil)
}

// Stdio selects which streams of a process the host connects. Output
// that is not connected is still kept in the guest's buffer.
type Stdio struct {
	Stdin  bool
	Stdout bool
	Stderr bool
}

// AllStdio connects stdin, stdout and stderr.
var AllStdio = Stdio{Stdin: true, Stdout: true, Stderr: true}

// Process is a host's handle on a guest process. Stdout and Stderr must
// be read (or closed): unread output fills the stream's window and then
// the process blocks writing, as with a pipe.
type Process struct {
	c   *Client
	ref proto.ProcessRef
	PID int
	// Nil when not requested in Stdio. With a terminal, Stderr is nil and
	// Stdout carries the terminal's output.
	Stdin          io.WriteCloser
	Stdout, Stderr io.ReadCloser
	// Offsets of the first byte Stdout and Stderr deliver (non-zero after
	// Attach: output is replayed from the oldest byte never consumed).
	StdoutOffset, StderrOffset uint64
	// Exited is set by Attach when the process had already ended.
	Exited bool
}

func (c *Client) openStreams(io Stdio, terminal bool) (proto.Streams, *Process) {
	var s proto.Streams
	p := &Process{c: c}
	if io.Stdin {
		s.Stdin = c.nextStream.Add(1)
		p.Stdin = c.m.OpenSend(s.Stdin, nil)
	}
	if io.Stdout {
		s.Stdout = c.nextStream.Add(1)
		p.Stdout = c.m.OpenRecv(s.Stdout)
	}
	if io.Stderr && !terminal {
		s.Stderr = c.nextStream.Add(1)
		p.Stderr = c.m.OpenRecv(s.Stderr)
	}
	return s, p
}

func (c *Client) dropStreams(s proto.Streams) {
	if s.Stdin != 0 {
		c.m.ForgetSend(s.Stdin)
	}
	for _, id := range []uint32{s.Stdout, s.Stderr} {
		if id != 0 {
			c.m.ForgetRecv(id)
		}
	}
}

// Start runs the container's main process.
func (c *Client) Start(ctx context.Context, container, id string, spec proto.ProcessSpec, stdio Stdio) (*Process, error) {
	return c.start(ctx, proto.OpStart, container, id, spec, stdio)
}

// Exec runs another process in the running container.
func (c *Client) Exec(ctx context.Context, container, id string, spec proto.ProcessSpec, stdio Stdio) (*Process, error) {
	return c.start(ctx, proto.OpExec, container, id, spec, stdio)
}

func (c *Client) start(ctx context.Context, op, container, id string, spec proto.ProcessSpec, stdio Stdio) (*Process, error) {
	s, p := c.openStreams(stdio, spec.Terminal)
	var reply proto.StartReply
	if err := c.call(ctx, op, proto.StartRequest{Container: container, ID: id, Process: spec, Streams: s}, &reply); err != nil {
		c.dropStreams(s)
		return nil, err
	}
	p.ref = proto.ProcessRef{Container: container, ID: id}
	p.PID = reply.PID
	return p, nil
}

// Attach connects new streams to a process started in an earlier session
// (the host restarted while the process ran). Output the guest kept and
// the host had not consumed is delivered again first.
func (c *Client) Attach(ctx context.Context, container, id string, stdio Stdio, terminal bool) (*Process, error) {
	s, p := c.openStreams(stdio, terminal)
	var reply proto.AttachReply
	ref := proto.ProcessRef{Container: container, ID: id}
	if err := c.call(ctx, proto.OpAttach, proto.AttachRequest{ProcessRef: ref, Streams: s}, &reply); err != nil {
		c.dropStreams(s)
		return nil, err
	}
	p.ref = ref
	p.StdoutOffset, p.StderrOffset, p.Exited = reply.StdoutOffset, reply.StderrOffset, reply.Exited
	return p, nil
}

// Signal sends a Linux signal number to the process.
func (p *Process) Signal(ctx context.Context, sig int) error {
	return p.c.call(ctx, proto.OpSignal, proto.SignalRequest{ProcessRef: p.ref, Signal: sig}, nil)
}

// Resize changes the size of the process's terminal.
func (p *Process) Resize(ctx context.Context, size proto.WinSize) error {
	return p.c.call(ctx, proto.OpResize, proto.ResizeRequest{ProcessRef: p.ref, WinSize: size}, nil)
}

// Wait blocks until the process ends and returns how. It does not wait
// for the output streams to drain; read them to EOF for all the output.
func (p *Process) Wait(ctx context.Context) (proto.ExitStatus, error) {
	return p.c.Wait(ctx, p.ref.Container, p.ref.ID)
}

// Wait blocks until the named process ends; it also answers for processes
// that ended while no host was connected.
func (c *Client) Wait(ctx context.Context, container, id string) (proto.ExitStatus, error) {
	var st proto.ExitStatus
	err := c.call(ctx, proto.OpWait, proto.ProcessRef{Container: container, ID: id}, &st)
	return st, err
}

// List returns every process the guest knows, running or ended.
func (c *Client) List(ctx context.Context) ([]proto.ProcessStatus, error) {
	var ps []proto.ProcessStatus
	err := c.call(ctx, proto.OpList, struct{}{}, &ps)
	return ps, err
}

// Stats samples the guest's CPU and memory use.
func (c *Client) Stats(ctx context.Context) (proto.Stats, error) {
	var st proto.Stats
	err := c.call(ctx, proto.OpStats, struct{}{}, &st)
	return st, err
}

// Top lists the processes of a container as the guest sees them. A guest
// without FeatureTop refuses it with api.ErrUnsupported.
func (c *Client) Top(ctx context.Context, container string) (api.ContainerTop, error) {
	var top api.ContainerTop
	if !c.info.Has(proto.FeatureTop) {
		return top, fmt.Errorf("the guest agent cannot list processes (an older agent): %w", api.ErrUnsupported)
	}
	err := c.call(ctx, proto.OpTop, proto.ContainerRef{Container: container}, &top)
	return top, err
}

// Freeze freezes (frozen) or thaws every process of a container and says
// how the guest did it.
func (c *Client) Freeze(ctx context.Context, container string, frozen bool) (string, error) {
	if !c.info.Has(proto.FeatureFreeze) {
		return "", fmt.Errorf("the guest agent cannot freeze processes (an older agent): %w", api.ErrUnsupported)
	}
	var rep proto.FreezeReply
	err := c.call(ctx, proto.OpFreeze, proto.FreezeRequest{Container: container, Frozen: frozen}, &rep)
	return rep.Method, err
}

// Shutdown asks the guest to stop every process, sync and unmount its
// disks and power off. It returns once the guest has accepted; the VM
// exits shortly after, ending the session.
func (c *Client) Shutdown(ctx context.Context) error {
	err := c.call(ctx, proto.OpShutdown, struct{}{}, nil)
	if err != nil && errors.Is(err, api.ErrUnavailable) {
		// The guest may power off before its reply gets out.
		return nil
	}
	return err
}

// Connect dials the agent with dial and opens a session, retrying until
// ctx ends while the channel is not there yet (a VM still starting) or
// the guest drops the new session (it had not yet seen the previous
// host leave). Like lima's guest agent client, it takes any transport.
func Connect(ctx context.Context, dial func(context.Context) (io.ReadWriteCloser, error)) (*Client, error) {
	backoff := 5 * time.Millisecond
	for {
		conn, err := dial(ctx)
		if err == nil {
			var c *Client
			c, err = NewClient(ctx, conn)
			if err == nil || !errors.Is(err, api.ErrUnavailable) || ctx.Err() != nil {
				return c, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to the agent: %w (last error: %v): %w", ctx.Err(), err, api.ErrCanceled)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}
