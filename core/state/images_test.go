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

// TestMigrationV3Images upgrades a version-2 database that already holds
// a user setting: the image buckets appear and nothing older is lost.
func TestMigrationV3Images(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v3.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, to, err := migrate(b, migrations[:2]); err != nil || to != 2 {
		t.Fatalf("migrate to v2: to=%d err=%v", to, err)
	}
	if err := b.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketSettings)).Put([]byte("kernel"), []byte(`"/k"`))
	}); err != nil {
		t.Fatal(err)
	}
	if from, to, err := migrate(b, migrations[:3]); err != nil || from != 2 || to != 3 {
		t.Fatalf("migrate 2->3: from=%d to=%d err=%v", from, to, err)
	}
	b.View(func(tx *bolt.Tx) error {
		for _, name := range []string{bucketImages, bucketImageNames} {
			if tx.Bucket([]byte(name)) == nil {
				t.Errorf("bucket %s missing after v3", name)
			}
		}
		if got := string(tx.Bucket([]byte(bucketSettings)).Get([]byte("kernel"))); got != `"/k"` {
			t.Errorf("setting lost across v3: %q", got)
		}
		return nil
	})
	b.Close()
}

func TestImageRecords(t *testing.T) {
	db, _ := openTemp(t)
	defer db.Close()
	im := Image{Digest: "sha256:aa", ConfigDigest: "sha256:cc", Platform: "linux/amd64", Size: 42,
		RepoDigests: []string{"r@sha256:ii"}, Added: time.Unix(100, 0).UTC()}

	err := db.Update(func(tx *Tx) error {
		return tx.PutImageName(ImageName{Name: "docker.io/library/x:1", Digest: im.Digest})
	})
	if !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("name for a missing image: %v, want ErrNotFound", err)
	}
	if err := db.Update(func(tx *Tx) error {
		if err := tx.PutImage(im); err != nil {
			return err
		}
		for _, n := range []string{"docker.io/library/x:1", "docker.io/library/x:latest"} {
			if err := tx.PutImageName(ImageName{Name: n, Digest: im.Digest}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *Tx) error {
		got, err := tx.Image(im.Digest)
		if err != nil || !reflect.DeepEqual(got, im) {
			t.Errorf("Image = %+v, %v; want %+v", got, err, im)
		}
		names, err := tx.NamesOf(im.Digest)
		if err != nil || !reflect.DeepEqual(names, []string{"docker.io/library/x:1", "docker.io/library/x:latest"}) {
			t.Errorf("NamesOf = %v, %v", names, err)
		}
		all, err := tx.Images()
		if err != nil || len(all) != 1 {
			t.Errorf("Images = %v, %v", all, err)
		}
		return nil
	})
	if err := db.Update(func(tx *Tx) error {
		if err := tx.DeleteImageName("docker.io/library/x:1"); err != nil {
			return err
		}
		return tx.DeleteImage(im.Digest)
	}); err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *Tx) error {
		if _, err := tx.Image(im.Digest); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("deleted image: %v", err)
		}
		if _, err := tx.ImageName("docker.io/library/x:1"); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("deleted name: %v", err)
		}
		if err := tx.PutImage(Image{}); !errors.Is(err, api.ErrInvalidArgument) {
			t.Errorf("empty record: %v", err)
		}
		return nil
	})
}
