package state

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/berthvm/berth/core/api"
)

// Image is the record of one image stored in the content store, keyed by
// its manifest digest. The blobs themselves live in core/image's OCI
// layout; this record is what makes them an image Berth knows.
type Image struct {
	// Digest is the manifest digest ("sha256:…"), the image's identity.
	Digest string `json:"digest"`
	// ConfigDigest is the config blob's digest, what Docker calls the image ID.
	ConfigDigest string `json:"configDigest"`
	// MediaType of the manifest (OCI or Docker schema 2).
	MediaType string `json:"mediaType"`
	// Platform is "os/arch[/variant]" from the config.
	Platform string `json:"platform"`
	// Size is the bytes of manifest, config and layers in the store.
	Size int64 `json:"size"`
	// RepoDigests are "repo@sha256:…" references the image was pulled or
	// pushed by (for a multi-arch pull, the index digest).
	RepoDigests []string `json:"repoDigests,omitempty"`
	// Created is the image's own creation time (from its config).
	Created time.Time `json:"created,omitzero"`
	// Added is when this store first got the image.
	Added time.Time `json:"added"`
	// Source says where it came from ("pull docker.io/library/alpine:3",
	// "load /tmp/x.tar").
	Source string `json:"source,omitempty"`
}

// ImageName maps a normalized reference ("docker.io/library/alpine:3") to
// an image digest.
type ImageName struct {
	Name    string    `json:"name"`
	Digest  string    `json:"digest"`
	Updated time.Time `json:"updated"`
}

// Image reads the image record for a manifest digest.
func (t *Tx) Image(digest string) (Image, error) {
	var im Image
	if err := t.getJSON(bucketImages, digest, &im); err != nil {
		return Image{}, err
	}
	return im, nil
}

// PutImage stores (creates or replaces) an image record.
func (t *Tx) PutImage(im Image) error {
	if im.Digest == "" {
		return fmt.Errorf("image record without digest: %w", api.ErrInvalidArgument)
	}
	return t.putJSON(bucketImages, im.Digest, im)
}

// DeleteImage removes an image record; a missing one is not an error.
func (t *Tx) DeleteImage(digest string) error { return t.delete(bucketImages, digest) }

// Images lists every image record, ordered by digest.
func (t *Tx) Images() ([]Image, error) {
	return listRecords[Image](t, bucketImages)
}

// ImageName resolves a normalized reference.
func (t *Tx) ImageName(name string) (ImageName, error) {
	var n ImageName
	if err := t.getJSON(bucketImageNames, name, &n); err != nil {
		return ImageName{}, err
	}
	return n, nil
}

// PutImageName points a name at an image, replacing what it named before.
// The image record must exist, so a name never dangles.
func (t *Tx) PutImageName(n ImageName) error {
	if n.Name == "" || n.Digest == "" {
		return fmt.Errorf("image name %q -> %q: %w", n.Name, n.Digest, api.ErrInvalidArgument)
	}
	if _, err := t.Image(n.Digest); err != nil {
		return fmt.Errorf("name %s: %w", n.Name, err)
	}
	return t.putJSON(bucketImageNames, n.Name, n)
}

// DeleteImageName removes a name; a missing one is not an error.
func (t *Tx) DeleteImageName(name string) error { return t.delete(bucketImageNames, name) }

// ImageNames lists every name, ordered by name.
func (t *Tx) ImageNames() ([]ImageName, error) {
	return listRecords[ImageName](t, bucketImageNames)
}

// NamesOf returns the names pointing at digest, sorted.
func (t *Tx) NamesOf(digest string) ([]string, error) {
	all, err := t.ImageNames()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if n.Digest == digest {
			out = append(out, n.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// listRecords decodes every JSON record of a bucket, in key order.
func listRecords[T any](t *Tx, bucket string) ([]T, error) {
	b, err := t.bucket(bucket)
	if err != nil {
		return nil, err
	}
	var out []T
	err = b.ForEach(func(k, raw []byte) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("%s %q: %v: %w", bucket, k, err, api.ErrCorrupt)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}
