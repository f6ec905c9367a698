package volume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/atomicfile"
	"github.com/berthvm/berth/core/events"
	"github.com/berthvm/berth/core/paths"
	"github.com/berthvm/berth/core/rootfs"
	"github.com/berthvm/berth/core/state"
	"github.com/berthvm/berth/core/units"
)

// Config is what a Manager is built from.
type Config struct {
	DB   *state.DB
	Home string // data dir: volumes live in paths.VolumesDir(Home)
	// Templates is where the formatted empty disks that volumes are
	// cloned from live: the folder the containers' writable disks use, so
	// a volume of the default size costs no second template.
	Templates string
	Bus       *events.Bus
	Logger    *slog.Logger
	Now       func() time.Time
	// DefaultSize is the size of a volume whose options name none;
	// default DefaultSize.
	DefaultSize int64
	// MakeDisk makes an empty ext4 disk of size bytes at path, writing a
	// temp file and renaming it, and refuses an existing path; default
	// rootfs.CreateWritable from Templates.
	MakeDisk func(ctx context.Context, path string, size int64) error
}

// Manager is every named volume of a data dir. Its methods are safe for
// concurrent use: work on one name is serialised, other names go on.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	locks nameLocks
}

// New opens the volumes of cfg.DB and sweeps what a crash left in the
// volumes folder: files of volumes that have no record (made but not
// recorded, or unrecorded but not yet deleted) and half-written disks.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.DB == nil || cfg.Home == "" {
		return nil, fmt.Errorf("volumes need a database and a data dir: %w", api.ErrInvalidArgument)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DefaultSize <= 0 {
		cfg.DefaultSize = DefaultSize
	}
	if cfg.MakeDisk == nil {
		if cfg.Templates == "" {
			return nil, fmt.Errorf("volumes need a folder for disk templates: %w", api.ErrInvalidArgument)
		}
		templates := cfg.Templates
		cfg.MakeDisk = func(ctx context.Context, path string, size int64) error {
			return rootfs.CreateWritable(ctx, templates, path, size)
		}
	}
	m := &Manager{cfg: cfg, log: cfg.Logger}
	if err := m.sweep(); err != nil {
		return nil, err
	}
	return m, nil
}

// sweep removes the volumes folder's leftovers (see New).
func (m *Manager) sweep() error {
	var recs []state.VolumeRecord
	if err := m.cfg.DB.View(func(tx *state.Tx) (err error) { recs, err = tx.Volumes(); return err }); err != nil {
		return fmt.Errorf("read volumes: %w", err)
	}
	known := map[string]bool{}
	for _, r := range recs {
		known[r.Name] = true
	}
	dir := paths.VolumesDir(m.cfg.Home)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		m.log.Warn("read volumes folder", "path", dir, "err", err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !known[e.Name()] {
			if err := os.RemoveAll(p); err != nil {
				m.log.Warn("remove leftover volume files", "path", p, "err", err)
			} else {
				m.log.Info("removed leftover volume files", "path", p)
			}
			continue
		}
		inner, _ := os.ReadDir(p)
		for _, f := range inner {
			if strings.HasPrefix(f.Name(), atomicfile.TempPrefix) {
				if err := os.Remove(filepath.Join(p, f.Name())); err != nil {
					m.log.Warn("remove half-written volume disk", "path", filepath.Join(p, f.Name()), "err", err)
				}
			}
		}
	}
	for _, r := range recs {
		if _, err := os.Stat(m.disk(r.Name)); err != nil {
			m.log.Warn("volume disk missing", "volume", r.Name, "path", m.disk(r.Name), "err", err)
		}
	}
	return nil
}

func (m *Manager) disk(name string) string { return paths.VolumeDisk(m.cfg.Home, name) }

// view is a volume as the API shows it.
func (m *Manager) view(r state.VolumeRecord) api.Volume {
	v := r.Volume
	v.Driver = Driver
	v.Mountpoint = m.disk(v.Name)
	return v
}

func (m *Manager) publish(action, name string) {
	if m.cfg.Bus != nil {
		m.cfg.Bus.Publish(api.Event{Type: api.EventVolume, Action: action, ID: name, Name: name,
			Attributes: map[string]string{"driver": Driver}})
	}
}

