package daemon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/state"
	"github.com/berthvm/berth/core/volume"
)

// volumeDaemon serves only the volume routes, over a small-disk manager,
// on a unix socket for the client and on TCP for raw requests.
func volumeDaemon(t *testing.T) (*client.Client, *httptest.Server, *state.DB) {
	t.Helper()
	home := shortHome(t)
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(filepath.Join(home, "berth.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d := testDaemon()
	if d.volumes, err = volume.New(context.Background(), volume.Config{DB: db, Home: home, Templates: templatesDir(home),
		Logger: d.log, DefaultSize: 32 << 20}); err != nil {
		t.Fatal(err)
	}
	d.volumeRoutes()
	ln, err := net.Listen("unix", filepath.Join(home, "v.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: d.mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	raw := httptest.NewServer(d.mux)
	t.Cleanup(raw.Close)
	c := client.New(filepath.Join(home, "v.sock"))
	t.Cleanup(c.Close)
	return c, raw, db
}

func TestVolumeRoutes(t *testing.T) {
	c, raw, db := volumeDaemon(t)
	ctx := context.Background()

	v, err := c.CreateVolume(ctx, api.VolumeCreateRequest{Name: "data", Labels: map[string]string{"env": "prod"},
		Options: map[string]string{"size": "64m"}})
	if err != nil || v.Name != "data" || v.Driver != "local" || v.SizeBytes != 64<<20 || !strings.HasSuffix(v.Mountpoint, "/volumes/data/disk.ext4") {
		t.Fatalf("create = %+v, %v", v, err)
	}
	if again, err := c.CreateVolume(ctx, api.VolumeCreateRequest{Name: "data"}); err != nil || !reflect.DeepEqual(again, v) {
		t.Fatalf("create again = %+v, %v; want the same volume", again, err)
	}
	if _, err := c.CreateVolume(ctx, api.VolumeCreateRequest{Name: "cache"}); err != nil {
		t.Fatal(err)
	}

	// Failures keep their kind across the socket.
	failures := []struct {
		name string
		call func() error
		kind error
		text string
	}{
		{"bad name", func() error { _, err := c.CreateVolume(ctx, api.VolumeCreateRequest{Name: "a b"}); return err },
			api.ErrInvalidArgument, `invalid volume name "a b"`},
		{"other size", func() error {
			_, err := c.CreateVolume(ctx, api.VolumeCreateRequest{Name: "data", Options: map[string]string{"size": "1g"}})
			return err
		}, api.ErrAlreadyExists, "volume data already exists with other options"},
		{"unknown option", func() error {
			_, err := c.CreateVolume(ctx, api.VolumeCreateRequest{Name: "x1", Options: map[string]string{"o": "bind"}})
			return err
		}, api.ErrInvalidArgument, `invalid volume option "o"`},
		{"missing", func() error { _, err := c.Volume(ctx, "nope"); return err }, api.ErrNotFound, "no such volume: nope"},
		{"bad filter", func() error { _, err := c.Volumes(ctx, map[string][]string{"colour": {"red"}}); return err },
			api.ErrInvalidArgument, `invalid filter "colour"`},
		{"remove missing", func() error { return c.RemoveVolume(ctx, "nope", false) }, api.ErrNotFound, "no such volume: nope"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want %v with %q", err, tc.kind, tc.text)
			}
		})
	}

	list, err := c.Volumes(ctx, map[string][]string{"label": {"env=prod"}})
	if err != nil || len(list) != 1 || list[0].Name != "data" {
		t.Fatalf("list label=env=prod = %+v, %v", list, err)
	}
	if got, err := c.Volume(ctx, "data"); err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("inspect = %+v, %v", got, err)
	}

	// In use: refused, forced or not, naming the containers.
	rec := state.ContainerRecord{Container: api.Container{ID: "c1", Name: "web", Created: time.Now(),
		Spec: api.ContainerSpec{Mounts: []api.Mount{{Type: api.MountVolume, Source: "data", Target: "/data"}}}}}
	if err := db.Update(func(tx *state.Tx) error { return tx.CreateContainer(rec) }); err != nil {
		t.Fatal(err)
	}
	for _, force := range []bool{false, true} {
		if err := c.RemoveVolume(ctx, "data", force); !errors.Is(err, api.ErrConflict) || err.Error() != "remove data: volume is in use - [web]" {
			t.Fatalf("remove in use (force=%v) = %v", force, err)
		}
	}
	if err := c.RemoveVolume(ctx, "nope", true); err != nil {
		t.Fatalf("remove -f of a missing volume = %v", err)
	}
	if list, _ := c.Volumes(ctx, map[string][]string{"dangling": {"true"}}); len(list) != 1 || list[0].Name != "cache" {
		t.Fatalf("dangling = %+v", list)
	}

	// Prune: named volumes only with all.
	if r, err := c.PruneVolumes(ctx, false); err != nil || len(r.Removed) != 0 {
		t.Fatalf("prune = %+v, %v", r, err)
	}
	if r, err := c.PruneVolumes(ctx, true); err != nil || !reflect.DeepEqual(r.Removed, []string{"cache"}) {
		t.Fatalf("prune all = %+v, %v", r, err)
	}
	if err := db.Update(func(tx *state.Tx) error { return tx.DeleteContainer("c1") }); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveVolume(ctx, "data", false); err != nil {
		t.Fatal(err)
	}
	if list, err := c.Volumes(ctx, nil); err != nil || len(list) != 0 {
		t.Fatalf("after removes: %+v, %v", list, err)
	}

	// The wire: status codes, and flags that are not flags.
	statuses := []struct {
		method, path string
		want         int
	}{
		{"GET", "/v1/volumes", 200},
		{"GET", "/v1/volumes/nope", 404},
		{"DELETE", "/v1/volumes/nope?force=maybe", 400},
		{"DELETE", "/v1/volumes/nope?force=1", 204},
		{"POST", "/v1/volumes/prune?all=yes", 400},
		{"GET", "/v1/volumes?dangling=maybe", 400},
	}
	for _, s := range statuses {
		req, _ := http.NewRequest(s.method, raw.URL+s.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != s.want {
			t.Errorf("%s %s: %d, want %d", s.method, s.path, resp.StatusCode, s.want)
		}
	}
	resp, err := http.Post(raw.URL+"/v1/volumes", "application/json", strings.NewReader(`{"name":"x1","driver":"nfs"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("create with an unknown field: %d, want 400", resp.StatusCode)
	}
}
