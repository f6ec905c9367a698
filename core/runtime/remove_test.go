package runtime

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/events"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/state"
)

// noVMs is a backend that is never asked for a VM: containers here are
// created and removed, never started.
type noVMs struct{ hypervisor.Driver }

func (noVMs) Info() hypervisor.Info { return hypervisor.Info{} }

// oneImage resolves every reference to its image.
type oneImage struct{ img Image }

func (o oneImage) Resolve(context.Context, string) (Image, error) { return o.img, nil }

// emptyDisks makes an empty file for a writable disk.
type emptyDisks struct{}

func (emptyDisks) Create(_ context.Context, path string) error { return os.WriteFile(path, nil, 0o600) }

// memVolumes keeps volume names; Remove records what it removed.
type memVolumes struct {
	mu      sync.Mutex
	have    map[string]bool
	removed []string
}

func (v *memVolumes) Ensure(_ context.Context, name string, anonymous bool) (api.Volume, bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	created := !v.have[name]
	v.have[name] = true
	return api.Volume{Name: name, Anonymous: anonymous}, created, nil
}

func (v *memVolumes) Claim(*state.Tx, []api.Mount) error { return nil }

func (v *memVolumes) Remove(_ context.Context, name string, _ bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.have, name)
	v.removed = append(v.removed, name)
	return nil
}

// A container's anonymous volumes go with it on Remove only with
// Volumes (docker's rm -v); its named volumes stay either way.
func TestRemoveAnonymousVolumes(t *testing.T) {
	home := t.TempDir()
	db, err := state.Open(filepath.Join(home, "berth.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	vols := &memVolumes{have: map[string]bool{}}
	m, err := New(context.Background(), Config{
		Home: home, DB: db, Driver: noVMs{}, Disks: emptyDisks{}, Volumes: vols,
		Bus: events.NewBus(0),
		Images: oneImage{Image{Ref: "busybox", Digest: "sha256:test", Arch: "amd64",
			Config: api.ImageConfig{Cmd: []string{"sh"}, Volumes: []string{"/image-volume"}}}},
		Host:   api.Capabilities{Arch: "amd64", CPUs: 2, MemoryMiB: 2048},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		opts api.RemoveOptions
		gone bool // the anonymous volumes
	}{
		{"rm", api.RemoveOptions{}, false},
		{"rm -v", api.RemoveOptions{Volumes: true}, true},
		{"rm -f -v", api.RemoveOptions{Force: true, Volumes: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vols.removed = nil
			c, err := m.Create(ctx, api.ContainerSpec{Image: "busybox", Mounts: []api.Mount{
				{Type: api.MountVolume, Target: "/data"},
				{Type: api.MountVolume, Source: "named", Target: "/named"},
			}})
			if err != nil {
				t.Fatal(err)
			}
			var anon []string
			for _, mt := range c.Spec.Mounts {
				if mt.Source != "named" {
					anon = append(anon, mt.Source)
				}
			}
			if len(anon) != 2 {
				t.Fatalf("mounts %+v: want the /data and the image's anonymous volumes", c.Spec.Mounts)
			}
			if err := m.Remove(ctx, c.ID, tc.opts); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Inspect(c.ID); err == nil {
				t.Fatal("the container is still there")
			}
			var want []string
			if tc.gone {
				want = anon
			}
			slices.Sort(want)
			slices.Sort(vols.removed)
			if !slices.Equal(vols.removed, want) {
				t.Errorf("removed volumes %q, want %q", vols.removed, want)
			}
		})
	}
}
