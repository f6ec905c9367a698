package api

import "time"

// Image is one image in the local store, as `berth image ls` shows it.
type Image struct {
	// ID is the config digest (what Docker calls the image ID).
	ID string `json:"id"`
	// Digest is the manifest digest, the image's identity in the store.
	Digest string `json:"digest"`
	// Names are the references that point at it ("docker.io/library/alpine:3").
	Names []string `json:"names,omitempty"`
	// RepoDigests are "repo@sha256:…" references it was pulled or pushed by.
	RepoDigests []string `json:"repoDigests,omitempty"`
	// Platform is "os/arch[/variant]".
	Platform string `json:"platform"`
	// Size is the bytes its blobs take in the content store.
	Size    int64     `json:"size"`
	Created time.Time `json:"created,omitzero"`
	// Added is when the store got it.
	Added time.Time `json:"added"`
}

// ImageDetail is what `berth image inspect` shows.
type ImageDetail struct {
	Image
	MediaType string       `json:"mediaType"`
	Source    string       `json:"source,omitempty"`
	Config    ImageConfig  `json:"config"`
	Layers    []ImageLayer `json:"layers"`
	// RootFS is the read-only base disk built from the flattened layers.
	RootFS ImageDisk `json:"rootfs"`
}

// ImageConfig is the part of an image's config a container starts from.
type ImageConfig struct {
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	Cmd          []string          `json:"cmd,omitempty"`
	Env          []string          `json:"env,omitempty"`
	WorkingDir   string            `json:"workingDir,omitempty"`
	User         string            `json:"user,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	ExposedPorts []string          `json:"exposedPorts,omitempty"`
	Volumes      []string          `json:"volumes,omitempty"`
	StopSignal   string            `json:"stopSignal,omitempty"`
}

// ImageLayer is one layer of an image.
type ImageLayer struct {
	Digest    string `json:"digest"`
	DiffID    string `json:"diffID,omitempty"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
}

// ImageDisk is a disk file on the host.
type ImageDisk struct {
	Path string `json:"path"`
	// Size is the file's length; Allocated the bytes it occupies.
	Size      int64 `json:"size"`
	Allocated int64 `json:"allocated,omitempty"`
}

// ImageRemoved reports what `berth image rm` did.
type ImageRemoved struct {
	Untagged []string `json:"untagged,omitempty"`
	Deleted  []string `json:"deleted,omitempty"`
}

// ImagePushed says what a push uploaded: the manifest, by digest and
// size, under Ref (the normalized target).
type ImagePushed struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// ImagePruned reports what `berth image prune` did.
type ImagePruned struct {
	// Untagged are the names the pruned images had; Deleted their digests.
	Untagged []string `json:"untagged,omitempty"`
	Deleted  []string `json:"deleted,omitempty"`
	// Blobs and Disks count the files removed; Reclaimed their bytes.
	Blobs     int   `json:"blobs"`
	Disks     int   `json:"disks"`
	Reclaimed int64 `json:"reclaimed"`
}

// ImagePullRequest asks the daemon to pull an image.
type ImagePullRequest struct {
	Ref string `json:"ref"`
	// Platform is "os/arch[/variant]"; empty means linux on the host's CPU.
	Platform string `json:"platform,omitempty"`
	// Scheme is "", "http" or "https" (see `berth image pull --scheme`).
	Scheme string `json:"scheme,omitempty"`
}

// ImagePushRequest asks the daemon to push a local image, to Target if set.
type ImagePushRequest struct {
	Ref    string `json:"ref"`
	Target string `json:"target,omitempty"`
	Scheme string `json:"scheme,omitempty"`
}

// ImageLoadRequest asks the daemon to import a file or directory it can
// read: a docker save tarball, an OCI archive or layout, gzip or not.
type ImageLoadRequest struct {
	Path     string `json:"path"`
	Platform string `json:"platform,omitempty"`
}

// ImageTagRequest gives Source the name Target.
type ImageTagRequest struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// ImagePruneRequest: All removes every unused image, not only unnamed ones.
type ImagePruneRequest struct {
	All bool `json:"all,omitempty"`
}

// RegistryLoginRequest carries credentials to check and store.
type RegistryLoginRequest struct {
	Registry string `json:"registry"`
	Username string `json:"username"`
	Password string `json:"password"`
	Scheme   string `json:"scheme,omitempty"`
}

// RegistryLogin says where credentials were stored.
type RegistryLogin struct {
	Registry string `json:"registry"`
	// Store is "docker-credential-<helper>" or Berth's credential file.
	Store string `json:"store"`
}

// RegistryLogoutRequest names the registry to forget.
type RegistryLogoutRequest struct {
	Registry string `json:"registry"`
}

// ImageHistoryEntry is one step of how an image was built, from its
// config's history (`berth image history`), newest first. Steps that made
// no layer (EmptyLayer) have Size 0 and no LayerDigest.
type ImageHistoryEntry struct {
	Created     time.Time `json:"created,omitzero"`
	CreatedBy   string    `json:"createdBy,omitempty"`
	Comment     string    `json:"comment,omitempty"`
	EmptyLayer  bool      `json:"emptyLayer,omitempty"`
	LayerDigest string    `json:"layerDigest,omitempty"`
	// Size is the layer's compressed size in the store (docker shows
	// the uncompressed size, which a pulled image does not record).
	Size int64 `json:"size"`
}
