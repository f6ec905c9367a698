package image

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/berthvm/berth/core/internal/layertest"
	"github.com/berthvm/berth/core/testenv"
)

// TestDiskFull fills a small tmpfs during a load: the error says so and
// the store is left as it was.
func TestDiskFull(t *testing.T) {
	testenv.Root(t)
	home := t.TempDir()
	if err := syscall.Mount("tmpfs", home, "tmpfs", 0, "size=3m"); err != nil {
		testenv.Missing(t, "cannot mount a tmpfs: "+err.Error())
	}
	t.Cleanup(func() { syscall.Unmount(home, 0) })
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	s := openStore(t, home, nil)
	big := make([]byte, 4<<20)
	rand.Read(big)
	img := testImage(t, "linux/amd64", layertest.Tar(t, []layertest.File{{Name: "big", Body: string(big)}}))
	dir := writeLayout(t, img)
	before := snap(t, s)
	_, err := s.Load(context.Background(), dir, LoadOptions{})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("err = %v, want ENOSPC naming %s", err, dir)
	}
	sameSnap(t, before, snap(t, s))
}
