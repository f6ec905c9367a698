package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/state"
	"github.com/berthvm/berth/core/volume"
)

// Volumes gives containers their named volumes (core/volume's Manager).
// Without it, a container may have binds and tmpfs mounts only.
type Volumes interface {
	// Ensure makes the volume unless it exists; created says it did.
	Ensure(ctx context.Context, name string, anonymous bool) (v api.Volume, created bool, err error)
	// Claim checks, in the transaction that stores a container, that its
	// volumes still exist: from then on they are in use.
	Claim(tx *state.Tx, mounts []api.Mount) error
	// Remove deletes a volume no container uses.
	Remove(ctx context.Context, name string, force bool) error
}

// resolveMounts turns what the user asked for into what the container
// keeps: targets clean and distinct, a bind's host path absolute and
// present (stat is os.Stat outside tests), an anonymous volume named
// (newName), and an anonymous volume for every VOLUME of the image that
// no mount covers, as docker does. Mounts come out parents first. anon
// names the anonymous volumes.
func resolveMounts(spec api.ContainerSpec, imageVolumes []string, stat func(string) (fs.FileInfo, error),
	newName func() string) (mounts []api.Mount, anon []string, err error) {
	seen := map[string]bool{}
	for _, m := range spec.Mounts {
		if err := volume.CheckTarget(m.Target); err != nil {
			return nil, nil, err
		}
		m.Target = path.Clean(m.Target)
		if seen[m.Target] {
			return nil, nil, fmt.Errorf("duplicate mount point: %s: %w", m.Target, api.ErrInvalidArgument)
		}
		seen[m.Target] = true
		switch m.Type {
		case api.MountBind:
			if !filepath.IsAbs(m.Source) {
				return nil, nil, fmt.Errorf("invalid mount config for type \"bind\": invalid mount path: %q mount path must be absolute: %w",
					m.Source, api.ErrInvalidArgument)
			}
			m.Source = filepath.Clean(m.Source)
			if _, err := stat(m.Source); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil, nil, fmt.Errorf("invalid mount config for type \"bind\": bind source path does not exist: %s: %w",
						m.Source, api.ErrInvalidArgument)
				}
				return nil, nil, fmt.Errorf("bind source path %s: %w", m.Source, err)
			}
		case api.MountVolume:
			if m.Source == "" {
				m.Source = newName()
				anon = append(anon, m.Source)
			} else if err := volume.CheckName(m.Source); err != nil {
				return nil, nil, err
			}
		case api.MountTmpfs:
			if m.Source != "" {
				return nil, nil, fmt.Errorf("tmpfs mount at %s: a tmpfs has no source: %w", m.Target, api.ErrInvalidArgument)
			}
		default:
			return nil, nil, fmt.Errorf("mount at %s: unknown type %q (want bind, volume or tmpfs): %w", m.Target, m.Type, api.ErrInvalidArgument)
		}
		mounts = append(mounts, m)
	}
	for _, v := range imageVolumes {
		t := path.Clean("/" + v)
		if t == "/" || seen[t] {
			continue
		}
		seen[t] = true
		name := newName()
		anon = append(anon, name)
		mounts = append(mounts, api.Mount{Type: api.MountVolume, Source: name, Target: t})
	}
	sort.SliceStable(mounts, func(i, j int) bool { return depth(mounts[i].Target) < depth(mounts[j].Target) })
	return mounts, anon, nil
}

func depth(p string) int { return strings.Count(path.Clean(p), "/") }

// anonymousName is an anonymous volume's name: 64 hex digits, as docker's.
func anonymousName() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ensureVolumes makes the container's missing volumes before it is
// stored, and returns a function that removes those it made (for a
// create that fails later).
func (m *Manager) ensureVolumes(ctx context.Context, rec state.ContainerRecord) (undo func(), err error) {
	var made []string
	undo = func() {
		for _, name := range made {
			if err := m.cfg.Volumes.Remove(context.WithoutCancel(ctx), name, false); err != nil {
				m.log.Warn("remove a volume made for a container that was not created", "volume", name, "err", err)
			}
		}
	}
	for _, mt := range rec.Spec.Mounts {
		if mt.Type != api.MountVolume {
			continue
		}
		if m.cfg.Volumes == nil {
			undo()
			return nil, fmt.Errorf("volumes are not available here: %w", api.ErrUnsupported)
		}
		_, created, err := m.cfg.Volumes.Ensure(ctx, mt.Source, slices.Contains(rec.AnonymousVolumes, mt.Source))
		if err != nil {
			undo()
			return nil, fmt.Errorf("volume %s: %w", mt.Source, err)
		}
		if created {
			made = append(made, mt.Source)
		}
	}
	return undo, nil
}

// mountPlan is how a container's mounts reach its VM: volumes as disks,
// binds as virtio-fs shares, and what the agent mounts where.
type mountPlan struct {
	Disks  []hypervisor.Disk
	Shares []hypervisor.Share
	Guest  []proto.Mount
}

