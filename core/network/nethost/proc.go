package nethost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/atomicfile"
	"github.com/berthvm/berth/core/hypervisor/hostproc"
)

// Handle names a network's process for good: what the core stores in its
// state to adopt the process again after a restart.
type Handle struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	PID           int    `json:"pid"`
	StartTime     uint64 `json:"start_time"`
	RunDir        string `json:"run_dir"`
	ControlSocket string `json:"control_socket"`
}

// Process is a network's process, started by this core or adopted.
type Process struct {
	*Client
	h     Handle
	hello Hello
	proc  *hostproc.Process
}

// Option configures Start.
type Option func(*options)

type options struct {
	started func(Handle) error
}

// WithStarted runs f once the process exists, before Start waits for it
// to serve: the place to record the handle, so that a core that dies
// right after still finds the process. If f fails, the process is killed
// and Start returns f's error. (The handle is also written to
// RUN_DIR/handle.json, for LoadHandle.)
func WithStarted(f func(Handle) error) Option { return func(o *options) { o.started = f } }

// startTimeout bounds the wait for a new process to serve.
const startTimeout = 30 * time.Second

// Start writes plan into runDir (created, absolute) and starts the
// network's process, exe HostArg runDir, with its output in log (default
// runDir/net.log). It returns once the process serves its control
// socket. A process already serving runDir is api.ErrAlreadyExists.
func Start(ctx context.Context, runDir string, plan Plan, exe, log string, opts ...Option) (_ *Process, err error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	r, err := plan.resolve()
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(runDir) {
		return nil, fmt.Errorf("network %q: run directory %q is not absolute: %w", r.Name, runDir, api.ErrInvalidArgument)
	}
	sock := filepath.Join(runDir, controlSockName)
	if len(sock) > maxSockPath {
		return nil, fmt.Errorf("network %q: control socket %s is longer than %d bytes: %w", r.Name, sock, maxSockPath, api.ErrInvalidArgument)
	}
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return nil, fmt.Errorf("network %q: run directory: %w", r.Name, err)
	}
	if c, err := net.DialTimeout("unix", sock, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("network %q: run directory %s is in use by a running network: %w", r.Name, runDir, api.ErrAlreadyExists)
	}
	_ = os.Remove(sock)
	b, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(runDir, planName), b, 0o600); err != nil {
		return nil, fmt.Errorf("network %q: write the plan: %w", r.Name, err)
	}
	if log == "" {
		log = filepath.Join(runDir, LogName)
	}
	h := Handle{ID: plan.ID, Name: plan.Name, RunDir: runDir, ControlSocket: sock}
	proc, err := hostproc.Spawn(ctx, hostproc.Spec{Path: exe, Args: []string{HostArg, runDir}, Log: log,
		Started: func(pid int, st uint64) error {
			h.PID, h.StartTime = pid, st
			if err := saveHandle(h); err != nil {
				return err
			}
			if o.started != nil {
				return o.started(h)
			}
			return nil
		}})
	if err != nil {
		_ = os.RemoveAll(runDir)
		return nil, fmt.Errorf("network %q: %w", r.Name, err)
	}
	p := &Process{Client: NewClient(runDir), h: h, proc: proc}
	if p.hello, err = p.waitReady(ctx, log); err != nil {
		_ = proc.Kill()
		<-proc.Done()
		_ = os.RemoveAll(runDir)
		return nil, err
	}
	slog.Info("network process started", "network", h.Name, "pid", h.PID)
	return p, nil
}

