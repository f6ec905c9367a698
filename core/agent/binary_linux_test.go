package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
