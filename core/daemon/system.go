package daemon

import (
	"net/http"
	"os"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/capabilities"
	"github.com/berthvm/berth/core/dockerapi"
	"github.com/berthvm/berth/core/paths"
	"github.com/berthvm/berth/core/state"
)

// routes registers every API area. Each area's handlers live in its own file.
func (d *Daemon) routes() {
	d.route("GET /v1/_ping", func(*http.Request) (any, error) { return "OK", nil })
	d.route("GET /v1/version", func(*http.Request) (any, error) { return d.cfg.Version, nil })
	d.route("GET /v1/system/info", d.systemInfo)
	d.route("GET /v1/system/df", d.systemDF)
	d.route("POST /v1/system/stop", func(*http.Request) (any, error) {
		d.requestStop()
		return nil, nil
	})
	d.mux.HandleFunc("GET /v1/events", d.events)
	d.imageRoutes()
	d.kernelRoutes()
	d.volumeRoutes()
	if d.runtime != nil {
		d.containerRoutes()
		d.networkRoutes()
	} else {
		d.route("/v1/containers/", func(*http.Request) (any, error) { return nil, d.runtimeErr })
		d.route("/v1/containers", func(*http.Request) (any, error) { return nil, d.runtimeErr })
		d.route("/v1/networks/", func(*http.Request) (any, error) { return nil, d.runtimeErr })
		d.route("/v1/networks", func(*http.Request) (any, error) { return nil, d.runtimeErr })
	}
}

func (d *Daemon) systemInfo(*http.Request) (any, error) {
	info := api.SystemInfo{
		Daemon: api.DaemonInfo{ID: d.hostID, Version: d.cfg.Version, PID: os.Getpid(), Home: d.cfg.Home,
			Socket: paths.Socket(d.cfg.Home), Started: d.started},
		Host:     d.caps,
		Defaults: capabilities.DefaultResources(d.caps),
		DockerAPI: api.DockerAPIInfo{Socket: paths.DockerSocket(d.cfg.Home),
			MinVersion: dockerapi.MinAPIVersion, MaxVersion: dockerapi.MaxAPIVersion},
	}
	err := d.db.View(func(tx *state.Tx) error {
		m, err := tx.Meta()
		info.SchemaVersion = m.SchemaVersion
		if err != nil {
			return err
		}
		images, err := tx.Images()
		info.Images = len(images)
		return err
	})
	if d.runtime != nil {
		info.Containers, info.Running = d.runtime.Counts()
		info.Network = d.netMode
	} else if d.runtimeErr != nil {
		info.ContainersError = d.runtimeErr.Error()
	}
	return info, err
}
