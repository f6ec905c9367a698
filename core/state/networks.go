package state

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/berthvm/berth/core/api"
	bolt "go.etcd.io/bbolt"
)

// NetworkRecord is a network as stored: what the API shows of it (its
// live state and members are the network package's to fill), and the
// handle of its network process while one may be running.
type NetworkRecord struct {
	api.Network
	// Process is the network process's handle (pid, start time, run dir)
	// while it may be running; nil otherwise.
	Process json.RawMessage `json:"process,omitempty"`
}

func migrateV4Networks(tx *bolt.Tx) error {
	for _, name := range []string{bucketNetworks, bucketNetworkNames} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return err
		}
	}
	return nil
}

// CreateNetwork stores a new network; its id and name must be free.
func (t *Tx) CreateNetwork(rec NetworkRecord) error {
	if rec.ID == "" || rec.Name == "" {
		return fmt.Errorf("network record needs an id and a name: %w", api.ErrInvalidArgument)
	}
	b, err := t.bucket(bucketNetworks)
	if err != nil {
		return err
	}
	if b.Get([]byte(rec.ID)) != nil {
		return fmt.Errorf("network id %s: %w", rec.ID, api.ErrAlreadyExists)
	}
	names, err := t.bucket(bucketNetworkNames)
	if err != nil {
		return err
	}
	if owner := names.Get([]byte(rec.Name)); owner != nil {
		return fmt.Errorf("network with name %s already exists: %w", rec.Name, api.ErrAlreadyExists)
	}
	if err := names.Put([]byte(rec.Name), []byte(rec.ID)); err != nil {
		return err
	}
	return t.putJSON(bucketNetworks, rec.ID, rec)
}

// UpdateNetwork rewrites an existing network (its name cannot change).
func (t *Tx) UpdateNetwork(rec NetworkRecord) error {
	old, err := t.Network(rec.ID)
	if err != nil {
		return err
	}
	if old.Name != rec.Name {
		return fmt.Errorf("network %s: name change from %q to %q is not an update: %w", rec.ID, old.Name, rec.Name, api.ErrInvalidArgument)
	}
	return t.putJSON(bucketNetworks, rec.ID, rec)
}

// Network returns the network with exactly this id.
func (t *Tx) Network(id string) (NetworkRecord, error) {
	var rec NetworkRecord
	if err := t.getJSON(bucketNetworks, id, &rec); err != nil {
		return rec, fmt.Errorf("no such network: %s: %w", id, errKindOf(err))
	}
	return rec, nil
}

// ResolveNetwork finds a network by full id, name or a unique id prefix.
func (t *Tx) ResolveNetwork(ref string) (NetworkRecord, error) {
	id, err := t.resolve(ref, "network", bucketNetworks, bucketNetworkNames, "network %s not found")
	if err != nil {
		return NetworkRecord{}, err
	}
	return t.Network(id)
}

// DeleteNetwork removes a network and frees its name.
func (t *Tx) DeleteNetwork(id string) error {
	rec, err := t.Network(id)
	if err != nil {
		return err
	}
	if err := t.delete(bucketNetworkNames, rec.Name); err != nil {
		return err
	}
	return t.delete(bucketNetworks, id)
}

// Networks lists every network, oldest first.
func (t *Tx) Networks() ([]NetworkRecord, error) {
	b, err := t.bucket(bucketNetworks)
	if err != nil {
		return nil, err
	}
	var out []NetworkRecord
	err = b.ForEach(func(k, v []byte) error {
		var rec NetworkRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("network %s: %v: %w", k, err, api.ErrCorrupt)
		}
		out = append(out, rec)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}
