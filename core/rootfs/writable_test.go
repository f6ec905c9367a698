package rootfs

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/internal/layertest"
	"github.com/berthvm/berth/core/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func allocated(t *testing.T, p string) int64 {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// testSize keeps tests quick: a 64 GiB template takes ~4 s to format once.
const testSize = 1 << 30

func TestCreateWritable(t *testing.T) {
	requireDebugfs(t)
	dir := t.TempDir()
	ctx := context.Background()
	a, b := filepath.Join(dir, "a.ext4"), filepath.Join(dir, "b.ext4")
	if err := CreateWritable(ctx, filepath.Join(dir, "templates"), a, testSize); err != nil {
		t.Fatal(err)
	}
	if err := CreateWritable(ctx, filepath.Join(dir, "templates"), b, testSize); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{a, b} {
		fsck(t, p)
		fi, _ := os.Stat(p)
		if fi.Size() != testSize {
			t.Fatalf("%s is %d bytes, want %d", p, fi.Size(), int64(testSize))
		}
		if n := allocated(t, p); n > 8<<20 {
			t.Fatalf("%s occupies %d bytes; a fresh writable disk must be sparse", p, n)
		}
	}
	if err := CreateWritable(ctx, filepath.Join(dir, "templates"), a, testSize); !errors.Is(err, api.ErrAlreadyExists) {
		t.Fatalf("overwrite: %v", err)
	}
	out, _ := exec.Command("dumpe2fs", "-h", a).CombinedOutput()
	if !strings.Contains(string(out), "Filesystem state:         clean") {
		t.Fatalf("dumpe2fs: %s", out)
	}
}

// TestOverlayContract mounts a base disk and a writable disk the way the
// guest agent does (kernel ext4 + overlayfs) and writes through them.
func TestOverlayContract(t *testing.T) {
	testenv.Root(t)
	testenv.Tool(t, "mount", "mount")
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		testenv.Missing(t, "no loop devices to mount disk images")
	}
	dir := t.TempDir()
	ctx := context.Background()
	base := filepath.Join(dir, "base.ext4")
	raws := layertest.Nasty(t)
	var layers []v1.Layer
	for _, r := range raws {
		layers = append(layers, layertest.Layer(t, r))
	}
	if err := BuildBase(ctx, layers, base, nil); err != nil {
		t.Fatal(err)
	}
	rw := filepath.Join(dir, "rw.ext4")
	if err := CreateWritable(ctx, filepath.Join(dir, "t"), rw, testSize); err != nil {
		t.Fatal(err)
	}
	lower, upperMnt, merged := filepath.Join(dir, "lower"), filepath.Join(dir, "rwmnt"), filepath.Join(dir, "merged")
	for _, d := range []string{lower, upperMnt, merged} {
		os.Mkdir(d, 0o755)
	}
	mount := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
			testenv.Missing(t, "mount "+string(out))
		}
	}
	mount("-o", "loop,ro", "-t", "ext4", base, lower)
	t.Cleanup(func() { exec.Command("umount", lower).Run() })
	mount("-o", "loop", "-t", "ext4", rw, upperMnt)
	t.Cleanup(func() { exec.Command("umount", upperMnt).Run() })
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(filepath.Join(upperMnt, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mount("-t", "overlay", "overlay", "-o", "lowerdir="+lower+",upperdir="+upperMnt+"/upper,workdir="+upperMnt+"/work", merged)
	t.Cleanup(func() { exec.Command("umount", merged).Run() })
	if b, err := os.ReadFile(filepath.Join(merged, "etc/passwd")); err != nil || !strings.Contains(string(b), "user:x:1000") {
		t.Fatalf("read through overlay: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(merged, "opq/old")); err == nil {
		t.Fatal("opaque dir leaks the lower file")
	}
	if err := os.WriteFile(filepath.Join(merged, "etc/new"), []byte("written in the container"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(merged, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{merged, upperMnt, lower} {
		if out, err := exec.Command("umount", m).CombinedOutput(); err != nil {
			t.Fatalf("umount %s: %s", m, out)
		}
	}
	fsck(t, rw)
	fsck(t, base)
}
