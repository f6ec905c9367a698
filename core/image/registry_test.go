package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/image/registrytest"
	"github.com/berthvm/berth/core/internal/layertest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// loadImage puts img into s under ref by way of an OCI layout.
func loadImage(t *testing.T, s *Store, img v1.Image, ref string) api.Image {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"io.containerd.image.name": ref})); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(context.Background(), dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got[0]
}

func TestRegistryRoundTrip(t *testing.T) {
	for _, auth := range []bool{false, true} {
		t.Run(fmt.Sprintf("auth=%v", auth), func(t *testing.T) {
			reg := registrytest.Start(t, registrytest.Options{Auth: auth})
			s, _ := newStore(t, nil)
			img, raws := nastyImage(t)
			local := loadImage(t, s, img, "example.com/nasty:1")
			ref := reg.Host + "/berth/nasty:1"
			ctx := context.Background()

			if auth {
				_, err := s.Push(ctx, "example.com/nasty:1", ref, PushOptions{})
				if !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "berth registry login "+reg.Host) {
					t.Fatalf("push without login: %v", err)
				}
				// Credentials for one operation (docker's X-Registry-Auth).
				wrong := RegistryOptions{Auth: &authn.Basic{Username: reg.User, Password: "wrong"}}
				if _, err := s.Push(ctx, "example.com/nasty:1", ref, PushOptions{RegistryOptions: wrong}); !errors.Is(err, api.ErrUnavailable) {
					t.Fatalf("push with a wrong password: %v", err)
				}
				right := RegistryOptions{Auth: &authn.Basic{Username: reg.User, Password: reg.Password}}
				if _, err := s.Push(ctx, "example.com/nasty:1", ref, PushOptions{RegistryOptions: right}); err != nil {
					t.Fatalf("push with credentials: %v", err)
				}
				if _, err := s.Login(ctx, reg.Host, reg.User, "wrong", RegistryOptions{}); err == nil {
					t.Fatal("login with a wrong password succeeded")
				}
				res, err := s.Login(ctx, reg.Host, reg.User, reg.Password, RegistryOptions{})
				if err != nil {
					t.Fatal(err)
				}
				fi, err := os.Stat(res.Store)
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("credential file %s: %v %v", res.Store, fi, err)
				}
			}
			var pmu sync.Mutex
			pushed := map[string]bool{}
			res, err := s.Push(ctx, "example.com/nasty:1", ref, PushOptions{Progress: func(p api.Progress) {
				if p.Action == "upload" && p.Done && p.Current == p.Total {
					pmu.Lock()
					pushed[p.ID] = true
					pmu.Unlock()
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			if raw, _ := img.RawManifest(); res.Digest != local.Digest || res.Size != int64(len(raw)) || res.Ref != ref {
				t.Fatalf("push = %+v, want %s of %d bytes", res, local.Digest, len(raw))
			}
			if len(pushed) != len(raws) {
				t.Fatalf("push progress for %d layers, want %d", len(pushed), len(raws))
			}

			s2, _ := newStore(t, nil)
			if auth {
				// A fresh home has no credentials: refused, store unchanged.
				before := snap(t, s2)
				_, err := s2.Pull(ctx, ref, PullOptions{})
				if !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), reg.Host) {
					t.Fatalf("pull without login: %v", err)
				}
				sameSnap(t, before, snap(t, s2))
				if _, err := s2.Login(ctx, reg.Host, reg.User, reg.Password, RegistryOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			layerReports := map[string]bool{}
			got, err := s2.Pull(ctx, ref, PullOptions{Progress: func(p api.Progress) {
				if p.Action == "download" && p.Done {
					mu.Lock()
					layerReports[p.ID] = true
					mu.Unlock()
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest != local.Digest || got.ID != local.ID || len(got.Names) != 1 || got.Names[0] != ref {
				t.Fatalf("pulled %+v, pushed %+v", got, local)
			}
			if len(layerReports) != len(raws) {
				t.Fatalf("progress for %d layers, want %d", len(layerReports), len(raws))
			}
			checkDisk(t, s2, got.Digest, raws)

			_, err = s2.Pull(ctx, reg.Host+"/berth/nasty:missing", PullOptions{})
			if !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "nasty:missing") {
				t.Fatalf("missing tag: %v", err)
			}
			if auth {
				if err := s2.Logout(ctx, reg.Host); err != nil {
					t.Fatal(err)
				}
				if err := s2.Logout(ctx, reg.Host); !errors.Is(err, api.ErrNotFound) {
					t.Fatalf("second logout: %v", err)
				}
				if _, err := s2.Pull(ctx, ref, PullOptions{}); !errors.Is(err, api.ErrUnavailable) {
					t.Fatalf("pull after logout: %v", err)
				}
			}
		})
	}
}

// TestPullMultiArch pushes an index of amd64 and arm64 images and pulls
// each platform out of it.
func TestPullMultiArch(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	amd := testImage(t, "linux/amd64", busyboxLayer(t))
	arm := testImage(t, "linux/arm64/v8", layertest.Tar(t, []layertest.File{{Name: "bin/", Typ: '5', Mode: 0o755}, {Name: "bin/arm", Body: "arm64"}}))
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	idx = mutate.AppendManifests(idx,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	ref := reg.Host + "/berth/multi:1"
	r, _ := name.ParseReference(ref)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	ctx := context.Background()
	for _, tc := range []struct {
		platform string
		want     v1.Image
		wantPlat string
	}{
		{"linux/amd64", amd, "linux/amd64"},
		{"linux/arm64", arm, "linux/arm64/v8"},
	} {
		t.Run(tc.platform, func(t *testing.T) {
			s, _ := newStore(t, nil)
			got, err := s.Pull(ctx, ref, PullOptions{Platform: tc.platform})
			if err != nil {
				t.Fatal(err)
			}
			d, _ := tc.want.Digest()
			if got.Digest != d.String() || got.Platform != tc.wantPlat {
				t.Fatalf("pulled %s (%s), want %s (%s)", got.Digest, got.Platform, d, tc.wantPlat)
			}
			if len(got.RepoDigests) != 1 || got.RepoDigests[0] != reg.Host+"/berth/multi@"+idxDigest.String() {
				t.Fatalf("repo digests %v, want the index digest", got.RepoDigests)
			}
			if _, err := s.Get(ctx, reg.Host+"/berth/multi@"+idxDigest.String()); err != nil {
				t.Fatalf("lookup by index digest: %v", err)
			}
		})
	}
	s, _ := newStore(t, nil)
	_, err := s.Pull(ctx, ref, PullOptions{Platform: "linux/s390x"})
	if !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "linux/arm64/v8") {
		t.Fatalf("absent platform: %v", err)
	}
}

// TestCredentialHelper logs in through a docker credential helper named
// in the user's docker config, and reads the credentials back through it.
func TestCredentialHelper(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{Auth: true})
	s, home := newStore(t, nil)
	bin := t.TempDir()
	store := filepath.Join(t.TempDir(), "helper-store")
	script := `#!/bin/sh
# A docker credential helper keeping one secret in a file.
case "$1" in
store) cat > "` + store + `" ;;
get) read server; if [ -f "` + store + `" ]; then cat "` + store + `"; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) rm -f "` + store + `" ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-berthtest"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	if err := os.WriteFile(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), []byte(`{"credsStore":"berthtest"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := s.Login(ctx, reg.Host, reg.User, reg.Password, RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Store != "docker-credential-berthtest" {
		t.Fatalf("stored in %s, want the helper", res.Store)
	}
	if _, err := os.Stat(filepath.Join(home, authFile)); err == nil {
		t.Fatal("credentials also went to the file")
	}
	raw, err := os.ReadFile(store)
	if err != nil || !strings.Contains(string(raw), reg.Password) {
		t.Fatalf("helper got %q, %v", raw, err)
	}
	repo, _ := name.NewRepository(reg.Host + "/x")
	a, err := authn.DefaultKeychain.Resolve(repo)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := a.Authorization()
	if err != nil || cfg.Username != reg.User || cfg.Password != reg.Password {
		t.Fatalf("keychain read back %+v, %v", cfg, err)
	}
	img := testImage(t, "linux/amd64", busyboxLayer(t))
	loadImage(t, s, img, "example.com/bb:1")
	if _, err := s.Push(ctx, "example.com/bb:1", reg.Host+"/berth/bb:1", PushOptions{}); err != nil {
		t.Fatalf("push with helper credentials: %v", err)
	}
	if err := s.Logout(ctx, reg.Host); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(store); err == nil {
		t.Fatal("logout left the helper's secret")
	}
}

// TestRegistryFailures: down, 500 and 401 each fail with the right kind,
// naming the registry, and leave the store as it was.
func TestRegistryFailures(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := ln.Addr().String()
	ln.Close()
	var calls atomic.Int64
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"boom"}]}`, http.StatusInternalServerError)
	}))
	defer failing.Close()
	denying := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"no"}]}`, http.StatusUnauthorized)
	}))
	defer denying.Close()
	host := func(u string) string { return strings.TrimPrefix(u, "http://") }
	for _, tc := range []struct {
		name, ref string
		want      error
	}{
		{"down", down + "/x:1", api.ErrUnavailable},
		{"500", host(failing.URL) + "/x:1", api.ErrUnavailable},
		{"401", host(denying.URL) + "/x:1", api.ErrUnavailable},
		{"bad reference", "UPPER/Case::x", api.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t, nil)
			before := snap(t, s)
			_, err := s.Pull(context.Background(), tc.ref, PullOptions{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), strings.Split(tc.ref, "/")[0]) {
				t.Fatalf("error %q does not name %s", err, tc.ref)
			}
			sameSnap(t, before, snap(t, s))
		})
	}
	if calls.Load() < 2 {
		t.Fatalf("a 500 was tried %d times, want retries", calls.Load())
	}
}
