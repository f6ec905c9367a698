package qemu

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hostproc"
)

// virtiofsdPath finds virtiofsd: the driver's own list if WithVirtiofsd
// set one, else $PATH, then VirtiofsdSearch.
func (d *Driver) virtiofsdPath() (string, error) {
	cands := d.virtiofsd
	if cands == nil {
		if p, err := exec.LookPath("virtiofsd"); err == nil {
			return p, nil
		}
		cands = VirtiofsdSearch
	}
	for _, c := range cands {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	return "", fmt.Errorf("bind mounts need virtiofsd (Debian: apt-get install qemu-system-common, which puts it in /usr/lib/qemu; elsewhere the virtiofsd package), found neither in $PATH nor as %s: %w",
		strings.Join(cands, ", "), api.ErrUnavailable)
}

// shareAttr puts a share's virtiofsd in the namespaces it needs. As
// root: none for a writable share (virtiofsd makes its own sandbox, and
// the guest's uids and gids reach the host as they are, as with docker
// on Linux); a private mount namespace for a read-only one (see
// readOnlyScript). As another user: a user namespace whose root is that
// user, because virtiofsd's sandbox needs CAP_SYS_ADMIN; the guest's
// root then writes files the user owns (as on a Mac), and other guest
// users cannot create files (their ids do not exist in the namespace).
func shareAttr(readOnly bool) *syscall.SysProcAttr {
	if os.Geteuid() == 0 {
		if readOnly {
			// Go makes the namespace's mounts private before the exec.
			return &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
		}
		return nil
	}
	a := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}}
	if readOnly {
		// A mount namespace owned by the user namespace: mounts made
		// in it never propagate back to the host's.
		a.Cloneflags |= syscall.CLONE_NEWNS
	}
	return a
}

// shareProcs are the virtiofsd processes of one VM, as started.
type shareProcs struct {
	tags  []string
	procs []*hostproc.Process
	logs  []string
}

// startShares starts one virtiofsd per share, each on a socket that
// listens before Start returns (QEMU connects at once). Each is a
// hostproc.Process in its own process group, so it outlives a killed
// core as QEMU does; it ends by itself once QEMU, its only client, has
// gone. On error, those already started are killed.
func (d *Driver) startShares(ctx context.Context, cfg hypervisor.VMConfig, f Files) (*shareProcs, error) {
	sp := &shareProcs{}
	if len(cfg.Shares) == 0 {
		return sp, nil
	}
	bin, err := d.virtiofsdPath()
	if err != nil {
		return nil, err
	}
	root := os.Geteuid() == 0
	for i, s := range cfg.Shares {
		proc, err := d.startShare(ctx, cfg, f, i, bin, root)
		if err != nil {
			sp.kill()
			how := ""
			if !root {
				how = " (as a user other than root, virtiofsd runs in a user namespace: are unprivileged user namespaces allowed?)"
			}
			return nil, fmt.Errorf("VM %q: share %q: start virtiofsd%s: %w", cfg.ID, s.Tag, how, err)
		}
		sp.tags, sp.procs, sp.logs = append(sp.tags, s.Tag), append(sp.procs, proc), append(sp.logs, shareLog(cfg.RunDir, i))
		slog.Debug("virtiofsd started", "id", cfg.ID, "tag", s.Tag, "pid", proc.Pid(), "read_only", s.ReadOnly, "cache", d.shareCache)
	}
	return sp, nil
}

func (d *Driver) startShare(ctx context.Context, cfg hypervisor.VMConfig, f Files, i int, bin string, root bool) (*hostproc.Process, error) {
	s := cfg.Shares[i]
	path, args, err := VirtiofsdCommand(bin, s, d.shareCache, root)
	if err != nil {
		return nil, err
	}
	return spawnVirtiofsd(ctx, f.Shares[i], hostproc.Spec{Path: path, Args: args,
		Log: shareLog(cfg.RunDir, i), Attr: shareAttr(s.ReadOnly)})
}

// spawnVirtiofsd listens on sock and starts s with the listener as its
// descriptor 3. Listening here, not in virtiofsd, means the socket exists
// when QEMU starts, and virtiofsd needs no lock file in /run (C virtiofsd
// takes one for --socket-path, in a directory only root may write).
func spawnVirtiofsd(ctx context.Context, sock string, s hostproc.Spec) (*hostproc.Process, error) {
	_ = os.Remove(sock)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	l.SetUnlinkOnClose(false)
	lf, err := l.File()
	l.Close()
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	defer lf.Close() // virtiofsd has its own copy
	s.ExtraFiles = []*os.File{lf}
	return hostproc.Spawn(ctx, s)
}

// kill ends every virtiofsd of sp and waits until they are reaped.
func (sp *shareProcs) kill() {
	if sp == nil {
		return
	}
	for _, p := range sp.procs {
		_ = p.Kill()
	}
	for _, p := range sp.procs {
		select {
		case <-p.Done():
		case <-time.After(5 * time.Second):
			slog.Warn("virtiofsd did not die", "pid", p.Pid())
		}
	}
}

// ended reports the shares whose virtiofsd has ended by itself, with its
// log: why QEMU could not start.
func (sp *shareProcs) ended() string {
	if sp == nil {
		return ""
	}
	var b strings.Builder
	for i, p := range sp.procs {
		select {
		case <-p.Done():
			if p.Exit().Signal == syscall.SIGKILL {
				continue // ours, once QEMU had gone
			}
			fmt.Fprintf(&b, "; virtiofsd of share %q ended (%s): %s", sp.tags[i], p.Exit(),
				strings.TrimSpace(hostproc.Tail(sp.logs[i], 0, 1024)))
		default:
		}
	}
	return b.String()
}

// reap waits, after QEMU has ended, for every virtiofsd to end by itself
// (each sees its vhost-user connection close, within milliseconds), and
// kills any still running after reapGrace: one QEMU never connected to
// (it failed at start) waits for ever.
func (sp *shareProcs) reap(id string) {
	if sp == nil {
		return
	}
	deadline := time.NewTimer(reapGrace)
	defer deadline.Stop()
	late := false
	for i, p := range sp.procs {
		if !late {
			select {
			case <-p.Done():
				continue
			case <-deadline.C:
				late = true
			}
		}
		select {
		case <-p.Done():
		default:
			slog.Warn("virtiofsd still running after its VM ended; killing it", "id", id, "tag", sp.tags[i], "pid", p.Pid())
			_ = p.Kill()
		}
	}
}

// reapGrace is how long virtiofsd may outlive its QEMU.
const reapGrace = 2 * time.Second
