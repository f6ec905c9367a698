package daemon

import (
	"context"
	"net/http"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi"
)

// dockerAPI is the Docker Engine API over this daemon's own services.
func (d *Daemon) dockerAPI() http.Handler {
	cfg := dockerapi.Config{Images: d.images, ContainersErr: d.runtimeErr, Version: d.cfg.Version, Logger: d.log,
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
	return dockerapi.New(cfg)
}
