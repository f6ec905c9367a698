package dockerapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/berthvm/berth/core/api"
)

// Volumes is what the server needs of the volume manager
// (*volume.Manager implements it).
type Volumes interface {
	Create(ctx context.Context, req api.VolumeCreateRequest) (api.Volume, error)
	List(ctx context.Context, filters map[string][]string) ([]api.Volume, error)
	Inspect(ctx context.Context, name string) (api.Volume, error)
	Remove(ctx context.Context, name string, force bool) error
	Prune(ctx context.Context, all bool) (api.VolumePruneReport, error)
}

// volumeResource is docker's volume object. Mountpoint is the volume's
// disk image on the host: its files are inside that image.
type volumeResource struct {
	Name       string
	Driver     string
	Mountpoint string
	CreatedAt  string `json:",omitempty"`
	Labels     map[string]string
	Scope      string
	Options    map[string]string
}

// volumeCreateBody is docker's POST /volumes/create request.
type volumeCreateBody struct {
	Name       string
	Driver     string
	DriverOpts map[string]string
	Labels     map[string]string
}

func (s *Server) volumes() (Volumes, error) {
	if s.cfg.Volumes == nil {
		return nil, fmt.Errorf("volumes are not available on this host: %w", api.ErrUnavailable)
	}
	return s.cfg.Volumes, nil
}

func volumeView(v api.Volume) volumeResource {
	out := volumeResource{Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint, Labels: v.Labels,
		Scope: "local", Options: v.Options}
	if !v.Created.IsZero() {
		out.CreatedAt = v.Created.UTC().Format(time.RFC3339)
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	return out
}

// noSuchVolume is docker's 404 for a volume name.
func noSuchVolume(name string, err error) error {
	if errors.Is(err, api.ErrNotFound) {
		return api.Exactly(api.ErrNotFound, "get %s: no such volume", name)
	}
	return err
}

func (s *Server) volumeList(r *http.Request) (any, error) {
	vm, err := s.volumes()
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(r.URL.Query().Get("filters"), "dangling", "name", "label", "driver")
	if err != nil {
		return nil, err
	}
	list, err := vm.List(r.Context(), f)
	if err != nil {
		return nil, err
	}
	out := struct {
		Volumes  []volumeResource
		Warnings []string
	}{Volumes: []volumeResource{}, Warnings: []string{}}
	for _, v := range list {
		out.Volumes = append(out.Volumes, volumeView(v))
	}
	return out, nil
}

func (s *Server) volumeCreate(r *http.Request) (any, error) {
	vm, err := s.volumes()
	if err != nil {
		return nil, err
	}
	var body volumeCreateBody
	if err := decode(r, &body); err != nil {
		return nil, err
	}
	if body.Driver != "" && body.Driver != "local" {
		return nil, fmt.Errorf("volume driver %q is not supported by Berth: its volumes are local disk images: %w", body.Driver, api.ErrInvalidArgument)
	}
	v, err := vm.Create(r.Context(), api.VolumeCreateRequest{Name: body.Name, Labels: body.Labels, Options: body.DriverOpts})
	if err != nil {
		return nil, err
	}
	return created{volumeView(v)}, nil
}

func (s *Server) volumeInspect(r *http.Request) (any, error) {
	vm, err := s.volumes()
	if err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	v, err := vm.Inspect(r.Context(), name)
	if err != nil {
		return nil, noSuchVolume(name, err)
	}
	return volumeView(v), nil
}

func (s *Server) volumeRemove(r *http.Request) (any, error) {
	vm, err := s.volumes()
	if err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	return nil, noSuchVolume(name, vm.Remove(r.Context(), name, queryBool(r.URL.Query(), "force")))
}

// volumePrune removes the unused anonymous volumes, or with the filter
// all=true the unused named ones too (docker volume prune -a).
func (s *Server) volumePrune(r *http.Request) (any, error) {
	vm, err := s.volumes()
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(r.URL.Query().Get("filters"), "all", "label", "label!")
	if err != nil {
		return nil, err
	}
	if len(f["label"]) > 0 || len(f["label!"]) > 0 {
		return nil, fmt.Errorf("volume prune label filters are not supported by Berth yet: %w", api.ErrUnsupported)
	}
	all := false
	for _, v := range f["all"] {
		all = all || queryBoolValue(v)
	}
	report, err := vm.Prune(r.Context(), all)
	if err != nil {
		return nil, err
	}
	removed := report.Removed
	if removed == nil {
		removed = []string{}
	}
	return struct {
		VolumesDeleted []string
		SpaceReclaimed int64
	}{removed, 0}, nil
}
