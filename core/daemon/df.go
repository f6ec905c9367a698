package daemon

import (
	"context"
	"io/fs"
	"net/http"
	"path/filepath"
	"syscall"

	"github.com/berthvm/berth/core/api"
)

func (d *Daemon) systemDF(r *http.Request) (any, error) { return d.diskUsage(r.Context()) }

// diskUsage counts what each image, container and volume takes on disk.
func (d *Daemon) diskUsage(ctx context.Context) (api.DiskUsage, error) {
	du := api.DiskUsage{Images: []api.ImageUsage{}, Containers: []api.ContainerUsage{}, Volumes: []api.VolumeUsage{}}
	var ctrs []api.Container
	if d.runtime != nil {
		var err error
		if ctrs, err = d.runtime.List(true); err != nil {
			return du, err
		}
	}
	users := map[string]int{}
	for _, c := range ctrs {
		users[c.ImageID]++
		du.Containers = append(du.Containers, api.ContainerUsage{ID: c.ID, Name: c.Name, Image: c.Image, State: c.State,
			Size: allocated(c.Dir)})
	}
	images, err := d.images.List(ctx)
	if err != nil {
		return du, err
	}
	for _, im := range images {
		du.Images = append(du.Images, api.ImageUsage{Image: im, Containers: users[im.Digest]})
	}
	vols, err := d.volumes.List(ctx, nil)
	if err != nil {
		return du, err
	}
	for _, v := range vols {
		du.Volumes = append(du.Volumes, api.VolumeUsage{Name: v.Name, Anonymous: v.Anonymous, Size: allocated(v.Mountpoint),
			Containers: len(v.UsedBy)})
	}
	return du, nil
}

// allocated is the bytes the files under path occupy (sparse disks count
// what they hold, not their length); 0 where it cannot be read.
func allocated(path string) int64 {
	var n int64
	filepath.WalkDir(path, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := e.Info(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			} else if fi.Mode().IsRegular() {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
