package state

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	bolt "go.etcd.io/bbolt"
)

// TestMigrationV4Networks upgrades a version-3 database holding a container:
// the network buckets appear and the container is kept.
func TestMigrationV4Networks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v4.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, to, err := migrate(b, migrations[:3]); err != nil || to != 3 {
		t.Fatalf("migrate to v3: to=%d err=%v", to, err)
	}
	if err := b.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketContainers)).Put([]byte("c1"), []byte(`{"id":"c1","name":"web"}`))
	}); err != nil {
		t.Fatal(err)
	}
	if from, to, err := migrate(b, migrations[:4]); err != nil || from != 3 || to != 4 {
		t.Fatalf("migrate 3->4: from=%d to=%d err=%v", from, to, err)
	}
	b.View(func(tx *bolt.Tx) error {
		for _, name := range []string{bucketNetworks, bucketNetworkNames} {
			if tx.Bucket([]byte(name)) == nil {
				t.Errorf("bucket %s missing after v4", name)
			}
		}
		if tx.Bucket([]byte(bucketContainers)).Get([]byte("c1")) == nil {
			t.Error("container lost across v4")
		}
		return nil
	})
	b.Close()
}

func TestNetworkRecords(t *testing.T) {
	db, _ := openTemp(t)
	defer db.Close()
	n := NetworkRecord{Network: api.Network{ID: "n1abc", Name: "app", Driver: "user", Subnet: "10.89.1.0/24",
		Gateway: "10.89.1.1", Created: time.Unix(100, 0).UTC()}}
	if err := db.Update(func(tx *Tx) error { return tx.CreateNetwork(n) }); err != nil {
		t.Fatal(err)
	}
	dup := n
	dup.ID = "n2"
	if err := db.Update(func(tx *Tx) error { return tx.CreateNetwork(dup) }); !errors.Is(err, api.ErrAlreadyExists) {
		t.Fatalf("a second network named app: %v", err)
	}
	db.View(func(tx *Tx) error {
		for _, ref := range []string{"n1abc", "app", "n1"} {
			got, err := tx.ResolveNetwork(ref)
			if err != nil || got.Name != "app" || got.Subnet != "10.89.1.0/24" {
				t.Errorf("ResolveNetwork(%q) = %+v, %v", ref, got, err)
			}
		}
		if _, err := tx.ResolveNetwork("nope"); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("missing network: %v", err)
		}
		return nil
	})
	n.Internal = true
	if err := db.Update(func(tx *Tx) error { return tx.UpdateNetwork(n) }); err != nil {
		t.Fatal(err)
	}
	renamed := n
	renamed.Name = "other"
	if err := db.Update(func(tx *Tx) error { return tx.UpdateNetwork(renamed) }); !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("rename through update: %v", err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.DeleteNetwork("n1abc") }); err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *Tx) error {
		if list, err := tx.Networks(); err != nil || len(list) != 0 {
			t.Errorf("after delete: %v, %v", list, err)
		}
		if _, err := tx.ResolveNetwork("app"); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("name kept after delete: %v", err)
		}
		return nil
	})
}
