package types

import (
	"strings"

	"github.com/berthvm/berth/core/api"
)

// ImageInspect is `docker image inspect`'s object, with the fields Berth
// can fill.
type ImageInspect struct {
	ID            string `json:"Id"`
	RepoTags      []string
	RepoDigests   []string
	Parent        string
	Comment       string
	Created       string
	DockerVersion string
	Author        string
	Config        *Config
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	Size          int64
	RootFS        RootFS
	Metadata      ImageMetadata
	// Berth holds what Docker has no field for.
	Berth *ImageBerth
}

// RootFS is docker's: the layers' diff ids, in order.
type RootFS struct {
	Type   string
	Layers []string
}

// ImageMetadata is docker's; LastTagTime is when the store got the image.
type ImageMetadata struct {
	LastTagTime string
}

// ImageBerth is what Berth knows that Docker has no field for: the
// manifest, its layers' blobs, and the read-only base disk built for it.
type ImageBerth struct {
	Digest    string
	MediaType string
	Source    string `json:",omitempty"`
	Platform  string
	Layers    []api.ImageLayer
	Disk      api.ImageDisk
}

// Image is `docker image inspect`'s object for d.
func Image(d api.ImageDetail) ImageInspect {
	os, arch, variant := splitPlatform(d.Platform)
	out := ImageInspect{
		ID:          d.ID,
		RepoTags:    []string{},
		RepoDigests: []string{},
		Created:     Timestamp(d.Created),
		Config: &Config{
			User:         d.Config.User,
			ExposedPorts: set(d.Config.ExposedPorts, nil),
			Env:          d.Config.Env,
			Cmd:          d.Config.Cmd,
			Volumes:      set(d.Config.Volumes, nil),
			WorkingDir:   d.Config.WorkingDir,
			Entrypoint:   d.Config.Entrypoint,
			Labels:       d.Config.Labels,
			StopSignal:   d.Config.StopSignal,
		},
		Architecture: arch,
		Variant:      variant,
		Os:           os,
		Size:         d.Size,
		RootFS:       RootFS{Type: "layers", Layers: []string{}},
		Metadata:     ImageMetadata{LastTagTime: Timestamp(d.Added)},
		Berth:        &ImageBerth{Digest: d.Digest, MediaType: d.MediaType, Source: d.Source, Platform: d.Platform, Layers: d.Layers, Disk: d.RootFS},
	}
	for _, n := range d.Names {
		out.RepoTags = append(out.RepoTags, FamiliarName(n))
	}
	for _, n := range d.RepoDigests {
		out.RepoDigests = append(out.RepoDigests, FamiliarName(n))
	}
	for _, l := range d.Layers {
		if l.DiffID != "" {
			out.RootFS.Layers = append(out.RootFS.Layers, l.DiffID)
		}
	}
	return out
}

// FamiliarName is a reference as docker shows it: Docker Hub's
// "docker.io/library/alpine:3" is "alpine:3", "docker.io/me/app" is
// "me/app"; other registries' names are unchanged.
func FamiliarName(ref string) string {
	if r, ok := strings.CutPrefix(ref, "docker.io/"); ok {
		return strings.TrimPrefix(r, "library/")
	}
	return ref
}

func splitPlatform(p string) (os, arch, variant string) {
	parts := strings.SplitN(p, "/", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}
