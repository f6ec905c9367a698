package guest

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/archive"
)

// TestArchiveOps runs cp's three operations against a server on this
// host, through the host's own client: a container whose root is a
// temporary directory.
func TestArchiveOps(t *testing.T) {
	h := newHarness(t, ServerOptions{})
	c := h.connect()
	if !c.Info().Has(proto.FeatureArchive) {
		t.Fatal("the archive feature is not announced")
	}
	root := t.TempDir()
	if err := c.CreateContainer(ctx(t), proto.ContainerConfig{ID: "box", Rootfs: root}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "srv/web"), 0o750)
	os.WriteFile(filepath.Join(root, "srv/web/index.html"), []byte("hello"), 0o640)
	os.Symlink("/srv/web", filepath.Join(root, "www"))
	big := make([]byte, 3*proto.Window+12345) // several windows: it must stream
	rand.Read(big)
	os.WriteFile(filepath.Join(root, "big"), big, 0o600)

	t.Run("stat", func(t *testing.T) {
		st, err := c.StatPath(ctx(t), "box", "/www")
		if err != nil || st.Name != "www" || st.Mode&fs.ModeSymlink == 0 || st.LinkTarget != "/srv/web" {
			t.Fatalf("stat /www = %+v, %v", st, err)
		}
		if _, err := c.StatPath(ctx(t), "box", "/nope"); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("stat of a missing path: %v", err)
		}
		if _, err := c.StatPath(ctx(t), "ghost", "/"); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("stat in a missing container: %v", err)
		}
	})
	t.Run("out", func(t *testing.T) {
		r, err := c.ArchiveOut(ctx(t), "box", "/www/")
		if err != nil {
			t.Fatal(err)
		}
		dst := t.TempDir()
		if err := archive.Extract(r, dst, "/", archive.ExtractOptions{}); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if b, _ := os.ReadFile(filepath.Join(dst, "www/index.html")); string(b) != "hello" {
			t.Fatalf("index.html = %q", b)
		}
		if fi, _ := os.Stat(filepath.Join(dst, "www")); fi.Mode().Perm() != 0o750 {
			t.Fatalf("mode %v", fi.Mode())
		}
		r, _ = c.ArchiveOut(ctx(t), "box", "/big")
		if err := archive.Extract(r, dst, "/", archive.ExtractOptions{}); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(dst, "big")); !bytes.Equal(b, big) {
			t.Fatalf("big file: %d bytes, not the same", len(b))
		}
	})
	t.Run("out of a missing path fails at the end of the stream", func(t *testing.T) {
		r, _ := c.ArchiveOut(ctx(t), "box", "/nope")
		_, err := io.ReadAll(r)
		if !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("read: %v", err)
		}
	})
	t.Run("out closed early", func(t *testing.T) {
		r, _ := c.ArchiveOut(ctx(t), "box", "/big")
		buf := make([]byte, 1000)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
		r.Close()
		// The session is still good.
		if _, err := c.StatPath(ctx(t), "box", "/big"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("in", func(t *testing.T) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "new/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 12, Gid: 34})
		tw.WriteHeader(&tar.Header{Name: "new/big", Typeflag: tar.TypeReg, Mode: 0o604, Size: int64(len(big))})
		tw.Write(big)
		tw.Close()
		if err := c.ArchiveIn(ctx(t), "box", "/www", &buf, true); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(root, "srv/web/new/big")); !bytes.Equal(b, big) {
			t.Fatal("big file not extracted whole")
		}
		if fi, _ := os.Stat(filepath.Join(root, "srv/web/new")); fi.Mode().Perm() != 0o700 {
			t.Fatalf("mode %v", fi.Mode())
		}
	})
	t.Run("in refuses an escape", func(t *testing.T) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "../../../escaped", Typeflag: tar.TypeReg, Mode: 0o644})
		tw.Close()
		err := c.ArchiveIn(ctx(t), "box", "/srv", &buf, true)
		if !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), "outside") {
			t.Fatalf("extract ../: %v", err)
		}
	})
	t.Run("in to a missing directory", func(t *testing.T) {
		err := c.ArchiveIn(ctx(t), "box", "/nope", strings.NewReader(""), true)
		if !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("extract into /nope: %v", err)
		}
	})
	t.Run("in with a source that fails", func(t *testing.T) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "first", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
		tw.Write([]byte("1"))
		tw.Flush() // a whole first entry, then the source breaks
		src := io.MultiReader(&buf, failing{})
		err := c.ArchiveIn(ctx(t), "box", "/", src, true)
		if err == nil || !strings.Contains(err.Error(), "source broke") {
			t.Fatalf("extract from a failing source: %v", err)
		}
		if _, err := c.StatPath(ctx(t), "box", "/"); err != nil {
			t.Fatal(err)
		}
	})
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("source broke") }
