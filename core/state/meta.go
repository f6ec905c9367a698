package state

import (
	"fmt"
	"time"

	"github.com/berthvm/berth/core/api"
)

// Meta is what the database says about itself.
type Meta struct {
	SchemaVersion int
	HostID        string
	Created       time.Time
}

// Meta reads the meta bucket.
func (t *Tx) Meta() (Meta, error) {
	b, err := t.bucket(bucketMeta)
	if err != nil {
		return Meta{}, err
	}
	v, err := readVersion(t.tx)
	if err != nil {
		return Meta{}, err
	}
	m := Meta{SchemaVersion: v, HostID: string(b.Get([]byte(keyHostID)))}
	if raw := b.Get([]byte(keyCreated)); raw != nil {
		if m.Created, err = time.Parse(time.RFC3339, string(raw)); err != nil {
			return Meta{}, fmt.Errorf("meta created %q: %v: %w", raw, err, api.ErrCorrupt)
		}
	}
	return m, nil
}

// Setting decodes the user setting key into v (api.ErrNotFound if unset).
func (t *Tx) Setting(key string, v any) error { return t.getJSON(bucketSettings, key, v) }

// SetSetting stores the user setting key.
func (t *Tx) SetSetting(key string, v any) error { return t.putJSON(bucketSettings, key, v) }

// DeleteSetting removes the user setting key.
func (t *Tx) DeleteSetting(key string) error { return t.delete(bucketSettings, key) }
