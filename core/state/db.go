package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/berthvm/berth/core/api"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

var (
	errNewerSchema = fmt.Errorf("upgrade berth or use another data dir: %w", api.ErrUnsupported)
	errCorruptMeta = fmt.Errorf("database metadata: %w", api.ErrCorrupt)
)

// ErrLocked is returned by Open when another process holds the database.
// It wraps api.ErrUnavailable.
var ErrLocked = fmt.Errorf("database is locked by another process: %w", api.ErrUnavailable)

// Options tune Open. The zero value is sensible.
type Options struct {
	// LockTimeout is how long Open waits for another owner to let go.
	// Default 100ms: a second daemon must fail fast, not hang.
	LockTimeout time.Duration
}

// DB is Berth's open database.
type DB struct {
	bolt *bolt.DB
	path string
}

// Open opens (creating if needed) the database at path and migrates it to
// the current schema. A database held by another process gives ErrLocked.
func Open(path string, opts Options) (*DB, error) {
	return open(path, opts, migrations)
}

func open(path string, opts Options, list []migration) (*DB, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 100 * time.Millisecond
	}
	// The directory must exist: creating it here could resurrect a data
	// dir that was deleted while this process started.
	if _, err := os.Stat(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("database directory: %w", err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch),
			errors.Is(err, bolterrors.ErrChecksum):
			return nil, fmt.Errorf("open %s: %v: %w", path, err, api.ErrCorrupt)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if _, _, err := migrate(b, list); err != nil {
		b.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return &DB{bolt: b, path: path}, nil
}

// Close releases the database and its lock.
func (db *DB) Close() error { return db.bolt.Close() }

// Path is the database file.
func (db *DB) Path() string { return db.path }

// View runs fn in a read-only transaction.
func (db *DB) View(fn func(*Tx) error) error {
	return db.bolt.View(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Update runs fn in a read-write transaction: all of fn's writes land, or
// none do.
func (db *DB) Update(fn func(*Tx) error) error {
	return db.bolt.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Tx is a transaction. Its accessors are grouped by the part of the schema
// they touch (meta.go, and one file per record kind).
type Tx struct {
	tx *bolt.Tx
}

// bucket returns a top-level bucket the migrations created.
func (t *Tx) bucket(name string) (*bolt.Bucket, error) {
	b := t.tx.Bucket([]byte(name))
	if b == nil {
		return nil, fmt.Errorf("bucket %q missing: %w", name, api.ErrCorrupt)
	}
	return b, nil
}

// getJSON decodes the record at bucket/key into v; a missing record is
// api.ErrNotFound, one that does not decode api.ErrCorrupt.
func (t *Tx) getJSON(bucket, key string, v any) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	raw := b.Get([]byte(key))
	if raw == nil {
		return fmt.Errorf("%s %q: %w", bucket, key, api.ErrNotFound)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s %q: %v: %w", bucket, key, err, api.ErrCorrupt)
	}
	return nil
}

// putJSON stores v at bucket/key.
func (t *Tx) putJSON(bucket, key string, v any) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s %q: %w", bucket, key, err)
	}
	return b.Put([]byte(key), raw)
}

// delete removes bucket/key; a missing key is not an error.
func (t *Tx) delete(bucket, key string) error {
	b, err := t.bucket(bucket)
	if err != nil {
		return err
	}
	return b.Delete([]byte(key))
}
