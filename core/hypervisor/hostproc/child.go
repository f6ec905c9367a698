//go:build unix

package hostproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/berthvm/berth/core/api"
)

// Spec is a host process to start.
type Spec struct {
	Path string
	Args []string // after Path
	// Log receives the process's stdout and stderr; it is truncated
	// first. "" discards them.
	Log string
	// Started, if set, runs once the process exists and its start time
	// is known, before Spawn returns: the place to record the process
	// (a handle file) so that a core dying right after still finds it.
	// If it fails, the process is killed and reaped and Spawn returns
	// its error as is.
	Started func(pid int, startTime uint64) error
	// ExtraFiles are passed to the process as descriptors 3, 4...; the
	// caller keeps (and closes) its own copies.
	ExtraFiles []*os.File
	// Attr, if set, is the process's SysProcAttr (namespaces, on Linux);
	// Spawn sets its Setpgid in any case.
	Attr *syscall.SysProcAttr
}

// Process is one host process, named by its pid and start time: either a
// child this core spawned, or a process an earlier core spawned and this
// one adopted.
type Process struct {
	pid       int
	startTime uint64
	cmd       *exec.Cmd // nil when adopted

	done chan struct{}
	exit Exit // set before done closes
}

// Exit is how a process ended.
type Exit struct {
	// Known: the exit status was collected. Only a process's parent
	// learns it, so an adopted process's is never known.
	Known bool
	// Code is the exit status; -1 if a signal ended the process.
	Code int
	// Signal is the signal that ended the process, or 0.
	Signal syscall.Signal
	// Err is set when waiting for the process failed.
	Err error
}

// Clean reports a known exit with status 0.
func (e Exit) Clean() bool {
	return e.Known && e.Err == nil && e.Signal == 0 && e.Code == 0
}

// String says how the process ended, worded as os/exec does: "exit status
// 3", "signal: killed".
func (e Exit) String() string {
	switch {
	case !e.Known:
		return "exit status unknown: started by an earlier core"
	case e.Err != nil:
		return e.Err.Error()
	case e.Signal != 0:
		return "signal: " + e.Signal.String()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// Spawn starts s in its own process group, so that a signal to the core's
// group (Ctrl-C, a service manager stopping the core) does not reach it:
// the process outlives the core, to be adopted by the next one. ctx
// cancels only the spawning; once the process runs, it is not tied to
// ctx. A goroutine reaps it and records how it ended.
func Spawn(ctx context.Context, s Spec) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w: %w", s.Path, err, api.ErrCanceled)
	}
	cmd := exec.Command(s.Path, s.Args...)
	if s.Log != "" {
		logf, err := os.OpenFile(s.Log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", s.Path, err)
		}
		defer logf.Close() // the process has its own copy
		cmd.Stdout, cmd.Stderr = logf, logf
	}
	attr := syscall.SysProcAttr{}
	if s.Attr != nil {
		attr = *s.Attr
	}
	attr.Setpgid = true
	cmd.SysProcAttr = &attr
	cmd.ExtraFiles = s.ExtraFiles
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.Path, err)
	}
	pid := cmd.Process.Pid
	abort := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	// A child that has already exited stays a zombie until reaped, and
	// its start time still names it.
	st, _, err := readStartTime(pid)
	if err != nil {
		abort()
		return nil, fmt.Errorf("read the start time of %s (pid %d): %w", s.Path, pid, err)
	}
	if s.Started != nil {
		if err := s.Started(pid, st); err != nil {
			abort()
			return nil, err
		}
	}
	p := &Process{pid: pid, startTime: st, cmd: cmd, done: make(chan struct{})}
	go p.reap()
	return p, nil
}

// Adopt takes over a process this core did not start, named by pid and
// start time; api.ErrNotFound if it is gone or the pid now names another
// process. A goroutine watches it until it ends.
func Adopt(pid int, startTime uint64) (*Process, error) {
	if !same(pid, startTime) {
		return nil, fmt.Errorf("process %d started at %d is no longer running: %w", pid, startTime, api.ErrNotFound)
	}
	p := &Process{pid: pid, startTime: startTime, done: make(chan struct{})}
	go func() {
		waitGone(pid, startTime)
		close(p.done)
	}()
	return p, nil
}

// Pid and StartTime name the process for good: together, what a handle
// file records to adopt it again.
func (p *Process) Pid() int          { return p.pid }
func (p *Process) StartTime() uint64 { return p.startTime }

// Done is closed once the process has ended (and, for a child, been
// reaped).
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit waits for the process to end and says how it ended.
func (p *Process) Exit() Exit {
	<-p.done
	return p.exit
}

// Kill sends SIGKILL, unless the process has already ended: never to a
// process that merely inherited its pid. It does not wait (see Done).
func (p *Process) Kill() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	var err error
	if p.cmd != nil {
		// Our child's pid is not reused before we reap it, and os.Process
		// knows once it has been.
		if err = p.cmd.Process.Kill(); errors.Is(err, os.ErrProcessDone) {
			err = nil
		}
	} else {
		err = killSame(p.pid, p.startTime)
	}
	if err != nil {
		return fmt.Errorf("kill process %d: %w", p.pid, err)
	}
	return nil
}

func (p *Process) reap() {
	err := p.cmd.Wait()
	e := Exit{Known: true}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		e.Code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.Signal = ws.Signal()
		}
	case err != nil:
		e.Code, e.Err = -1, err
	}
	p.exit = e
	close(p.done)
}

// same reports whether pid still names the process started at startTime.
func same(pid int, startTime uint64) bool {
	st, err := StartTime(pid)
	return err == nil && st == startTime
}

// killIfSame SIGKILLs pid if it still names the process started at
// startTime. Without a handle on the process (a pidfd), the process could
// end and its pid be reused between the check and the signal: the window
// is only kept short.
func killIfSame(pid int, startTime uint64) error {
	if !same(pid, startTime) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// pollGone is the portable way to wait for a process that is not our
// child: ask for its start time until it changes.
func pollGone(pid int, startTime uint64) {
	for same(pid, startTime) {
		time.Sleep(100 * time.Millisecond)
	}
}
