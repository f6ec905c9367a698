package state

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	bolt "go.etcd.io/bbolt"
)

func rec(id, name string, created int) ContainerRecord {
	return ContainerRecord{Container: api.Container{ID: id, Name: name, State: api.StateCreated,
		Created: time.Unix(int64(created), 0)}}
}

func TestContainers(t *testing.T) {
	db, _ := openTemp(t)
	defer db.Close()
	err := db.Update(func(tx *Tx) error {
		for _, r := range []ContainerRecord{rec("abc111", "web", 3), rec("abc222", "db", 1), rec("f00", "cache", 2)} {
			if err := tx.CreateContainer(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ref    string
		wantID string
		kind   error
	}{
		{"abc111", "abc111", nil},
		{"web", "abc111", nil},
		{"abc2", "abc222", nil},
		{"f", "f00", nil},
		{"abc", "", api.ErrInvalidArgument}, // ambiguous prefix
		{"zzz", "", api.ErrNotFound},
		{"", "", api.ErrInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.ref, func(t *testing.T) {
			var got ContainerRecord
			err := db.View(func(tx *Tx) (err error) { got, err = tx.ResolveContainer(tc.ref); return err })
			if tc.kind != nil {
				if !errors.Is(err, tc.kind) {
					t.Fatalf("ResolveContainer(%q) = %v, want %v", tc.ref, err, tc.kind)
				}
				return
			}
			if err != nil || got.ID != tc.wantID {
				t.Fatalf("ResolveContainer(%q) = %s, %v; want %s", tc.ref, got.ID, err, tc.wantID)
			}
		})
	}

	// Name clash, duplicate id: refused, nothing written.
	err = db.Update(func(tx *Tx) error { return tx.CreateContainer(rec("new1", "web", 4)) })
	if !errors.Is(err, api.ErrAlreadyExists) {
		t.Fatalf("name clash: %v", err)
	}
	err = db.Update(func(tx *Tx) error { return tx.CreateContainer(rec("f00", "other", 4)) })
	if !errors.Is(err, api.ErrAlreadyExists) {
		t.Fatalf("id clash: %v", err)
	}

	// Update keeps the name; a rename through update is refused.
	err = db.Update(func(tx *Tx) error {
		r, err := tx.Container("f00")
		if err != nil {
			return err
		}
		r.State = api.StateRunning
		r.VM = []byte(`{"pid":42}`)
		return tx.UpdateContainer(r)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *Tx) error {
		r := rec("f00", "renamed", 2)
		return tx.UpdateContainer(r)
	})
	if !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("rename by update: %v", err)
	}

	// List is oldest first; delete frees the name.
	var list []ContainerRecord
	db.View(func(tx *Tx) (err error) { list, err = tx.Containers(); return err })
	if len(list) != 3 || list[0].Name != "db" || list[1].Name != "cache" || list[1].State != api.StateRunning ||
		string(list[1].VM) != `{"pid":42}` {
		t.Fatalf("list = %+v", list)
	}
	if err := db.Update(func(tx *Tx) error { return tx.DeleteContainer("abc111") }); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.CreateContainer(rec("new2", "web", 5)) }); err != nil {
		t.Fatalf("name not freed by delete: %v", err)
	}
	err = db.Update(func(tx *Tx) error { return tx.DeleteContainer("abc111") })
	if !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// TestMigrationV2 upgrades a v1 database and checks the container buckets.
func TestMigrationV2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := migrate(b, migrations[:1]); err != nil {
		t.Fatal(err)
	}
	from, to, err := migrate(b, migrations[:2])
	if err != nil || from != 1 || to != 2 {
		t.Fatalf("v1 -> v2: %d -> %d, %v", from, to, err)
	}
	b.View(func(tx *bolt.Tx) error {
		for _, name := range []string{bucketContainers, bucketContainerNames} {
			if tx.Bucket([]byte(name)) == nil {
				t.Errorf("bucket %s missing after v2", name)
			}
		}
		return nil
	})
	b.Close()
}

func TestRenameContainer(t *testing.T) {
	db, _ := openTemp(t)
	defer db.Close()
	if err := db.Update(func(tx *Tx) error {
		if err := tx.CreateContainer(rec("abc111", "web", 1)); err != nil {
			return err
		}
		return tx.CreateContainer(rec("abc222", "db", 2))
	}); err != nil {
		t.Fatal(err)
	}
	err := db.Update(func(tx *Tx) error { return tx.RenameContainer("abc111", "db") })
	if !errors.Is(err, api.ErrAlreadyExists) || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("rename onto a taken name: %v", err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.RenameContainer("abc111", "front") }); err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *Tx) error {
		if r, err := tx.ResolveContainer("front"); err != nil || r.ID != "abc111" || r.Name != "front" || r.Spec.Name != "front" {
			t.Errorf("resolve the new name: %+v, %v", r, err)
		}
		if _, err := tx.ResolveContainer("web"); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("the old name still resolves: %v", err)
		}
		return nil
	})
	// The old name is free again.
	if err := db.Update(func(tx *Tx) error { return tx.CreateContainer(rec("abc333", "web", 3)) }); err != nil {
		t.Fatalf("reuse the old name: %v", err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.RenameContainer("nope", "x") }); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("rename of a missing container: %v", err)
	}
}
