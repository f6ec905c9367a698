package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
)

// ExecIO are the client's streams for an exec'd process. Resize, if set,
// delivers terminal size changes.
type ExecIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Resize         <-chan proto.WinSize
}

// Exec runs another process in a running container, with the image's
// environment, user and working directory unless spec overrides them. It
// returns the process's exit status (immediately, 0, with Detach).
func (m *Manager) Exec(ctx context.Context, ref string, spec api.ExecSpec, stdio ExecIO) (int, error) {
	rec, err := m.get(ref)
	if err != nil {
		return 0, err
	}
	s := m.supervisor(rec.ID)
	if s != nil && rec.State == api.StatePaused {
		return 0, pausedError(rec.Name, "exec")
	}
	if s == nil || rec.State != api.StateRunning {
		return 0, fmt.Errorf("container %s is not running (%s): start it first: %w", rec.Name, rec.State, api.ErrConflict)
	}
	if len(spec.Cmd) == 0 {
		return 0, fmt.Errorf("exec needs a command: %w", api.ErrInvalidArgument)
	}
	ps, err := Merge(ImageConfig{Env: rec.ImageConfig.Env, WorkingDir: rec.ImageConfig.WorkingDir,
		User: rec.ImageConfig.User}, Overrides{Entrypoint: []string{}, Cmd: spec.Cmd, Env: spec.Env,
		WorkingDir: spec.WorkingDir, User: spec.User, Terminal: spec.TTY})
	if err != nil {
		return 0, err
	}
	ps.Env = appendIfUnset(ps.Env, "HOSTNAME", hostname(rec))
	if spec.TTY {
		ps.Env = appendIfUnset(ps.Env, "TERM", "xterm")
		if spec.Size != nil && spec.Size.Rows > 0 && spec.Size.Cols > 0 {
			ps.Size = &proto.WinSize{Rows: spec.Size.Rows, Cols: spec.Size.Cols}
		}
	}
	execID := newExecID()
	stdin := spec.Stdin && stdio.Stdin != nil && !spec.Detach
	var p *agent.Process
	err = m.agentCall(ctx, func(ctx context.Context) (err error) {
		p, err = s.client.Exec(ctx, rec.ID, execID, ps, agent.Stdio{Stdin: stdin, Stdout: !spec.Detach, Stderr: !spec.Detach})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", rec.Name, err)
	}
	m.publish("exec_start", rec, map[string]string{"execID": execID, "cmd": spec.Cmd[0]})
	if spec.Detach {
		return 0, nil
	}
	var pumps sync.WaitGroup
	copyOut := func(w io.Writer, r io.Reader) {
		if r == nil {
			return
		}
		if w == nil {
			w = io.Discard
		}
		pumps.Add(1)
		go func() { defer pumps.Done(); io.Copy(w, r) }()
	}
	copyOut(stdio.Stdout, p.Stdout)
	copyOut(stdio.Stderr, p.Stderr)
	if stdin {
		go func() { io.Copy(p.Stdin, stdio.Stdin); p.Stdin.Close() }()
	}
	if stdio.Resize != nil && spec.TTY {
		go func() {
			for sz := range stdio.Resize {
				p.Resize(ctx, sz)
			}
		}()
	}
	st, err := p.Wait(ctx)
	if err != nil && ctx.Err() != nil {
		// The caller left (docker's client disconnected): the process
		// ends, as docker's does, and with it its streams and the pumps.
		kill, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if kerr := p.Signal(kill, sigKILL); kerr != nil {
			m.log.Warn("kill an exec its caller left", "id", api.ShortID(rec.ID), "exec", execID, "err", kerr)
		}
		cancel()
	}
	pumps.Wait()
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", rec.Name, err)
	}
	code := exitCode(st.Code, st.Signal)
	m.publish("exec_die", rec, map[string]string{"execID": execID, "exitCode": strconv.Itoa(code)})
	return code, nil
}

// sigKILL is Linux's SIGKILL, the guest's whatever the host.
const sigKILL = 9

func newExecID() string {
	var b [8]byte
	rand.Read(b[:])
	return "exec-" + hex.EncodeToString(b[:])
}
