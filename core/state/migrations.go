package state

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A migration moves the schema from version-1 to version. It runs inside
// the same transaction as the version bump, so a failed migration leaves
// the database exactly as it was.
type migration struct {
	version int
	name    string
	apply   func(tx *bolt.Tx) error
}

// migrations is ordered by version, starting at 1, without gaps. Never edit
// a released migration: append a new one.
var migrations = []migration{
	{1, "create meta and settings buckets, host id", migrateV1},
	{2, "create container buckets", migrateV2Containers},
	{3, "create images and image-names buckets", migrateV3Images},
	{4, "create networks and network-names buckets", migrateV4Networks},
	{5, "create volumes and volume-names buckets", migrateV5Volumes},
}

// SchemaVersion is the schema this build writes.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

func migrateV1(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists([]byte(bucketMeta))
	if err != nil {
		return err
	}
	if _, err := tx.CreateBucketIfNotExists([]byte(bucketSettings)); err != nil {
		return err
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return err
	}
	if err := meta.Put([]byte(keyHostID), []byte(hex.EncodeToString(raw[:]))); err != nil {
		return err
	}
	return meta.Put([]byte(keyCreated), []byte(time.Now().UTC().Format(time.RFC3339)))
}

func migrateV3Images(tx *bolt.Tx) error {
	for _, name := range []string{bucketImages, bucketImageNames} {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return err
		}
	}
	return nil
}

// migrate applies every migration newer than the stored version, each in
// its own transaction, and refuses a database written by a newer Berth.
func migrate(db *bolt.DB, list []migration) (from, to int, err error) {
	if err := checkOrder(list); err != nil {
		return 0, 0, err
	}
	if err := db.View(func(tx *bolt.Tx) error {
		from, err = readVersion(tx)
		return err
	}); err != nil {
		return 0, 0, err
	}
	latest := 0
	if len(list) > 0 {
		latest = list[len(list)-1].version
	}
	if from > latest {
		return from, from, fmt.Errorf("database schema version %d is newer than this berth understands (%d): %w",
			from, latest, errNewerSchema)
	}
	to = from
	for _, m := range list {
		if m.version <= from {
			continue
		}
		err := db.Update(func(tx *bolt.Tx) error {
			if err := m.apply(tx); err != nil {
				return err
			}
			return writeVersion(tx, m.version)
		})
		if err != nil {
			return from, to, fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		to = m.version
	}
	return from, to, nil
}

func checkOrder(list []migration) error {
	for i, m := range list {
		if m.version != i+1 {
			return fmt.Errorf("migration list out of order: entry %d has version %d", i, m.version)
		}
	}
	return nil
}

// readVersion returns 0 for a database no migration has touched.
func readVersion(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket([]byte(bucketMeta))
	if meta == nil {
		return 0, nil
	}
	raw := meta.Get([]byte(keySchemaVersion))
	if raw == nil {
		return 0, nil
	}
	if len(raw) != 8 {
		return 0, fmt.Errorf("schema version has %d bytes, want 8: %w", len(raw), errCorruptMeta)
	}
	return int(binary.BigEndian.Uint64(raw)), nil
}

func writeVersion(tx *bolt.Tx, v int) error {
	meta, err := tx.CreateBucketIfNotExists([]byte(bucketMeta))
	if err != nil {
		return err
	}
	var raw [8]byte
	binary.BigEndian.PutUint64(raw[:], uint64(v))
	return meta.Put([]byte(keySchemaVersion), raw[:])
}
