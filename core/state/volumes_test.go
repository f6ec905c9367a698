package state

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	bolt "go.etcd.io/bbolt"
)

// TestMigrationV5Volumes upgrades a version-4 database holding a container
// and a network: the volume buckets appear and both records are kept.
func TestMigrationV5Volumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v5.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, to, err := migrate(b, migrations[:4]); err != nil || to != 4 {
		t.Fatalf("migrate to v4: to=%d err=%v", to, err)
	}
	if err := b.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte(bucketContainers)).Put([]byte("c1"), []byte(`{"id":"c1","name":"web"}`)); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketNetworks)).Put([]byte("n1"), []byte(`{"id":"n1","name":"app"}`))
	}); err != nil {
		t.Fatal(err)
	}
	if from, to, err := migrate(b, migrations[:5]); err != nil || from != 4 || to != 5 {
		t.Fatalf("migrate 4->5: from=%d to=%d err=%v", from, to, err)
	}
	b.View(func(tx *bolt.Tx) error {
		for _, name := range []string{bucketVolumes, bucketVolumeNames} {
			if tx.Bucket([]byte(name)) == nil {
				t.Errorf("bucket %s missing after v5", name)
			}
		}
		if tx.Bucket([]byte(bucketContainers)).Get([]byte("c1")) == nil || tx.Bucket([]byte(bucketNetworks)).Get([]byte("n1")) == nil {
			t.Error("records lost across v5")
		}
		return nil
	})
}

func volumeMount(name string) api.Mount {
	return api.Mount{Type: api.MountVolume, Source: name, Target: "/data"}
}

func TestVolumeRecords(t *testing.T) {
	db, _ := openTemp(t)
	defer db.Close()
	at := time.Unix(100, 0).UTC()
	for _, name := range []string{"data", "cache", "logs"} {
		rec := VolumeRecord{Volume: api.Volume{Name: name, Driver: "local", SizeBytes: 1 << 30, Created: at,
			UsedBy: []string{"stale"}}} // never stored
		if err := db.Update(func(tx *Tx) error { return tx.CreateVolume(rec) }); err != nil {
			t.Fatal(err)
		}
	}

	refused := []struct {
		name string
		rec  VolumeRecord
		kind error
	}{
		{"same name", VolumeRecord{Volume: api.Volume{Name: "data"}}, api.ErrAlreadyExists},
		{"same name in other case", VolumeRecord{Volume: api.Volume{Name: "Data"}}, api.ErrAlreadyExists},
		{"no name", VolumeRecord{}, api.ErrInvalidArgument},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if err := db.Update(func(tx *Tx) error { return tx.CreateVolume(tc.rec) }); !errors.Is(err, tc.kind) {
				t.Fatalf("CreateVolume(%q) = %v, want %v", tc.rec.Name, err, tc.kind)
			}
		})
	}

	// Users come from the containers' mounts: volume mounts by name only,
	// each container once however often it mounts the volume.
	ctrs := []ContainerRecord{
		{Container: api.Container{ID: "c1", Name: "worker", Created: at, Spec: api.ContainerSpec{
			Mounts: []api.Mount{volumeMount("data"), volumeMount("data"), {Type: api.MountBind, Source: "cache", Target: "/c"}}}}},
		{Container: api.Container{ID: "c2", Name: "web", Created: at.Add(time.Second), Spec: api.ContainerSpec{
			Mounts: []api.Mount{volumeMount("data"), {Type: api.MountTmpfs, Target: "/tmp"}}}}},
	}
	for _, c := range ctrs {
		if err := db.Update(func(tx *Tx) error { return tx.CreateContainer(c) }); err != nil {
			t.Fatal(err)
		}
	}
	db.View(func(tx *Tx) error {
		list, err := tx.Volumes()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, v := range list {
			names = append(names, v.Name)
		}
		if !reflect.DeepEqual(names, []string{"cache", "data", "logs"}) {
			t.Errorf("Volumes() in order %v, want by name", names)
		}
		v, err := tx.Volume("data")
		if err != nil || !reflect.DeepEqual(v.UsedBy, []string{"web", "worker"}) || v.SizeBytes != 1<<30 {
			t.Errorf("Volume(data) = %+v, %v; want used by web and worker", v, err)
		}
		if v, _ := tx.Volume("cache"); v.UsedBy != nil {
			t.Errorf("a bind mount of a path named cache uses volume cache: %v", v.UsedBy)
		}
		if _, err := tx.Volume("nope"); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("Volume(nope) = %v, want not found", err)
		}
		return nil
	})

	err := db.Update(func(tx *Tx) error { return tx.DeleteVolume("data") })
	var inUse *VolumeInUseError
	if !errors.As(err, &inUse) || !errors.Is(err, api.ErrConflict) || !reflect.DeepEqual(inUse.Containers, []string{"web", "worker"}) ||
		err.Error() != "volume is in use - [web, worker]" {
		t.Fatalf("DeleteVolume(data) in use = %v", err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.DeleteVolume("nope") }); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("DeleteVolume(nope) = %v", err)
	}
	// The last user gone, the volume goes, and its name (in any case) is free.
	if err := db.Update(func(tx *Tx) error {
		if err := tx.DeleteContainer("c1"); err != nil {
			return err
		}
		return tx.DeleteContainer("c2")
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.DeleteVolume("data") }); err != nil {
		t.Fatalf("DeleteVolume(data) unused = %v", err)
	}
	if err := db.Update(func(tx *Tx) error {
		return tx.CreateVolume(VolumeRecord{Volume: api.Volume{Name: "DATA", Driver: "local", Created: at}})
	}); err != nil {
		t.Fatalf("name not freed: %v", err)
	}
}
