package image

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/internal/ext4dump"
	"github.com/berthvm/berth/core/internal/layertest"
	"github.com/berthvm/berth/core/state"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// newStore opens a store in a fresh home, with the user's docker config
// out of reach and quick retries.
func newStore(t *testing.T, inUse InUseFunc) (*Store, string) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	return openStore(t, home, inUse), home
}

func openDB(home string) (*state.DB, error) {
	return state.Open(filepath.Join(home, "berth.db"), state.Options{})
}

func openStore(t *testing.T, home string, inUse InUseFunc) *Store {
	t.Helper()
	db, err := openDB(home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := Open(context.Background(), Options{Home: home, DB: db, InUse: inUse,
		Backoff: remote.Backoff{Duration: 10 * time.Millisecond, Factor: 2, Steps: 3}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testImage builds an OCI image from layer tars, for platform.
func testImage(t testing.TB, platform string, layers ...[]byte) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, raw := range layers {
		var err error
		if img, err = mutate.AppendLayers(img, layertest.Layer(t, raw)); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	p, _ := v1.ParsePlatform(platform)
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config.Cmd = []string{"sh"}
	cf.Config.Env = []string{"PATH=/bin"}
	cf.Created = v1.Time{Time: time.Unix(1700000000, 0).UTC()}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// busyboxLayer is Debian's busybox-static with a few applet links, when
// installed; a small shell script stands in otherwise.
func busyboxLayer(t testing.TB) []byte {
	body := "#!/bin/sh\necho busybox stand-in\n"
	if b, err := os.ReadFile("/bin/busybox"); err == nil {
		body = string(b)
	}
	files := []layertest.File{
		{Name: "bin/", Typ: '5', Mode: 0o755},
		{Name: "bin/busybox", Body: body, Mode: 0o755},
	}
	for _, applet := range []string{"sh", "ls", "cat", "echo"} {
		files = append(files, layertest.File{Name: "bin/" + applet, Typ: '2', Link: "busybox"})
	}
	return layertest.Tar(t, files)
}

func nastyImage(t testing.TB) (v1.Image, [][]byte) {
	raws := append([][]byte{busyboxLayer(t)}, layertest.Nasty(t)...)
	return testImage(t, "linux/amd64", raws...), raws
}

// checkDisk compares the image's base disk with its layers applied.
func checkDisk(t *testing.T, s *Store, digest string, raws [][]byte) {
	t.Helper()
	var rs []io.Reader
	for _, r := range raws {
		rs = append(rs, bytes.NewReader(r))
	}
	want, err := ext4dump.Apply(rs...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ext4dump.ReadDisk(s.DiskPath(digest))
	if err != nil {
		t.Fatal(err)
	}
	if diffs := ext4dump.Compare(want, got); len(diffs) > 0 {
		t.Fatalf("base disk of %s differs from its layers:\n%s", digest, strings.Join(diffs, "\n"))
	}
}

// snapshot is everything a failed operation must leave as it was.
type snapshot struct {
	Blobs, Disks, Tmp []string
	Images            []state.Image
	Names             []state.ImageName
}

func snap(t *testing.T, s *Store) snapshot {
	t.Helper()
	ls := func(dir string) []string {
		var out []string
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			out = append(out, e.Name())
		}
		sort.Strings(out)
		return out
	}
	sn := snapshot{Blobs: ls(s.blobs), Disks: ls(s.disks), Tmp: ls(s.tmp)}
	s.db.View(func(tx *state.Tx) (err error) {
		if sn.Images, err = tx.Images(); err != nil {
			return err
		}
		sn.Names, err = tx.ImageNames()
		return err
	})
	return sn
}

func sameSnap(t *testing.T, before, after snapshot) {
	t.Helper()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("store changed:\nbefore %+v\nafter  %+v", before, after)
	}
}