// planMounts lays out rec's mounts for a start. A bind's host path must
// still exist: a folder is shared as it is; a file is reached through its
// folder, shared with the VM (the container sees only the file).
func (m *Manager) planMounts(ctx context.Context, rec state.ContainerRecord) (mountPlan, error) {
	var p mountPlan
	for i, mt := range rec.Spec.Mounts {
		g := proto.Mount{Target: mt.Target, ReadOnly: mt.ReadOnly}
		switch mt.Type {
		case api.MountVolume:
			if m.cfg.Volumes == nil {
				return p, fmt.Errorf("volumes are not available here: %w", api.ErrUnsupported)
			}
			v, _, err := m.cfg.Volumes.Ensure(ctx, mt.Source, slices.Contains(rec.AnonymousVolumes, mt.Source))
			if err != nil {
				return p, fmt.Errorf("volume %s: %w", mt.Source, err)
			}
			id := fmt.Sprintf("vol%d", i)
			p.Disks = append(p.Disks, hypervisor.Disk{ID: id, Path: v.Mountpoint})
			g.Kind, g.Device, g.Seed = proto.MountDisk, proto.Device{Serial: id}, !mt.NoCopy
		case api.MountBind:
			fi, err := os.Stat(mt.Source)
			if err != nil {
				return p, fmt.Errorf("bind source path %s: %w", mt.Source, errNotExist(err))
			}
			if !hasShares(m.cfg.Driver.Info()) {
				return p, fmt.Errorf("bind mounts: %s", noSharesHint(m.cfg.Driver.Info()))
			}
			share := hypervisor.Share{Tag: fmt.Sprintf("bind%d", i), Path: mt.Source, ReadOnly: mt.ReadOnly}
			if !fi.IsDir() {
				share.Path, g.Subpath = filepath.Dir(mt.Source), filepath.Base(mt.Source)
			}
			p.Shares = append(p.Shares, share)
			g.Kind, g.Tag = proto.MountShare, share.Tag
		case api.MountTmpfs:
			g.Kind = proto.MountTmpfs
			g.Options = tmpfsOptions(mt)
		}
		p.Guest = append(p.Guest, g)
	}
	return p, nil
}

// tmpfsOptions are a tmpfs mount's data and flags for the agent: docker's
// defaults noexec, nosuid, nodev, mode 1777.
func tmpfsOptions(mt api.Mount) string {
	mode := mt.TmpfsMode
	if mode == 0 {
		mode = 0o1777
	}
	o := []string{"nosuid", "nodev", fmt.Sprintf("mode=%o", mode)}
	if !mt.TmpfsExec {
		o = append(o, "noexec")
	}
	if mt.TmpfsSize > 0 {
		o = append(o, fmt.Sprintf("size=%d", mt.TmpfsSize))
	}
	return strings.Join(o, ",")
}

func hasShares(info hypervisor.Info) bool {
	return slices.Contains(info.Shares, hypervisor.ShareVirtioFS)
}

func noSharesHint(info hypervisor.Info) string {
	if info.Name == "qemu" {
		return "this host cannot share folders with containers: install virtiofsd (on Debian and Ubuntu, the qemu-system-common package has it)"
	}
	return fmt.Sprintf("the %s backend cannot share folders with containers", info.Name)
}

func errNotExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("does not exist: %w", api.ErrNotFound)
	}
	return err
}

// volumesFree fails with api.ErrConflict, naming the volume and the
// container, when another container runs (or starts) with one of rec's
// volumes: a volume is a disk only one VM may mount at a time.
func volumesFree(tx *state.Tx, rec state.ContainerRecord) error {
	mine := map[string]bool{}
	for _, mt := range rec.Spec.Mounts {
		if mt.Type == api.MountVolume {
			mine[mt.Source] = true
		}
	}
	if len(mine) == 0 {
		return nil
	}
	recs, err := tx.Containers()
	if err != nil {
		return err
	}
	for _, o := range recs {
		if o.ID == rec.ID || !o.State.Active() {
			continue
		}
		for _, mt := range o.Spec.Mounts {
			if mt.Type == api.MountVolume && mine[mt.Source] {
				return fmt.Errorf("volume %s is in use by running container %s, and a volume is a disk that one running container mounts at a time: stop %s first: %w",
					mt.Source, o.Name, o.Name, api.ErrConflict)
			}
		}
	}
	return nil
}

func hasBinds(mounts []api.Mount) bool {
	return slices.ContainsFunc(mounts, func(m api.Mount) bool { return m.Type == api.MountBind })
}

// removeAnonymousVolumes removes the volumes made for a removed
// container (docker's run --rm, rm -v); one another container also
// mounts stays.
func (m *Manager) removeAnonymousVolumes(rec state.ContainerRecord) {
	if m.cfg.Volumes == nil {
		return
	}
	for _, name := range rec.AnonymousVolumes {
		err := m.cfg.Volumes.Remove(context.Background(), name, false)
		if err != nil && !errors.Is(err, api.ErrNotFound) {
			m.log.Warn("remove the container's anonymous volume", "id", api.ShortID(rec.ID), "volume", name, "err", err)
		}
	}
}

// holdVolumes keeps rec's volumes from every other boot until release:
// it fails with api.ErrConflict if another boot holds one, or (checked
// after the hold is taken) another container's state says it runs with
// one. A start releases once its state says starting, which then keeps
// others away; a maintenance boot holds until its VM is gone.
func (m *Manager) holdVolumes(rec state.ContainerRecord) (release func(), err error) {
	var mine []string
	for _, mt := range rec.Spec.Mounts {
		if mt.Type == api.MountVolume && !slices.Contains(mine, mt.Source) {
			mine = append(mine, mt.Source)
		}
	}
	if len(mine) == 0 {
		return func() {}, nil
	}
	m.mu.Lock()
	for _, v := range mine {
		if other, ok := m.holds[v]; ok && other != rec.Name {
			m.mu.Unlock()
			return nil, fmt.Errorf("volume %s is in use by container %s, and a volume is a disk that one running container mounts at a time: try again once %s has started or stopped: %w",
				v, other, other, api.ErrConflict)
		}
	}
	for _, v := range mine {
		m.holds[v] = rec.Name
	}
	m.mu.Unlock()
	release = func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, v := range mine {
			if m.holds[v] == rec.Name {
				delete(m.holds, v)
			}
		}
	}
	if err := m.cfg.DB.View(func(tx *state.Tx) error { return volumesFree(tx, rec) }); err != nil {
		release()
		return nil, err
	}
	return release, nil
}
