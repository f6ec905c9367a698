package state

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/berthvm/berth/core/api"
	bolt "go.etcd.io/bbolt"
)

func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "berth.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db, path
}

func TestOpenFreshAndReopen(t *testing.T) {
	db, path := openTemp(t)
	var first Meta
	if err := db.View(func(tx *Tx) (err error) { first, err = tx.Meta(); return err }); err != nil {
		t.Fatal(err)
	}
	if first.SchemaVersion != SchemaVersion() || len(first.HostID) != 32 || first.Created.IsZero() {
		t.Fatalf("fresh meta = %+v", first)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var again Meta
	if err := db.View(func(tx *Tx) (err error) { again, err = tx.Meta(); return err }); err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatalf("meta changed across reopen: %+v then %+v", first, again)
	}
}

func TestSecondOwnerFailsFast(t *testing.T) {
	db, path := openTemp(t)
	defer db.Close()
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrLocked) || !errors.Is(err, api.ErrUnavailable) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func TestCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.db")
	junk := make([]byte, 8192)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	if !errors.Is(err, api.ErrCorrupt) {
		t.Fatalf("open of junk: %v, want ErrCorrupt", err)
	}
}

func TestSettings(t *testing.T) {
	db, _ := openTemp(t)
	defer db.Close()
	type kernel struct{ Path string }
	if err := db.Update(func(tx *Tx) error { return tx.SetSetting("kernel", kernel{"/k"}) }); err != nil {
		t.Fatal(err)
	}
	var got kernel
	if err := db.View(func(tx *Tx) error { return tx.Setting("kernel", &got) }); err != nil || got.Path != "/k" {
		t.Fatalf("setting = %+v, %v", got, err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.DeleteSetting("kernel") }); err != nil {
		t.Fatal(err)
	}
	err := db.View(func(tx *Tx) error { return tx.Setting("kernel", &got) })
	if !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("deleted setting: %v, want ErrNotFound", err)
	}
}

// TestMigrations checks the mechanism with a synthetic list: each step runs
// once, in order, in its own transaction, and a failing step rolls back.
func TestMigrations(t *testing.T) {
	var ran []int
	step := func(v int, fail bool) migration {
		return migration{v, "step", func(tx *bolt.Tx) error {
			if fail {
				// Write something first: the rollback must drop it.
				if _, err := tx.CreateBucketIfNotExists([]byte("half")); err != nil {
					return err
				}
				return errors.New("boom")
			}
			ran = append(ran, v)
			_, err := tx.CreateBucketIfNotExists([]byte{byte('a' + v)})
			return err
		}}
	}
	cases := []struct {
		name     string
		start    []migration // applied first
		then     []migration
		wantRan  []int
		wantVer  int
		wantErr  bool
		errCheck func(error) bool
	}{
		{name: "fresh applies all", then: []migration{step(1, false), step(2, false), step(3, false)},
			wantRan: []int{1, 2, 3}, wantVer: 3},
		{name: "only newer steps", start: []migration{step(1, false)},
			then:    []migration{step(1, false), step(2, false)},
			wantRan: []int{1, 2}, wantVer: 2},
		{name: "failure rolls back that step", then: []migration{step(1, false), step(2, true), step(3, false)},
			wantRan: []int{1}, wantVer: 1, wantErr: true},
		{name: "newer schema refused", start: []migration{step(1, false), step(2, false)},
			then: []migration{step(1, false)}, wantRan: []int{1, 2}, wantVer: 2, wantErr: true,
			errCheck: func(err error) bool { return errors.Is(err, api.ErrUnsupported) }},
		{name: "gap refused", then: []migration{step(1, false), step(3, false)},
			wantVer: 0, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ran = nil
			path := filepath.Join(t.TempDir(), "m.db")
			b, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if tc.start != nil {
				if _, _, err := migrate(b, tc.start); err != nil {
					t.Fatal(err)
				}
			}
			_, to, err := migrate(b, tc.then)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.errCheck != nil && !tc.errCheck(err) {
				t.Fatalf("err = %v has the wrong kind", err)
			}
			var ver int
			b.View(func(tx *bolt.Tx) (err error) { ver, err = readVersion(tx); return err })
			if ver != tc.wantVer {
				t.Fatalf("stored version %d, want %d (migrate said %d)", ver, tc.wantVer, to)
			}
			if len(ran) != len(tc.wantRan) {
				t.Fatalf("ran %v, want %v", ran, tc.wantRan)
			}
			for i := range ran {
				if ran[i] != tc.wantRan[i] {
					t.Fatalf("ran %v, want %v", ran, tc.wantRan)
				}
			}
			b.View(func(tx *bolt.Tx) error {
				if tx.Bucket([]byte("half")) != nil {
					t.Fatal("failed migration left its writes behind")
				}
				return nil
			})
		})
	}
}

// TestMigrationV1 checks the real first migration on an empty database.
func TestMigrationV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, to, err := migrate(b, migrations[:1]); err != nil || to != 1 {
		t.Fatalf("migrate to v1: to=%d err=%v", to, err)
	}
	b.View(func(tx *bolt.Tx) error {
		for _, name := range []string{bucketMeta, bucketSettings} {
			if tx.Bucket([]byte(name)) == nil {
				t.Errorf("bucket %s missing after v1", name)
			}
		}
		if len(tx.Bucket([]byte(bucketMeta)).Get([]byte(keyHostID))) != 32 {
			t.Error("host id missing after v1")
		}
		return nil
	})
}
