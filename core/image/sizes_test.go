package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/internal/layertest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// rewriteManifest changes the manifest of the one image of an OCI layout
// dir with edit, stores the result and points the index at it.
func rewriteManifest(t *testing.T, dir string, edit func(*v1.Manifest)) {
	t.Helper()
	var idx v1.IndexManifest
	raw, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	mraw, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", idx.Manifests[0].Digest.Hex))
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(mraw))
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	mraw, _ = json.Marshal(m)
	d := digestOf(mraw)
	os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Hex), mraw, 0o644)
	idx.Manifests[0].Digest, idx.Manifests[0].Size = d, int64(len(mraw))
	raw, _ = json.Marshal(idx)
	os.WriteFile(filepath.Join(dir, "index.json"), raw, 0o644)
}

// tarDir packs an OCI layout dir into an OCI archive.
func tarDir(t *testing.T, dir string) string {
	t.Helper()
	files := map[string][]byte{}
	var order []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, _ := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = b
		order = append(order, filepath.ToSlash(rel))
		return nil
	})
	out := filepath.Join(t.TempDir(), "oci.tar")
	writeTar(t, out, files, order...)
	return out
}

// A descriptor's size is the blob's: a negative one, or one that is not
// the content's (2^50 for a layer of a few KB), is refused at load, and
// the store stays as it was.
func TestLoadDescriptorSizes(t *testing.T) {
	small := testImage(t, "linux/amd64", layertest.Tar(t, []layertest.File{{Name: "f", Body: strings.Repeat("data", 5000)}}))
	for _, tc := range []struct {
		name string
		edit func(*v1.Manifest)
		says string
	}{
		{"huge layer", func(m *v1.Manifest) { m.Layers[0].Size = 1 << 50 }, "1125899906842624"},
		{"negative layer", func(m *v1.Manifest) { m.Layers[0].Size = -5 }, "negative size"},
		{"negative config", func(m *v1.Manifest) { m.Config.Size = -1 }, "negative size"},
		{"config too big", func(m *v1.Manifest) { m.Config.Size += 10 }, "bytes"},
	} {
		for _, packed := range []bool{false, true} {
			name := tc.name + " dir"
			if packed {
				name = tc.name + " archive"
			}
			t.Run(name, func(t *testing.T) {
				dir := writeLayout(t, small)
				rewriteManifest(t, dir, tc.edit)
				p := dir
				if packed {
					p = tarDir(t, dir)
				}
				s, _ := newStore(t, nil)
				loadImage(t, s, testImage(t, "linux/amd64", busyboxLayer(t)), "example.com/keep:1")
				before := snap(t, s)
				_, err := s.Load(context.Background(), p, LoadOptions{})
				if !errors.Is(err, api.ErrCorrupt) || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("load: %v; want corrupt, saying %q", err, tc.says)
				}
				sameSnap(t, before, snap(t, s))
			})
		}
	}
	// The index's size of a manifest too.
	dir := writeLayout(t, small)
	var idx v1.IndexManifest
	raw, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	json.Unmarshal(raw, &idx)
	idx.Manifests[0].Size = 1 << 50
	raw, _ = json.Marshal(idx)
	os.WriteFile(filepath.Join(dir, "index.json"), raw, 0o644)
	s, _ := newStore(t, nil)
	if _, err := s.Load(context.Background(), tarDir(t, dir), LoadOptions{}); !errors.Is(err, api.ErrCorrupt) {
		t.Fatalf("manifest size 2^50 in the index: %v; want corrupt", err)
	}
}

// An archive's entries that no manifest names (a stray file, possibly
// huge) do not stay in the content store once the load is done.
func TestLoadKeepsOnlyReferencedBlobs(t *testing.T) {
	src, _ := newStore(t, nil)
	small := testImage(t, "linux/amd64", layertest.Tar(t, []layertest.File{{Name: "f", Body: strings.Repeat("data", 5000)}}))
	loadImage(t, src, small, "example.com/small:1")
	var saved bytes.Buffer
	if err := src.Save(context.Background(), &saved, "example.com/small:1"); err != nil {
		t.Fatal(err)
	}
	// The saved archive, then one more entry nothing refers to.
	trimmed := saved.Bytes()[:saved.Len()-1024] // drop the two zero blocks that end a tar
	var extra bytes.Buffer
	tw := tar.NewWriter(&extra)
	junk := bytes.Repeat([]byte("junk"), 64<<10)
	tw.WriteHeader(&tar.Header{Name: "stray/junk.bin", Mode: 0o644, Size: int64(len(junk)), Typeflag: tar.TypeReg})
	tw.Write(junk)
	tw.Close()
	p := filepath.Join(t.TempDir(), "extra.tar")
	os.WriteFile(p, append(append([]byte{}, trimmed...), extra.Bytes()...), 0o644)

	s, _ := newStore(t, nil)
	if _, err := s.Load(context.Background(), p, LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	junkDigest, _, _ := v1.SHA256(bytes.NewReader(junk))
	if s.hasBlob(junkDigest) {
		t.Fatalf("the stray entry %s stays in the content store after the load", junkDigest)
	}
	s.mu.Lock()
	keep, err := s.referencedLocked()
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(s.blobs)
	for _, e := range entries {
		if !keep["sha256:"+e.Name()] {
			t.Errorf("blob %s is stored but no image references it", e.Name())
		}
	}
}

// A layer that unpacks past the store's bound (a few KB of gzip that
// expand to much more) fails the load, naming the layer and the limit,
// before it fills the disk; the store stays as it was.
func TestLoadUnpackLimit(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	db, err := openDB(home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := Open(context.Background(), Options{Home: home, DB: db, MaxUnpacked: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	loadImage(t, s, testImage(t, "linux/amd64", busyboxLayer(t)), "example.com/keep:1")
	before := snap(t, s)
	bomb := testImage(t, "linux/amd64", layertest.Tar(t, []layertest.File{{Name: "zeros", Body: strings.Repeat("\x00", 16<<20)}}))
	m, _ := bomb.Manifest()
	if m.Layers[0].Size > 1<<20 {
		t.Fatalf("the test layer is %d bytes compressed; want a small one", m.Layers[0].Size)
	}
	_, err = s.Load(context.Background(), writeLayout(t, bomb), LoadOptions{})
	if !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), m.Layers[0].Digest.String()) ||
		!strings.Contains(err.Error(), "unpacks past 4.19MB") {
		t.Fatalf("load: %v; want the layer named and the limit", err)
	}
	sameSnap(t, before, snap(t, s))
}

// A named pipe given as the path is refused at once: opening it would
// block the daemon's handler until a writer came, with no way to cancel.
func TestLoadRefusesNamedPipe(t *testing.T) {
	s, _ := newStore(t, nil)
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Load(context.Background(), fifo, LoadOptions{}); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), "named pipe") || !strings.Contains(err.Error(), fifo) {
			t.Fatalf("load of a named pipe: %v", err)
		}
	case <-time.After(5 * time.Second):
		// Unblock the open so the test ends.
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("load of a named pipe is still waiting after 5s")
	}
}
