package dockerapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

// fakeVolumes keeps volumes by name; "db" is in use.
type fakeVolumes struct {
	mu      sync.Mutex
	vols    map[string]api.Volume
	filters []map[string][]string
	pruned  []bool // the all argument of each prune
}

func (f *fakeVolumes) Create(_ context.Context, req api.VolumeCreateRequest) (api.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := api.Volume{Name: req.Name, Driver: "local", Mountpoint: "/data/volumes/" + req.Name + "/disk.img",
		Labels: req.Labels, Options: req.Options, Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f.vols[v.Name] = v
	return v, nil
}

func (f *fakeVolumes) List(_ context.Context, filters map[string][]string) ([]api.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, filters)
	out := []api.Volume{}
	for _, v := range f.vols {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeVolumes) Inspect(_ context.Context, name string) (api.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.vols[name]; ok {
		return v, nil
	}
	return api.Volume{}, fmt.Errorf("volume %s: %w", name, api.ErrNotFound)
}

func (f *fakeVolumes) Remove(ctx context.Context, name string, force bool) error {
	v, err := f.Inspect(ctx, name)
	if err != nil {
		if force {
			return nil
		}
		return err
	}
	if len(v.UsedBy) > 0 {
		return fmt.Errorf("remove %s: volume is in use - %v: %w", name, v.UsedBy, api.ErrConflict)
	}
	f.mu.Lock()
	delete(f.vols, name)
	f.mu.Unlock()
	return nil
}

func (f *fakeVolumes) Prune(_ context.Context, all bool) (api.VolumePruneReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pruned = append(f.pruned, all)
	return api.VolumePruneReport{}, nil
}

func TestVolumes(t *testing.T) {
	vols := &fakeVolumes{vols: map[string]api.Volume{"db": {Name: "db", Driver: "local", UsedBy: []string{"web"}}}}
	// No runtime: volumes are served all the same.
	srv := httptest.NewServer(New(Config{Volumes: vols, Images: fakeImages{},
		ContainersErr: fmt.Errorf("no VM backend: %w", api.ErrUnsupported)}))
	defer srv.Close()
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/v1.47/volumes/create", `{"Name":"data","Driver":"local","DriverOpts":{"size":"1g"},"Labels":{"a":"b"}}`, 201,
			`{"Name":"data","Driver":"local","Mountpoint":"/data/volumes/data/disk.img","CreatedAt":"2026-01-02T03:04:05Z","Labels":{"a":"b"},"Scope":"local","Options":{"size":"1g"}}`},
		{"POST", "/v1.47/volumes/create", `{"Name":"x","Driver":"nfs"}`, 400, `volume driver \"nfs\" is not supported`},
		{"GET", "/v1.47/volumes", "", 200, `{"Volumes":[{"Name":"data"`},
		{"GET", "/v1.47/volumes", "", 200, `"Warnings":[]}`},
		{"GET", `/v1.47/volumes?filters={"dangling":{"true":true}}`, "", 200, `"Volumes":[`},
		{"GET", `/v1.47/volumes?filters={"bogus":{"x":true}}`, "", 400, "invalid filter 'bogus'"},
		{"GET", "/v1.47/volumes/data", "", 200, `"Name":"data"`},
		{"GET", "/v1.47/volumes/nope", "", 404, `{"message":"get nope: no such volume"}`},
		{"DELETE", "/v1.47/volumes/db", "", 409, "volume is in use - [web]"},
		{"DELETE", "/v1.47/volumes/nope", "", 404, "get nope: no such volume"},
		{"DELETE", "/v1.47/volumes/nope?force=1", "", 204, ""},
		{"DELETE", "/v1.47/volumes/data", "", 204, ""},
		{"POST", "/v1.47/volumes/prune", "", 200, `{"VolumesDeleted":[],"SpaceReclaimed":0}`},
		{"POST", `/v1.47/volumes/prune?filters={"all":{"true":true}}`, "", 200, `{"VolumesDeleted":[]`},
		{"POST", `/v1.47/volumes/prune?filters={"label":{"a":true}}`, "", 501, "label filters are not supported"},
	} {
		status, body, _ := do(t, srv, tc.method, tc.path, tc.body)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: got %d %s, want %d with %q", tc.method, tc.path, status, body, tc.status, tc.want)
		}
	}
	if len(vols.filters) != 3 || vols.filters[2]["dangling"][0] != "true" {
		t.Errorf("list filters: %v", vols.filters)
	}
	if fmt.Sprint(vols.pruned) != "[false true]" {
		t.Errorf("prune all: %v", vols.pruned)
	}
}