// Create makes a volume, as `docker volume create` does: a name that
// exists returns that volume unchanged, unless the request gives options
// that differ from its own (then an api.ErrAlreadyExists error); labels
// of an existing volume are kept as they are. An empty name makes a
// random 64-hex-digit one.
func (m *Manager) Create(ctx context.Context, req api.VolumeCreateRequest) (api.Volume, error) {
	name := req.Name
	if name == "" {
		name = randomName()
	} else if err := CheckName(name); err != nil {
		return api.Volume{}, err
	}
	size, err := parseOptions(req.Options, m.cfg.DefaultSize)
	if err != nil {
		return api.Volume{}, err
	}
	unlock := m.locks.lock(name)
	defer unlock()
	v, _, err := m.ensureLocked(ctx, spec{name: name, labels: req.Labels, options: req.Options, size: size})
	return v, err
}

// Ensure returns the volume name, creating it with the default options
// if it does not exist (created reports which). An empty name makes a
// random one. anonymous marks a volume made for one container (an
// image's VOLUME, -v with a container path only): `volume prune` removes
// those unless they are in use. It is for the runtime, at a container's
// create; the transaction that stores the container then calls Claim.
func (m *Manager) Ensure(ctx context.Context, name string, anonymous bool) (v api.Volume, created bool, err error) {
	if name == "" {
		name = randomName()
	} else if err := CheckName(name); err != nil {
		return api.Volume{}, false, err
	}
	unlock := m.locks.lock(name)
	defer unlock()
	return m.ensureLocked(ctx, spec{name: name, size: m.cfg.DefaultSize, anonymous: anonymous})
}

// spec is a volume to make.
type spec struct {
	name      string
	labels    map[string]string
	options   map[string]string // as given; size is their meaning
	size      int64
	anonymous bool
}

