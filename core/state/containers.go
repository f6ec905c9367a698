package state

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
	bolt "go.etcd.io/bbolt"
)

// ContainerRecord is a container as stored: what the API shows, plus the
// hypervisor's opaque handle that lets a restarted core re-adopt its VM.
type ContainerRecord struct {
	api.Container

	// What the runtime keeps for itself, fixed at create: the image's
	// config and disk (so the container outlives a retag of its image),
	// the guest arch, the writable disk and the NIC's MAC address.
	ImageConfig  api.ImageConfig `json:"imageConfig"`
	Arch         string          `json:"arch"`
	BaseDisk     string          `json:"baseDisk"`
	WritableDisk string          `json:"writableDisk"`
	MAC          string          `json:"mac"`
	// AnonymousVolumes are the volumes made for this container (an
	// image's VOLUME, -v with only a container path): run --rm removes
	// them with it.
	AnonymousVolumes []string `json:"anonymousVolumes,omitempty"`

	// ManuallyStopped records that a user stopped or killed it (docker's
	// HasBeenManuallyStopped): its restart policy does not undo that,
	// except "always" when the daemon starts. A user's start clears it.
	ManuallyStopped bool `json:"manuallyStopped,omitempty"`
	// ProcessStarted is when its main process last began (Started is
	// when its VM began booting): how long a run lasted, for the restart
	// back-off, is counted from here.
	ProcessStarted time.Time `json:"processStarted,omitzero"`
	// RestartDelay is the back-off its restart policy last waited; the
	// next one doubles it unless the run lasted long enough to reset it.
	RestartDelay time.Duration `json:"restartDelay,omitempty"`

	// VM is the backend's handle (pid, start time, sockets) while a VM may
	// be running; nil otherwise.
	VM json.RawMessage `json:"vm,omitempty"`
}

func migrateV2Containers(tx *bolt.Tx) error {
	for _, name := range []string{bucketContainers, bucketContainerNames} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return err
		}
	}
	return nil
}

// CreateContainer stores a new container; its id and name must be free.
func (t *Tx) CreateContainer(rec ContainerRecord) error {
	if rec.ID == "" || rec.Name == "" {
		return fmt.Errorf("container record needs an id and a name: %w", api.ErrInvalidArgument)
	}
	b, err := t.bucket(bucketContainers)
	if err != nil {
		return err
	}
	if b.Get([]byte(rec.ID)) != nil {
		return fmt.Errorf("container id %s: %w", rec.ID, api.ErrAlreadyExists)
	}
	names, err := t.bucket(bucketContainerNames)
	if err != nil {
		return err
	}
	if owner := names.Get([]byte(rec.Name)); owner != nil {
		return fmt.Errorf("container name %q is already in use by container %s; remove it (berth rm %s) or pick another name: %w",
			rec.Name, api.ShortID(string(owner)), rec.Name, api.ErrAlreadyExists)
	}
	if err := names.Put([]byte(rec.Name), []byte(rec.ID)); err != nil {
		return err
	}
	return t.putJSON(bucketContainers, rec.ID, rec)
}

// UpdateContainer rewrites an existing container (its name cannot change here).
func (t *Tx) UpdateContainer(rec ContainerRecord) error {
	old, err := t.Container(rec.ID)
	if err != nil {
		return err
	}
	if old.Name != rec.Name {
		return fmt.Errorf("container %s: name change from %q to %q is not an update: %w",
			rec.ID, old.Name, rec.Name, api.ErrInvalidArgument)
	}
	return t.putJSON(bucketContainers, rec.ID, rec)
}

// RenameContainer gives container id a new name, which must be free; the
// old name is freed in the same transaction.
func (t *Tx) RenameContainer(id, name string) error {
	rec, err := t.Container(id)
	if err != nil {
		return err
	}
	names, err := t.bucket(bucketContainerNames)
	if err != nil {
		return err
	}
	if owner := names.Get([]byte(name)); owner != nil {
		return fmt.Errorf("the container name %q is already in use by container %s; remove or rename that container to be able to reuse that name: %w",
			name, api.ShortID(string(owner)), api.ErrAlreadyExists)
	}
	if err := names.Delete([]byte(rec.Name)); err != nil {
		return err
	}
	if err := names.Put([]byte(name), []byte(id)); err != nil {
		return err
	}
	rec.Name, rec.Spec.Name = name, name
	return t.putJSON(bucketContainers, id, rec)
}

// Container returns the container with exactly this id.
func (t *Tx) Container(id string) (ContainerRecord, error) {
	var rec ContainerRecord
	if err := t.getJSON(bucketContainers, id, &rec); err != nil {
		return rec, fmt.Errorf("no such container: %s: %w", id, errKindOf(err))
	}
	return rec, nil
}

// ResolveContainer finds a container by full id, name, or a unique id
// prefix, as docker does.
func (t *Tx) ResolveContainer(ref string) (ContainerRecord, error) {
	id, err := t.resolve(ref, "container", bucketContainers, bucketContainerNames, "no such container: %s")
	if err != nil {
		return ContainerRecord{}, err
	}
	return t.Container(id)
}

// resolve finds the id of a kind of record (its records and names in
// their buckets) by full id, name, or a unique id prefix; notFound
// formats the reference that matches nothing.
func (t *Tx) resolve(ref, kind, records, names, notFound string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("empty %s name or id: %w", kind, api.ErrInvalidArgument)
	}
	b, err := t.bucket(records)
	if err != nil {
		return "", err
	}
	if b.Get([]byte(ref)) != nil {
		return ref, nil
	}
	nb, err := t.bucket(names)
	if err != nil {
		return "", err
	}
	if id := nb.Get([]byte(ref)); id != nil {
		return string(id), nil
	}
	var matches []string
	c := b.Cursor()
	for k, _ := c.Seek([]byte(ref)); k != nil && strings.HasPrefix(string(k), ref); k, _ = c.Next() {
		matches = append(matches, string(k))
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf(notFound+": %w", ref, api.ErrNotFound)
	case 1:
		return matches[0], nil
	}
	return "", fmt.Errorf("%s id prefix %q matches %d %ss; give more of the id: %w", kind, ref, len(matches), kind, api.ErrInvalidArgument)
}

// DeleteContainer removes a container and frees its name. Deleting one
// that does not exist is api.ErrNotFound.
func (t *Tx) DeleteContainer(id string) error {
	rec, err := t.Container(id)
	if err != nil {
		return err
	}
	if err := t.delete(bucketContainerNames, rec.Name); err != nil {
		return err
	}
	return t.delete(bucketContainers, id)
}

// Containers lists every container, oldest first.
func (t *Tx) Containers() ([]ContainerRecord, error) {
	b, err := t.bucket(bucketContainers)
	if err != nil {
		return nil, err
	}
	var out []ContainerRecord
	err = b.ForEach(func(k, v []byte) error {
		var rec ContainerRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("container %s: %v: %w", k, err, api.ErrCorrupt)
		}
		out = append(out, rec)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}

// errKindOf keeps the sentinel of a lookup error without its wording.
func errKindOf(err error) error {
	for _, s := range []error{api.ErrNotFound, api.ErrCorrupt} {
		if api.CodeOf(err) == api.CodeOf(s) {
			return s
		}
	}
	return err
}
