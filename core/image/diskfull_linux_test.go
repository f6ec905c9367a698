package image

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/berthvm/berth/core/image/registrytest"
	"github.com/berthvm/berth/core/internal/layertest"
	"github.com/berthvm/berth/core/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// fullHome is a data dir on a 3 MiB tmpfs, too small for bigImage, and
// a function that gives it room again.
func fullHome(t *testing.T) (home string, free func()) {
	testenv.Root(t)
	home = t.TempDir()
	if err := syscall.Mount("tmpfs", home, "tmpfs", 0, "size=3m"); err != nil {
		testenv.Missing(t, "cannot mount a tmpfs: "+err.Error())
	}
	t.Cleanup(func() { syscall.Unmount(home, 0) })
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	return home, func() {
		if err := syscall.Mount("tmpfs", home, "tmpfs", syscall.MS_REMOUNT, "size=64m"); err != nil {
			t.Fatal(err)
		}
	}
}

// bigImage has a 4 MiB layer that does not compress.
func bigImage(t *testing.T) v1.Image {
	big := make([]byte, 4<<20)
	rand.Read(big)
	return testImage(t, "linux/amd64", layertest.Tar(t, []layertest.File{{Name: "big", Body: string(big)}}))
}

// TestDiskFull fills a small tmpfs during a load: the error says so, the
// store is left as it was, and once there is room the same store loads.
func TestDiskFull(t *testing.T) {
	home, free := fullHome(t)
	s := openStore(t, home, nil)
	img := bigImage(t)
	dir := writeLayout(t, img)
	before := snap(t, s)
	_, err := s.Load(context.Background(), dir, LoadOptions{})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("err = %v, want ENOSPC naming %s", err, dir)
	}
	sameSnap(t, before, snap(t, s))
	free()
	if _, err := s.Load(context.Background(), dir, LoadOptions{}); err != nil {
		t.Fatalf("load once there is room: %v", err)
	}
	d, _ := img.Digest()
	if got, err := s.Get(context.Background(), d.String()); err != nil || got.Digest != d.String() {
		t.Fatalf("loaded image: %+v %v", got, err)
	}
}

// TestPullDiskFull fills a small tmpfs during a pull from a loopback
// registry: the error says the disk is full, nothing half-written stays,
// and once there is room the same store pulls the image.
func TestPullDiskFull(t *testing.T) {
	home, free := fullHome(t)
	reg := registrytest.Start(t, registrytest.Options{})
	img := bigImage(t)
	ref := reg.Host + "/berth/big:1"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, home, nil)
	before := snap(t, s)
	_, err := s.Pull(context.Background(), ref, PullOptions{Platform: "linux/amd64"})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v, want ENOSPC", err)
	}
	t.Logf("pull: %v", err)
	sameSnap(t, before, snap(t, s))
	free()
	got, err := s.Pull(context.Background(), ref, PullOptions{Platform: "linux/amd64"})
	if err != nil {
		t.Fatalf("pull once there is room: %v", err)
	}
	if d, _ := img.Digest(); got.Digest != d.String() {
		t.Fatalf("pulled %s, want %s", got.Digest, d)
	}
}
