package guest

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
)

// clockTicks is USER_HZ, the unit of /proc's times: 100 on every Linux
// the guest runs.
const clockTicks = 100

// The VM is the container: every process of the guest but PID 1 (the
// agent) and the kernel's threads is one of the container's.

// containerPIDs lists the container's processes from /proc.
func containerPIDs() ([]procStat, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == 1 || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // it ended meanwhile
		}
		st, err := parseProcStat(string(b))
		if err != nil || st.flags&pfKthread != 0 || st.pid == 2 || st.ppid == 2 {
			continue
		}
		out = append(out, st)
	}
	return out, nil
}

// bootTime is when the guest kernel started, from /proc/stat's btime.
func bootTime() time.Time {
	b, err := os.ReadFile("/proc/stat")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "btime "); ok {
				if n, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64); err == nil {
					return time.Unix(n, 0).UTC()
				}
			}
		}
	}
	return time.Now().Add(-Uptime()).UTC()
}

// top lists the processes of container id, their users named after the
// container's /etc/passwd.
func (s *Server) top(id string) (api.ContainerTop, error) {
	s.mu.Lock()
	c := s.containers[id]
	s.mu.Unlock()
	if c == nil {
		return api.ContainerTop{}, fmt.Errorf("container %q: %w", id, api.ErrNotFound)
	}
	stats, err := containerPIDs()
	if err != nil {
		return api.ContainerTop{}, err
	}
	names := map[int]string{}
	if f, err := os.Open(filepath.Join(c.root, "etc", "passwd")); err == nil {
		if ents, err := parsePasswd(f); err == nil {
			for _, e := range ents {
				if _, dup := names[int(e.uid)]; !dup {
					names[int(e.uid)] = e.name
				}
			}
		}
		f.Close()
	}
	boot := bootTime()
	out := api.ContainerTop{Time: time.Now().UTC(), Processes: []api.GuestProcess{}}
	for _, st := range stats {
		dir := filepath.Join("/proc", strconv.Itoa(st.pid))
		status, _ := os.ReadFile(filepath.Join(dir, "status"))
		cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		uid := statusUID(string(status))
		out.Processes = append(out.Processes, api.GuestProcess{
			PID: st.pid, PPID: st.ppid, UID: uid, User: names[uid],
			Start:   boot.Add(time.Duration(st.startTicks) * time.Second / clockTicks),
			CPUTime: time.Duration(st.cpuTicks) * time.Second / clockTicks,
			TTY:     ttyName(st.ttyNr), Cmd: commandLine(cmdline, st.comm),
		})
	}
	return out, nil
}

// cgroupRoot is where the agent mounts cgroup v2 for the freezer, and
// freezeGroup the cgroup the container's processes move into.
const (
	cgroupRoot  = "/sys/fs/cgroup"
	freezeGroup = cgroupRoot + "/berth"
)

// freeze freezes or thaws the container's processes: with the cgroup v2
// freezer when the guest kernel has it (the processes cannot tell), else
// with SIGSTOP and SIGCONT.
func (s *Server) freeze(req proto.FreezeRequest) (proto.FreezeReply, error) {
	s.mu.Lock()
	c := s.containers[req.Container]
	s.mu.Unlock()
	if c == nil {
		return proto.FreezeReply{}, fmt.Errorf("container %q: %w", req.Container, api.ErrNotFound)
	}
	s.freezeMu.Lock()
	defer s.freezeMu.Unlock()
	err := freezeCgroup(req.Frozen)
	if err == nil {
		return proto.FreezeReply{Method: proto.FreezeCgroup}, nil
	}
	slog.Info("cgroup freezer unavailable: signals instead", "err", err)
	return proto.FreezeReply{Method: proto.FreezeSignal}, freezeSignals(req.Frozen)
}

// freezeCgroup moves every process of the container into one cgroup and
// sets its freezer. Processes forked while they move are caught by
// moving again until none is left outside.
func freezeCgroup(frozen bool) error {
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err != nil {
		if err := unix.Mount("cgroup2", cgroupRoot, "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mount cgroup2: %w", err)
		}
	}
	if err := os.Mkdir(freezeGroup, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("make the freezer's cgroup: %w", err)
	}
	if !frozen {
		return os.WriteFile(filepath.Join(freezeGroup, "cgroup.freeze"), []byte("0"), 0o644)
	}
	for round := 0; round < 10; round++ {
		stats, err := containerPIDs()
		if err != nil {
			return err
		}
		moved := 0
		for _, st := range stats {
			if inFreezeGroup(st.pid) {
				continue
			}
			if err := os.WriteFile(filepath.Join(freezeGroup, "cgroup.procs"), []byte(strconv.Itoa(st.pid)), 0o644); err != nil &&
				!errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("move process %d into the freezer's cgroup: %w", st.pid, err)
			}
			moved++
		}
		if round == 0 {
			if err := os.WriteFile(filepath.Join(freezeGroup, "cgroup.freeze"), []byte("1"), 0o644); err != nil {
				return fmt.Errorf("freeze: %w", err)
			}
		} else if moved == 0 {
			return waitFrozen(5 * time.Second)
		}
	}
	return waitFrozen(5 * time.Second)
}

func inFreezeGroup(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	return err == nil && bytes.Contains(b, []byte("::/berth\n"))
}

// waitFrozen waits until the kernel reports the cgroup frozen: only then
// has every process stopped.
func waitFrozen(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		b, err := os.ReadFile(filepath.Join(freezeGroup, "cgroup.events"))
		if err != nil {
			return fmt.Errorf("read the freezer's state: %w", err)
		}
		if bytes.Contains(b, []byte("frozen 1")) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes not frozen after %s: %w", d, api.ErrUnavailable)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freezeSignals stops or continues every process of the container,
// again until a round finds none it has not signalled (a fork may race).
func freezeSignals(frozen bool) error {
	sig := unix.SIGCONT
	if frozen {
		sig = unix.SIGSTOP
	}
	done := map[int]bool{}
	for round := 0; round < 10; round++ {
		stats, err := containerPIDs()
		if err != nil {
			return err
		}
		fresh := 0
		for _, st := range stats {
			if done[st.pid] {
				continue
			}
			done[st.pid] = true
			fresh++
			_ = unix.Kill(st.pid, sig)
		}
		if fresh == 0 {
			return nil
		}
	}
	return nil
}
