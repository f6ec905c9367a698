package state

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/berthvm/berth/core/api"
	bolt "go.etcd.io/bbolt"
)

// VolumeRecord is a named volume as stored. Its UsedBy is never stored:
// every accessor fills it from the containers' records in the same
// transaction.
type VolumeRecord struct {
	api.Volume
}

// VolumeInUseError is how DeleteVolume refuses a volume that containers
// mount. It is an api.ErrConflict; Containers are their names, sorted.
type VolumeInUseError struct {
	Volume     string
	Containers []string
}

func (e *VolumeInUseError) Error() string {
	return "volume is in use - [" + strings.Join(e.Containers, ", ") + "]"
}

// Is makes errors.Is(err, api.ErrConflict) true without the sentinel's
// word in the message.
func (e *VolumeInUseError) Is(target error) bool { return target == api.ErrConflict }

func migrateV5Volumes(tx *bolt.Tx) error {
	for _, name := range []string{bucketVolumes, bucketVolumeNames} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return err
		}
	}
	return nil
}

// foldName is a volume name's key in the volume-names index: two names
// that differ only in case would share a folder on macOS's default file
// system, so they are one name here.
func foldName(name string) string { return strings.ToLower(name) }

// CreateVolume stores a new volume. Its name must be free, ignoring case.
func (t *Tx) CreateVolume(rec VolumeRecord) error {
	if rec.Name == "" {
		return fmt.Errorf("volume record needs a name: %w", api.ErrInvalidArgument)
	}
	names, err := t.bucket(bucketVolumeNames)
	if err != nil {
		return err
	}
	if owner := names.Get([]byte(foldName(rec.Name))); owner != nil {
		if string(owner) == rec.Name {
			return fmt.Errorf("volume %s already exists: %w", rec.Name, api.ErrAlreadyExists)
		}
		return fmt.Errorf("volume name %s differs from volume %s only in case, which Berth's disks cannot tell apart: pick another name: %w",
			rec.Name, owner, api.ErrAlreadyExists)
	}
	if err := names.Put([]byte(foldName(rec.Name)), []byte(rec.Name)); err != nil {
		return err
	}
	rec.UsedBy = nil
	return t.putJSON(bucketVolumes, rec.Name, rec)
}

// Volume returns the volume with exactly this name, with its users.
func (t *Tx) Volume(name string) (VolumeRecord, error) {
	var rec VolumeRecord
	if err := t.getJSON(bucketVolumes, name, &rec); err != nil {
		return rec, fmt.Errorf("no such volume: %s: %w", name, errKindOf(err))
	}
	users, err := t.volumeUsers()
	if err != nil {
		return rec, err
	}
	rec.UsedBy = users[name]
	return rec, nil
}

// Volumes lists every volume, by name, with its users.
func (t *Tx) Volumes() ([]VolumeRecord, error) {
	b, err := t.bucket(bucketVolumes)
	if err != nil {
		return nil, err
	}
	users, err := t.volumeUsers()
	if err != nil {
		return nil, err
	}
	var out []VolumeRecord
	err = b.ForEach(func(k, v []byte) error {
		var rec VolumeRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("volume %s: %v: %w", k, err, api.ErrCorrupt)
		}
		rec.UsedBy = users[rec.Name]
		out = append(out, rec)
		return nil
	})
	return out, err
}

// DeleteVolume removes a volume no container mounts; one that is mounted
// is refused with a *VolumeInUseError naming the containers. The check and
// the delete are one transaction: a container stored in the same
// transaction as a check that its volumes exist can never lose one.
func (t *Tx) DeleteVolume(name string) error {
	rec, err := t.Volume(name)
	if err != nil {
		return err
	}
	if len(rec.UsedBy) > 0 {
		return &VolumeInUseError{Volume: name, Containers: rec.UsedBy}
	}
	if err := t.delete(bucketVolumeNames, foldName(name)); err != nil {
		return err
	}
	return t.delete(bucketVolumes, name)
}

// volumeUsers maps each volume's name to the names of the containers that
// mount it, sorted, from the containers' specs.
func (t *Tx) volumeUsers() (map[string][]string, error) {
	cs, err := t.Containers()
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, c := range cs {
		seen := map[string]bool{}
		for _, m := range c.Spec.Mounts {
			if m.Type != api.MountVolume || m.Source == "" || seen[m.Source] {
				continue
			}
			seen[m.Source] = true
			users[m.Source] = append(users[m.Source], c.Name)
		}
	}
	for _, names := range users {
		sort.Strings(names)
	}
	return users, nil
}
