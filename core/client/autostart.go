package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/paths"
)

// StartOptions say how to start a daemon.
type StartOptions struct {
	// Executable is the berth binary run as `berth daemon`; default this
	// process's own executable (the CLI and Berth.app are that binary).
	Executable string
	// Debug starts it with --debug.
	Debug bool
	// Timeout bounds the wait for it to answer; default 30 s.
	Timeout time.Duration
	// RestartIfGone: if the daemon that answered Ensure is gone when a
	// later request is sent (killed just after its ping), and the request
	// cannot have reached it, Ensure's client starts a daemon once more
	// and sends the request again. For a command's short-lived client;
	// not for one that must let a stopped daemon stay stopped.
	RestartIfGone bool
}

// Ensure returns a client for the daemon of the data dir home, starting one
// in the background when none answers: the one way the CLI and the
// menu-bar app find their daemon.
func Ensure(ctx context.Context, home string, opts StartOptions) (*Client, error) {
	c := New(paths.Socket(home))
	if err := c.Ping(ctx); err != nil {
		if !IsDaemonDown(err) {
			c.Close()
			return nil, err
		}
		if err := Start(ctx, home, opts); err != nil {
			c.Close()
			return nil, err
		}
	}
	if opts.RestartIfGone {
		c.restart = func(ctx context.Context) error { return Start(ctx, home, opts) }
	}
	return c, nil
}

// Start runs `berth daemon` detached (its own session, output to the data
// dir's daemon.log) and waits until it answers. If it dies first, the
// error carries the end of its log. A daemon that exits because another
// one owns the data dir means a concurrent client won the race: keep
// waiting for that one.
func Start(ctx context.Context, home string, opts StartOptions) error {
	if err := paths.Prepare(home); err != nil {
		return err
	}
	exe := opts.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("find the berth executable to start the daemon: %w", err)
		}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	logPath := paths.DaemonLog(home)
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open daemon log: %w", err)
	}
	defer logf.Close()
	offset, _ := logf.Seek(0, io.SeekEnd)

	args := []string{"daemon"}
	if opts.Debug {
		args = append(args, "--debug")
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), paths.EnvHome+"="+home)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start berth daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	c := New(paths.Socket(home))
	defer c.Close()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("berth daemon did not answer within %v; see %s: %w", timeout, logPath, api.ErrUnavailable)
		case err := <-exited:
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() == api.ExitDataDirBusy {
				exited = nil // another daemon owns the data dir: wait for it to answer
				continue
			}
			return fmt.Errorf("berth daemon exited at start (%v):\n%s\n(full log: %s): %w",
				err, logTail(logPath, offset), logPath, api.ErrUnavailable)
		case <-tick.C:
			if c.Ping(ctx) != nil {
				continue
			}
			if exited == nil || servingPID(home) == cmd.Process.Pid {
				return nil
			}
			// Another daemon answers: ours lost the race for the data dir
			// and is about to exit. Wait for it, so no stray daemon
			// outlives this command (it could take over later).
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
			}
			return nil
		}
	}
}

// servingPID reads the pid file of the daemon that owns home.
func servingPID(home string) int {
	raw, err := os.ReadFile(paths.PIDFile(home))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}

// logTail returns the last lines written to path after offset.
func logTail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	f.Seek(offset, io.SeekStart)
	raw, _ := io.ReadAll(io.LimitReader(f, 64<<10))
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
