package image

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/internal/layertest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestCheckReference(t *testing.T) {
	good := []string{"alpine", "alpine:3.20", "library/alpine", "ghcr.io/a/b:1", "localhost:5000/x", "localhost/x:y",
		"x/a.b-c__d/e--f:T_a.g-1", "r@sha256:" + strings.Repeat("ab", 32), "[::1]:5000/x", "sha256:" + strings.Repeat("0", 64),
		strings.Repeat("0", 64), "x:" + strings.Repeat("t", 128)}
	bad := []string{"../../evil", "./x", "a/../b", "/x", "x/", "a//b", "-x", "x-", "a___b", "a..b", "x:", "x:-t",
		"x:" + strings.Repeat("t", 129), "x@sha256:short", "Alpine", "ex ample", "evil.com/../x", "",
		strings.Repeat("a", 256)}
	for _, s := range good {
		if err := CheckReference(s); err != nil {
			t.Errorf("CheckReference(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range bad {
		err := CheckReference(s)
		if !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), "invalid reference format") {
			t.Errorf("CheckReference(%q) = %v, want invalid reference format", s, err)
		}
	}
	if err := CheckReference("Alpine"); err == nil || !strings.Contains(err.Error(), "repository name (Alpine) must be lowercase") {
		t.Errorf("uppercase: %v", err)
	}
}

// Every way a name enters the store is checked with docker's grammar: a
// tag target, a pull, a push target, an archive's repo tags.
func TestNamesFollowDockersGrammar(t *testing.T) {
	s, _ := newStore(t, nil)
	ctx := context.Background()
	loadImage(t, s, testImage(t, "linux/amd64", busyboxLayer(t)), "example.com/keep:1")
	before := snap(t, s)
	refused := func(what, input string, err error) {
		t.Helper()
		if !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), input) ||
			!strings.Contains(err.Error(), "invalid") {
			t.Errorf("%s %q: %v; want an invalid reference naming it", what, input, err)
		}
	}
	for _, target := range []string{"../../evil", "evil/../../x", "Evil", "x:-t", strings.Repeat("a", 64)} {
		refused("tag", target, s.Tag(ctx, "example.com/keep:1", target))
	}
	_, err := s.Pull(ctx, "../../evil", PullOptions{})
	refused("pull", "../../evil", err)
	_, err = s.Push(ctx, "example.com/keep:1", "../x", PushOptions{})
	refused("push", "../x", err)

	layer := layertest.Tar(t, []layertest.File{{Name: "a", Body: "a"}})
	diff, _, _ := v1.SHA256(strings.NewReader(string(layer)))
	cfg, _ := json.Marshal(v1.ConfigFile{OS: "linux", Architecture: "amd64",
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diff}}})
	manifest, _ := json.Marshal([]dockerManifest{{Config: "c.json", RepoTags: []string{"../../evil:1"}, Layers: []string{"l/layer.tar"}}})
	archive := filepath.Join(t.TempDir(), "evil.tar")
	writeTar(t, archive, map[string][]byte{"manifest.json": manifest, "c.json": cfg, "l/layer.tar": layer}, "c.json", "l/layer.tar", "manifest.json")
	_, err = s.Load(ctx, archive, LoadOptions{})
	refused("load", "../../evil", err)
	sameSnap(t, before, snap(t, s))
}
