package api

import "time"

// MountType is what a container mount is backed by.
type MountType string

const (
	// MountBind shares a host file or folder, live: writes on either side
	// are seen by the other (virtio-fs on every backend).
	MountBind MountType = "bind"
	// MountVolume is a named volume: a disk image Berth owns, attached to
	// the container's VM as a block device.
	MountVolume MountType = "volume"
	// MountTmpfs is memory the container's VM backs, gone with the VM.
	MountTmpfs MountType = "tmpfs"
)

// Mount is one mount of a container, in docker's terms (-v, --mount,
// --tmpfs). What the user asked for is kept in ContainerSpec.Mounts; the
// runtime resolves it at create (anonymous volumes get their names, host
// paths are made absolute and checked).
type Mount struct {
	Type MountType `json:"type"`
	// Source is the host path for a bind (absolute once resolved), the
	// volume's name for a volume (empty: an anonymous volume, named at
	// create), and nothing for tmpfs.
	Source string `json:"source,omitempty"`
	// Target is the absolute path in the container.
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
	// NoCopy: a new volume is not seeded from the image's content at
	// Target (docker's volume-nocopy).
	NoCopy bool `json:"noCopy,omitempty"`
	// TmpfsSize bounds a tmpfs in bytes (0: the kernel's default, half
	// the VM's memory); TmpfsMode is its root's mode (0: 01777).
	TmpfsSize int64  `json:"tmpfsSize,omitempty"`
	TmpfsMode uint32 `json:"tmpfsMode,omitempty"`
	// TmpfsExec lets programs run from a tmpfs, which is noexec, nosuid
	// and nodev by default, as in docker.
	TmpfsExec bool `json:"tmpfsExec,omitempty"`
}

// Volume is a named volume as `berth volume inspect` shows it.
type Volume struct {
	Name string `json:"name"`
	// Driver is always "local": a sparse ext4 disk image Berth owns.
	Driver string `json:"driver"`
	// Mountpoint is the volume's disk image on the host (its files are
	// inside the image, not in a folder: the image is what a VM mounts).
	Mountpoint string            `json:"mountpoint"`
	SizeBytes  int64             `json:"sizeBytes"` // the file system's size
	Labels     map[string]string `json:"labels,omitempty"`
	Options    map[string]string `json:"options,omitempty"`
	// Anonymous volumes were made for a container (an image's VOLUME, or
	// -v with only a container path); `run --rm` removes them with it.
	Anonymous bool      `json:"anonymous,omitempty"`
	Created   time.Time `json:"created"`
	// UsedBy names the containers that mount it, running or not.
	UsedBy []string `json:"usedBy,omitempty"`
}

// VolumeCreateRequest asks for a new volume. An empty Name makes an
// anonymous-looking random name, as docker does. Options: "size" (a size
// such as 10g; default core/volume.DefaultSize, the size of a container's
// writable disk).
type VolumeCreateRequest struct {
	Name    string            `json:"name,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Options map[string]string `json:"options,omitempty"`
}

// VolumePruneReport is what `volume prune` removed.
type VolumePruneReport struct {
	Removed []string `json:"removed"`
}
