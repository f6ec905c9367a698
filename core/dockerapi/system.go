package dockerapi

import (
	"net/http"
	goruntime "runtime"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi/types"
)

// versionBody is docker's GET /version object.
type versionBody struct {
	Platform      struct{ Name string }
	Components    []component
	Version       string
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:"MinAPIVersion"`
	GitCommit     string
	GoVersion     string
	Os            string
	Arch          string
	KernelVersion string
	BuildTime     string
}

type component struct {
	Name    string
	Version string
	Details map[string]string
}

func (s *Server) version(r *http.Request) (any, error) {
	v := s.cfg.Version
	out := versionBody{Version: v.Version, APIVersion: MaxAPIVersion, MinAPIVersion: MinAPIVersion,
		GitCommit: v.Commit, GoVersion: goruntime.Version(), Os: "linux", Arch: v.Arch}
	if s.cfg.Info != nil {
		if info, err := s.cfg.Info(r.Context()); err == nil {
			out.KernelVersion = info.Host.Kernel
		}
	}
	out.Platform.Name = "Berth"
	out.Components = []component{{Name: "Engine", Version: v.Version, Details: map[string]string{
		"ApiVersion": MaxAPIVersion, "MinAPIVersion": MinAPIVersion, "GitCommit": v.Commit,
		"GoVersion": out.GoVersion, "Os": "linux", "Arch": v.Arch, "KernelVersion": out.KernelVersion, "Experimental": "false"}}}
	return out, nil
}

// infoBody is the part of docker's GET /info object `docker info` prints.
type infoBody struct {
	ID                 string
	Containers         int
	ContainersRunning  int
	ContainersPaused   int
	ContainersStopped  int
	Images             int
	Driver             string
	DriverStatus       [][2]string
	Plugins            pluginsInfo
	MemoryLimit        bool
	SwapLimit          bool
	CPUCfsPeriod       bool `json:"CpuCfsPeriod"`
	CPUCfsQuota        bool `json:"CpuCfsQuota"`
	IPv4Forwarding     bool
	Debug              bool
	NFd                int
	NGoroutines        int
	SystemTime         string
	LoggingDriver      string
	CgroupDriver       string
	CgroupVersion      string
	KernelVersion      string
	OperatingSystem    string
	OSVersion          string
	OSType             string
	Architecture       string
	IndexServerAddress string
	RegistryConfig     registryConfig
	NCPU               int
	MemTotal           int64
	DockerRootDir      string
	Name               string
	Labels             []string
	ExperimentalBuild  bool
	ServerVersion      string
	Runtimes           map[string]struct{ Path string }
	DefaultRuntime     string
	LiveRestoreEnabled bool
	Isolation          string
	SecurityOptions    []string
	Warnings           []string
	Swarm              struct{ LocalNodeState string }
}

type pluginsInfo struct {
	Volume        []string
	Network       []string
	Authorization []string
	Log           []string
}

type registryConfig struct {
	InsecureRegistryCIDRs []string
	IndexConfigs          map[string]any
	Mirrors               []string
}

func (s *Server) info(r *http.Request) (any, error) {
	var info api.SystemInfo
	if s.cfg.Info != nil {
		var err error
		if info, err = s.cfg.Info(r.Context()); err != nil {
			return nil, err
		}
	}
	h := info.Host
	out := infoBody{
		ID: info.Daemon.ID, Images: info.Images,
		Driver:             "berth",
		DriverStatus:       [][2]string{{"Isolation", "one VM per container (" + h.Hypervisor + ", " + h.Accelerator + ")"}},
		Plugins:            pluginsInfo{Volume: []string{"local"}, Network: []string{"berth"}, Log: []string{"json-file"}},
		MemoryLimit:        true,
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		LoggingDriver:      "json-file",
		CgroupDriver:       "none",
		CgroupVersion:      "2",
		KernelVersion:      h.Kernel,
		OperatingSystem:    h.OSName,
		OSVersion:          h.OSVersion,
		OSType:             "linux",
		Architecture:       h.Arch,
		IndexServerAddress: "https://index.docker.io/v1/",
		RegistryConfig:     registryConfig{InsecureRegistryCIDRs: []string{}, IndexConfigs: map[string]any{}, Mirrors: []string{}},
		NCPU:               h.CPUs,
		MemTotal:           int64(h.MemoryMiB) << 20,
		DockerRootDir:      info.Daemon.Home,
		Name:               "berth",
		Labels:             []string{},
		ServerVersion:      s.cfg.Version.Version,
		Runtimes:           map[string]struct{ Path string }{"berth-vm": {Path: "berth"}},
		DefaultRuntime:     "berth-vm",
		SecurityOptions:    []string{"name=vm"},
		Warnings:           []string{},
	}
	out.Swarm.LocalNodeState = "inactive"
	if info.ContainersError != "" {
		out.Warnings = append(out.Warnings, "WARNING: containers cannot run here: "+info.ContainersError)
	}
	if c, err := s.containers(); err == nil {
		all, err := c.List(true)
		if err != nil {
			return nil, err
		}
		for _, ct := range all {
			out.Containers++
			switch types.DockerStatus(ct.State) {
			case "running", "restarting":
				out.ContainersRunning++
			case "paused":
				out.ContainersPaused++
			default:
				out.ContainersStopped++
			}
		}
	}
	return out, nil
}

// dfBody is docker's GET /system/df object.
type dfBody struct {
	LayersSize int64
	Images     []imageSummary
	Containers []dfContainer
	Volumes    []dfVolume
	BuildCache []struct{}
}

// dfContainer is a container row with the bytes its files take.
type dfContainer struct {
	containerSummary
	SizeRw     int64
	SizeRootFs int64
}

// dfVolume is docker's volume object with its usage.
type dfVolume struct {
	volumeResource
	UsageData volumeUsage
}

type volumeUsage struct {
	Size     int64
	RefCount int64
}

// systemDF is the daemon's disk usage in docker's shape. Sizes are what
// Berth has: an image's blobs in the store (compressed layers), a
// container's allocated files, a volume's disk image; LayersSize is the
// images' total.
func (s *Server) systemDF(r *http.Request) (any, error) {
	if s.cfg.DiskUsage == nil {
		return nil, unsupported(r, "")
	}
	du, err := s.cfg.DiskUsage(r.Context())
	if err != nil {
		return nil, err
	}
	out := dfBody{Images: []imageSummary{}, Containers: []dfContainer{}, Volumes: []dfVolume{}, BuildCache: []struct{}{}}
	for _, im := range du.Images {
		row := imageRow(im.Image)
		row.SharedSize, row.Containers = 0, int64(im.Containers)
		out.Images = append(out.Images, row)
		out.LayersSize += im.Size
	}
	if c, err := s.containers(); err == nil && len(du.Containers) > 0 {
		now := time.Now()
		for _, u := range du.Containers {
			ct, err := c.Inspect(u.ID)
			if err != nil {
				continue // removed meanwhile
			}
			out.Containers = append(out.Containers, dfContainer{containerSummary: summary(ct, s.imageConfig(r, ct), now), SizeRw: u.Size})
		}
	}
	for _, v := range du.Volumes {
		row := dfVolume{volumeResource: volumeResource{Name: v.Name, Driver: "local", Scope: "local",
			Labels: map[string]string{}, Options: map[string]string{}}, UsageData: volumeUsage{Size: v.Size, RefCount: int64(v.Containers)}}
		if vs, err := s.volumes(); err == nil {
			if full, err := vs.Inspect(r.Context(), v.Name); err == nil {
				row.volumeResource = volumeView(full)
			}
		}
		out.Volumes = append(out.Volumes, row)
	}
	return out, nil
}
