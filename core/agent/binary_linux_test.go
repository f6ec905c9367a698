package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

func TestBinaryPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(BinaryDirVar, dir)
	_, err := BinaryPath("arm64")
	if !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "make agent") {
		t.Fatalf("missing: %v", err)
	}
	want := filepath.Join(dir, "berth-agent-linux-arm64")
	os.WriteFile(want, []byte("x"), 0o755)
	if got, err := BinaryPath("arm64"); err != nil || got != want {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestConnectRetriesDial(t *testing.T) {
	h := newHarness(t, ServerOptions{})
	tries := 0
	dial := func(context.Context) (io.ReadWriteCloser, error) {
		tries++
		if tries < 3 {
			return nil, errors.New("no such socket yet")
		}
		a, b := net.Pipe()
		go h.srv.Serve(b)
		return a, nil
	}
	c, err := Connect(ctx(t), dial)
	if err != nil || tries != 3 {
		t.Fatalf("Connect: %v after %d tries", err, tries)
	}
	c.Close()
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = Connect(cctx, func(context.Context) (io.ReadWriteCloser, error) { return nil, errors.New("down") })
	if !errors.Is(err, api.ErrCanceled) || !strings.Contains(err.Error(), "down") {
		t.Fatalf("Connect to nothing: %v", err)
	}
}
