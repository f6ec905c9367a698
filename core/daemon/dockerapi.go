package daemon

import (
	"context"
	"errors"
	"net/http"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi"
	"github.com/berthvm/berth/core/image"
)

// dockerAPI is the Docker Engine API over this daemon's own services.
func (d *Daemon) dockerAPI() http.Handler {
	cfg := dockerapi.Config{Images: dockerImages{d}, Events: d.bus, ContainersErr: d.runtimeErr, Version: d.cfg.Version, Logger: d.log,
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

// dockerImages is the image store as the Berth API serves it: pulls and
// removals publish their events, and the demo image comes from the binary.
type dockerImages struct{ d *Daemon }

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
	im, err := i.d.images.Pull(ctx, ref, opts)
	if err != nil {
		return im, err
	}
	i.d.imageEvent("pull", im.Digest, ref)
	return im, nil
}

func (i dockerImages) Remove(ctx context.Context, ref string, force bool) (api.ImageRemoved, error) {
	res, err := i.d.images.Remove(ctx, ref, force)
	if err != nil {
		return res, err
	}
	for _, n := range res.Untagged {
		i.d.imageEvent("untag", "", n)
	}
	for _, id := range res.Deleted {
		i.d.imageEvent("delete", id, ref)
	}
	return res, nil
}