// ensureLocked returns volume s.name, making it if it does not exist;
// the caller holds the name's lock.
func (m *Manager) ensureLocked(ctx context.Context, s spec) (api.Volume, bool, error) {
	var (
		existing *state.VolumeRecord
		other    string // a volume whose name differs only in case
	)
	err := m.cfg.DB.View(func(tx *state.Tx) error {
		recs, err := tx.Volumes()
		for i, r := range recs {
			switch {
			case r.Name == s.name:
				existing = &recs[i]
			case strings.EqualFold(r.Name, s.name):
				other = r.Name
			}
		}
		return err
	})
	if err != nil {
		return api.Volume{}, false, err
	}
	if existing != nil {
		if len(s.options) > 0 && existing.SizeBytes != s.size {
			return api.Volume{}, false, fmt.Errorf("volume %s already exists with other options (size %s): remove it first (berth volume rm %s) or create it without options: %w",
				s.name, units.MemorySize(uint64(existing.SizeBytes)), s.name, api.ErrAlreadyExists)
		}
		return m.view(*existing), false, nil
	}
	if other != "" {
		return api.Volume{}, false, fmt.Errorf("volume name %s differs from volume %s only in case, which Berth's disks cannot tell apart: pick another name: %w",
			s.name, other, api.ErrAlreadyExists)
	}

	// No record: whatever is in the volume's folder is a crash's leftover.
	disk := m.disk(s.name)
	dir := filepath.Dir(disk)
	if err := os.RemoveAll(dir); err != nil {
		return api.Volume{}, false, fmt.Errorf("create volume %s: clear leftover files: %w", s.name, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return api.Volume{}, false, fmt.Errorf("create volume %s: %w", s.name, err)
	}
	if err := m.cfg.MakeDisk(ctx, disk, s.size); err != nil {
		m.removeFiles(s.name)
		return api.Volume{}, false, fmt.Errorf("create volume %s: %w", s.name, err)
	}
	rec := state.VolumeRecord{Volume: api.Volume{Name: s.name, Driver: Driver, SizeBytes: s.size, Labels: s.labels,
		Options: s.options, Anonymous: s.anonymous, Created: m.cfg.Now().UTC()}}
	if err := m.cfg.DB.Update(func(tx *state.Tx) error { return tx.CreateVolume(rec) }); err != nil {
		m.removeFiles(s.name)
		return api.Volume{}, false, fmt.Errorf("create volume %s: %w", s.name, err)
	}
	m.publish("create", s.name)
	m.log.Info("volume created", "volume", s.name, "size", s.size, "anonymous", s.anonymous)
	return m.view(rec), true, nil
}

// removeFiles deletes a volume's folder, logging a failure: the next
// Manager sweeps it.
func (m *Manager) removeFiles(name string) {
	dir := filepath.Dir(m.disk(name))
	if err := os.RemoveAll(dir); err != nil {
		m.log.Warn("remove volume files", "volume", name, "path", dir, "err", err)
	}
}

// Claim checks, in the transaction that stores a container, that every
// volume its mounts name exists. A volume is in use from the moment a
// container record names it, and Remove and Prune check use in their own
// transaction, so a claimed volume cannot be removed under the container.
func (m *Manager) Claim(tx *state.Tx, mounts []api.Mount) error {
	for _, mt := range mounts {
		if mt.Type != api.MountVolume {
			continue
		}
		if mt.Source == "" {
			return fmt.Errorf("volume mount at %s has no volume name: %w", mt.Target, api.ErrInvalidArgument)
		}
		if _, err := tx.Volume(mt.Source); err != nil {
			return fmt.Errorf("volume mount at %s: %w", mt.Target, err)
		}
	}
	return nil
}

// Inspect returns the volume with exactly this name.
func (m *Manager) Inspect(ctx context.Context, name string) (api.Volume, error) {
	var rec state.VolumeRecord
	if err := m.cfg.DB.View(func(tx *state.Tx) (err error) { rec, err = tx.Volume(name); return err }); err != nil {
		return api.Volume{}, err
	}
	return m.view(rec), nil
}

// Exists reports whether a volume of this name exists.
func (m *Manager) Exists(ctx context.Context, name string) (bool, error) {
	_, err := m.Inspect(ctx, name)
	if errors.Is(err, api.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// List returns the volumes, by name, that match filters (docker's keys:
// dangling=true|false, name=SUBSTRING, label=KEY or KEY=VALUE,
// driver=local). Values of one key are ORed (labels: ANDed), keys ANDed.
func (m *Manager) List(ctx context.Context, filters map[string][]string) ([]api.Volume, error) {
	f, err := parseFilter(filters)
	if err != nil {
		return nil, err
	}
	var recs []state.VolumeRecord
	if err := m.cfg.DB.View(func(tx *state.Tx) (err error) { recs, err = tx.Volumes(); return err }); err != nil {
		return nil, err
	}
	out := []api.Volume{}
	for _, r := range recs {
		if v := m.view(r); f.match(v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// Remove deletes a volume no container uses: its record, then its files.
// One in use is refused, naming the containers ("remove data: volume is
// in use - [web, worker]", an api.ErrConflict), even with force, as
// docker does; force only makes a missing volume no error.
func (m *Manager) Remove(ctx context.Context, name string, force bool) error {
	unlock := m.locks.lock(name)
	defer unlock()
	err := m.cfg.DB.Update(func(tx *state.Tx) error { return tx.DeleteVolume(name) })
	switch {
	case errors.Is(err, api.ErrNotFound):
		if force {
			return nil
		}
		return err
	case err != nil:
		return fmt.Errorf("remove %s: %w", name, err)
	}
	m.removeFiles(name)
	m.publish("destroy", name)
	m.log.Info("volume removed", "volume", name)
	return nil
}

// Prune removes the volumes no container uses: the anonymous ones, or
// with all the named ones too (docker 23's `volume prune` and `-a`).
func (m *Manager) Prune(ctx context.Context, all bool) (api.VolumePruneReport, error) {
	report := api.VolumePruneReport{Removed: []string{}}
	list, err := m.List(ctx, map[string][]string{"dangling": {"true"}})
	if err != nil {
		return report, err
	}
	for _, v := range list {
		if !all && !v.Anonymous {
			continue
		}
		if err := ctx.Err(); err != nil {
			return report, fmt.Errorf("prune volumes: %w", api.ErrCanceled)
		}
		if err := m.Remove(ctx, v.Name, false); err != nil {
			if errors.Is(err, api.ErrConflict) || errors.Is(err, api.ErrNotFound) {
				continue // a container took it, or it went, meanwhile
			}
			return report, err
		}
		report.Removed = append(report.Removed, v.Name)
	}
	return report, nil
}

// nameLocks serialises work on each volume name. Names are folded to
// lower case, as the state's index does; a lock lives while it is held
// or awaited, so the map does not grow with every name ever used.
type nameLocks struct {
	mu sync.Mutex
	m  map[string]*nameLock
}

type nameLock struct {
	sync.Mutex
	refs int
}

func (l *nameLocks) lock(name string) (unlock func()) {
	key := strings.ToLower(name)
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*nameLock{}
	}
	nl := l.m[key]
	if nl == nil {
		nl = &nameLock{}
		l.m[key] = nl
	}
	nl.refs++
	l.mu.Unlock()
	nl.Lock()
	return func() {
		nl.Unlock()
		l.mu.Lock()
		if nl.refs--; nl.refs == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
}