// waitReady waits until the process answers hello for its network.
func (p *Process) waitReady(ctx context.Context, log string) (Hello, error) {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		hello, err := p.Client.Hello(cctx)
		ccancel()
		if err == nil {
			if hello.ID != p.h.ID || hello.PID != p.h.PID {
				return hello, fmt.Errorf("network %q: the control socket answered for network %q, pid %d: %w", p.h.Name, hello.ID, hello.PID, api.ErrCorrupt)
			}
			return hello, nil
		}
		select {
		case <-p.proc.Done():
			msg := strings.TrimSpace(hostproc.Tail(log, 0, 2048))
			if msg == "" {
				msg = "no output"
			}
			return hello, fmt.Errorf("network %q did not start: its process %s: %s: %w", p.h.Name, p.proc.Exit(), hostproc.LastLines(msg, 10), api.ErrUnavailable)
		case <-ctx.Done():
			return hello, fmt.Errorf("network %q: waiting for its process to serve: %w: %w", p.h.Name, ctx.Err(), api.ErrCanceled)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Adopt finds the process of h again after the core restarted:
// api.ErrNotFound if it is gone (its run directory is then removed), or
// if it no longer answers (it is then killed).
func Adopt(ctx context.Context, h Handle) (*Process, error) {
	gone := func(why string) (*Process, error) {
		_ = os.RemoveAll(h.RunDir)
		return nil, fmt.Errorf("network %q (pid %d) %s: %w", h.Name, h.PID, why, api.ErrNotFound)
	}
	if st, err := hostproc.StartTime(h.PID); err != nil || st != h.StartTime {
		return gone("is no longer running")
	}
	p := &Process{Client: &Client{sock: h.ControlSocket}, h: h}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	hello, err := p.Client.Hello(actx)
	cancel()
	if err == nil && (hello.ID != h.ID || hello.PID != h.PID) {
		err = fmt.Errorf("the control socket answered for network %q, pid %d", hello.ID, hello.PID)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("adopt network %q: %w: %w", h.Name, ctx.Err(), api.ErrCanceled)
		}
		// Our process by pid and start time, but it cannot be driven.
		slog.Warn("network process does not answer; killing it", "network", h.Name, "pid", h.PID, "err", err)
		if proc, aerr := hostproc.Adopt(h.PID, h.StartTime); aerr == nil {
			_ = proc.Kill()
			<-proc.Done()
		}
		return gone("did not answer on its control socket and was killed")
	}
	p.hello = hello
	if p.proc, err = hostproc.Adopt(h.PID, h.StartTime); err != nil {
		return gone("is no longer running")
	}
	return p, nil
}

// Handle is what the core stores to adopt the process again.
func (p *Process) Handle() Handle { return p.h }

// Greeting is the process's Hello when it was started or adopted: its
// Protocol tells a core whether it speaks this core's protocol.
func (p *Process) Greeting() Hello { return p.hello }

// Done is closed once the process has ended.
func (p *Process) Done() <-chan struct{} { return p.proc.Done() }

// Exit waits for the process to end and says how (known only for a
// process this core started).
func (p *Process) Exit() hostproc.Exit { return p.proc.Exit() }

// stopWait is how long Stop waits for the process to exit before killing
// it.
const stopWait = 10 * time.Second

// Stop asks the process to detach every VM, release every port, remove
// its run directory and exit, and waits until it has; a process that
// does not is killed. Stopping a process that is gone is no error.
func (p *Process) Stop(ctx context.Context) error {
	select {
	case <-p.proc.Done():
		_ = os.RemoveAll(p.h.RunDir)
		return nil
	default:
	}
	err := p.Client.Stop(ctx)
	wait := stopWait
	if err != nil {
		wait = time.Second
	}
	select {
	case <-p.proc.Done():
	case <-time.After(wait):
		slog.Warn("network process did not stop; killing it", "network", p.h.Name, "pid", p.h.PID, "err", err)
		return p.Kill()
	case <-ctx.Done():
		return fmt.Errorf("stop network %q: %w: %w", p.h.Name, ctx.Err(), api.ErrCanceled)
	}
	// The process removes it; this covers one that could not.
	_ = os.RemoveAll(p.h.RunDir)
	return nil
}

// Kill ends the process at once (its VMs lose their network) and removes
// its run directory.
func (p *Process) Kill() error {
	if err := p.proc.Kill(); err != nil {
		return fmt.Errorf("network %q: %w", p.h.Name, err)
	}
	select {
	case <-p.proc.Done():
	case <-time.After(10 * time.Second):
		return fmt.Errorf("network %q (pid %d) did not die: %w", p.h.Name, p.h.PID, api.ErrUnavailable)
	}
	_ = os.RemoveAll(p.h.RunDir)
	return nil
}

func saveHandle(h Handle) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(h.RunDir, handleName), b, 0o600); err != nil {
		return fmt.Errorf("network %q: save the handle: %w", h.Name, err)
	}
	return nil
}

// LoadHandle reads the handle Start left in runDir (for a core that
// finds a run directory its state does not know); api.ErrNotFound if
// there is none.
func LoadHandle(runDir string) (Handle, error) {
	b, err := os.ReadFile(filepath.Join(runDir, handleName))
	if errors.Is(err, os.ErrNotExist) {
		return Handle{}, fmt.Errorf("no network handle in %s: %w", runDir, api.ErrNotFound)
	}
	if err != nil {
		return Handle{}, err
	}
	var h Handle
	if err := json.Unmarshal(b, &h); err != nil {
		return Handle{}, fmt.Errorf("network handle in %s: %v: %w", runDir, err, api.ErrCorrupt)
	}
	return h, nil
}
