package daemon

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi"
	"github.com/berthvm/berth/core/image"
)

// dockerAPI is the Docker Engine API over this daemon's own services.
func (d *Daemon) dockerAPI() http.Handler {
	cfg := dockerapi.Config{Images: dockerImages{d}, Events: d.bus, DiskUsage: d.diskUsage, ContainersErr: d.runtimeErr, Version: d.cfg.Version, Logger: d.log,
		Info: func(ctx context.Context) (api.SystemInfo, error) {
			info, err := d.systemInfo(nil)
			if err != nil {
				return api.SystemInfo{}, err
			}
			return info.(api.SystemInfo), nil
		}}
	if d.runtime != nil {
		cfg.Containers = d.runtime
	}
	if d.volumes != nil {
		cfg.Volumes = d.volumes
	}
	if d.networks != nil {
		cfg.Networks = d.networks
	}
	return dockerapi.New(cfg)
}

// dockerImages is the image store as the Berth API serves it: pulls,
// pushes, tags, loads, removals and prunes publish their events, and the
// demo image comes from the binary.
type dockerImages struct{ d *Daemon }

var (
	_ dockerapi.ImageTagger     = dockerImages{}
	_ dockerapi.ImageHistorian  = dockerImages{}
	_ dockerapi.ImagePruner     = dockerImages{}
	_ dockerapi.ImageArchiver   = dockerImages{}
	_ dockerapi.ImagePusher     = dockerImages{}
	_ dockerapi.RegistryChecker = dockerImages{}
)

func (i dockerImages) List(ctx context.Context) ([]api.Image, error) { return i.d.images.List(ctx) }

func (i dockerImages) Inspect(ctx context.Context, ref string) (api.ImageDetail, error) {
	return i.d.images.Inspect(ctx, ref)
}

func (i dockerImages) Pull(ctx context.Context, ref string, opts image.PullOptions) (api.Image, error) {
	if isDemoRef(ref) || isDemoRef(ref+":latest") {
		// The demo image is built into berth, not on a registry.
		im, err := i.d.images.Get(ctx, ref)
		if errors.Is(err, api.ErrNotFound) {
			if err = (imageSource{i.d.images}).loadDemo(ctx); err == nil {
				im, err = i.d.images.Get(ctx, ref)
			}
		}
		return im, err
	}
	return i.d.pullImage(ctx, ref, opts)
}

func (i dockerImages) Remove(ctx context.Context, ref string, force bool) (api.ImageRemoved, error) {
	return i.d.removeImage(ctx, ref, force)
}

func (i dockerImages) Tag(ctx context.Context, source, target string) error {
	return i.d.tagImage(ctx, source, target)
}

func (i dockerImages) History(ctx context.Context, ref string) ([]api.ImageHistoryEntry, error) {
	return i.d.images.History(ctx, ref)
}

func (i dockerImages) Prune(ctx context.Context, all bool, match func(api.Image, api.ImageConfig) bool) (api.ImagePruned, error) {
	return i.d.pruneImages(ctx, all, match)
}

func (i dockerImages) Save(ctx context.Context, w io.Writer, refs ...string) error {
	return i.d.images.Save(ctx, w, refs...)
}

func (i dockerImages) LoadArchive(ctx context.Context, r io.Reader, label string, opts image.LoadOptions) ([]api.Image, error) {
	loaded, err := i.d.images.LoadArchive(ctx, r, label, opts)
	if err != nil {
		return nil, err
	}
	i.d.loadEvents(loaded)
	return loaded, nil
}

func (i dockerImages) Push(ctx context.Context, ref, target string, opts image.PushOptions) (api.ImagePushed, error) {
	return i.d.pushImage(ctx, ref, target, opts)
}

func (i dockerImages) CheckLogin(ctx context.Context, registry, username, password string, opts image.RegistryOptions) (api.RegistryLogin, error) {
	return i.d.images.CheckLogin(ctx, registry, username, password, opts)
}
