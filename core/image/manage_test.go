package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/internal/layertest"
)

// fakeRuntime says which images containers use.
type fakeRuntime struct {
	mu    sync.Mutex
	using map[string][]string
}

func (f *fakeRuntime) inUse(_ context.Context, digest string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.using[digest], nil
}

func TestTagRemovePrune(t *testing.T) {
	rt := &fakeRuntime{using: map[string][]string{}}
	s, _ := newStore(t, rt.inUse)
	ctx := context.Background()
	shared := layertest.Tar(t, []layertest.File{{Name: "shared", Body: strings.Repeat("s", 3000)}})
	a := loadImage(t, s, testImage(t, "linux/amd64", shared, layertest.Tar(t, []layertest.File{{Name: "a", Body: "a"}})), "example.com/a:1")
	b := loadImage(t, s, testImage(t, "linux/amd64", shared, layertest.Tar(t, []layertest.File{{Name: "b", Body: "b"}})), "example.com/b:1")
	blobs := func() int { e, _ := os.ReadDir(s.blobs); return len(e) }
	if n := blobs(); n != 7 { // 2 manifests, 2 configs, 3 distinct layers
		t.Fatalf("%d blobs, want 7 (the shared layer stored once)", n)
	}

	if err := s.Tag(ctx, "example.com/a:1", "a2"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "docker.io/library/a2:latest")
	if err != nil || got.Digest != a.Digest {
		t.Fatalf("tagged image: %+v, %v", got, err)
	}
	// By id prefix, with several names: refused without force.
	if _, err := s.Remove(ctx, a.Digest[7:19], false); !errors.Is(err, api.ErrConflict) {
		t.Fatalf("rm by id with two names: %v", err)
	}
	// By name: only the name goes while another remains.
	res, err := s.Remove(ctx, "a2", false)
	if err != nil || len(res.Deleted) != 0 || len(res.Untagged) != 1 {
		t.Fatalf("rm a2 = %+v, %v", res, err)
	}
	// In use: refused, then forced.
	rt.using[a.Digest] = []string{"web"}
	_, err = s.Remove(ctx, "example.com/a:1", false)
	if !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "web") {
		t.Fatalf("rm in-use image: %v", err)
	}
	res, err = s.Remove(ctx, "example.com/a:1", true)
	if err != nil || len(res.Deleted) != 1 {
		t.Fatalf("rm -f = %+v, %v", res, err)
	}
	// Its disk stays while the container runs; its own blobs are gone.
	if _, err := os.Stat(s.DiskPath(a.Digest)); err != nil {
		t.Fatalf("disk of a running container removed: %v", err)
	}
	if n := blobs(); n != 4 {
		t.Fatalf("%d blobs after rm, want 4 (b's)", n)
	}
	if _, err := s.Get(ctx, "example.com/a:1"); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "berth image pull") {
		t.Fatalf("removed image: %v", err)
	}
	delete(rt.using, a.Digest)

	// Prune: b is named, so plain prune keeps it but drops a's disk.
	pr, err := s.Prune(ctx, false)
	if err != nil || len(pr.Deleted) != 0 || pr.Disks != 1 {
		t.Fatalf("prune = %+v, %v", pr, err)
	}
	rt.using[b.Digest] = []string{"db"}
	if pr, err = s.Prune(ctx, true); err != nil || len(pr.Deleted) != 0 {
		t.Fatalf("prune -a with b in use = %+v, %v", pr, err)
	}
	delete(rt.using, b.Digest)
	// A filter that accepts nothing keeps b; the filter sees b's summary.
	var seen []string
	if pr, err = s.PruneFunc(ctx, true, func(im api.Image, _ api.ImageConfig) bool {
		seen = append(seen, im.Names...)
		return false
	}); err != nil || len(pr.Deleted) != 0 || len(seen) != 1 {
		t.Fatalf("prune -a matching nothing = %+v, %v (saw %v)", pr, err, seen)
	}
	if pr, err = s.Prune(ctx, true); err != nil || len(pr.Deleted) != 1 || pr.Blobs != 4 || pr.Reclaimed == 0 ||
		strings.Join(pr.Untagged, ",") != strings.Join(seen, ",") {
		t.Fatalf("prune -a = %+v, %v", pr, err)
	}
	if n := blobs(); n != 0 {
		t.Fatalf("%d blobs after prune -a", n)
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Fatalf("images after prune -a: %+v", list)
	}
}

// TestOpenCleansInterruptedWork: temp files and unreferenced blobs and
// disks that a crash left are gone after Open; recorded images survive.
func TestOpenCleansInterruptedWork(t *testing.T) {
	s, home := newStore(t, nil)
	keep := loadImage(t, s, testImage(t, "linux/amd64", busyboxLayer(t)), "example.com/keep:1")
	orphan := filepath.Join(s.blobs, strings.Repeat("c", 64))
	os.WriteFile(orphan, []byte("complete but unreferenced"), 0o644)
	os.WriteFile(filepath.Join(s.tmp, "blob-123"), []byte("half"), 0o644)
	os.WriteFile(filepath.Join(s.disks, ".tmp-x.ext4-1"), []byte("half"), 0o644)
	os.WriteFile(filepath.Join(s.disks, strings.Repeat("d", 64)+".ext4"), []byte("orphan disk"), 0o644)
	os.WriteFile(filepath.Join(s.disks, "writable-1073741824.ext4"), []byte("not a base disk"), 0o644)
	s.db.Close()

	s2 := openStore(t, home, nil)
	sn := snap(t, s2)
	if len(sn.Tmp) != 0 || len(sn.Disks) != 2 || len(sn.Images) != 1 {
		t.Fatalf("after reopen: %+v", sn)
	}
	if _, err := os.Stat(orphan); err == nil {
		t.Fatal("orphan blob survived Open")
	}
	if _, err := s2.Inspect(context.Background(), "example.com/keep:1"); err != nil {
		t.Fatalf("recorded image lost: %v", err)
	}
	if _, err := os.Stat(s2.DiskPath(keep.Digest)); err != nil {
		t.Fatalf("its disk lost: %v", err)
	}
	// The layout's index.json lists it, so other tools can read the store.
	raw, _ := os.ReadFile(filepath.Join(home, "content", "index.json"))
	if !strings.Contains(string(raw), keep.Digest) || !strings.Contains(string(raw), "example.com/keep:1") {
		t.Fatalf("index.json = %s", raw)
	}
}

func TestCanceledLoadLeavesNothing(t *testing.T) {
	s, _ := newStore(t, nil)
	img, _ := nastyImage(t)
	dir := writeLayout(t, img)
	before := snap(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Load(ctx, dir, LoadOptions{})
	if !errors.Is(err, api.ErrCanceled) {
		t.Fatalf("canceled load: %v", err)
	}
	sameSnap(t, before, snap(t, s))
}
