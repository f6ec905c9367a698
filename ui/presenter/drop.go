package presenter

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/rootfs"
)

// ImageKind is what a dropped path holds, as far as a glance can tell; the
// daemon's load reads it in full and has the last word.
type ImageKind string

const (
	KindImageArchive ImageKind = "image archive"      // a docker save or OCI archive (tar, maybe compressed)
	KindOCILayout    ImageKind = "OCI image layout"   // a folder with index.json
	KindDockerFolder ImageKind = "docker save folder" // an unpacked docker save
)

// peekEntries is how many tar entries Classify looks at: image archives
// show what they are within the first few (their blobs or layer folders,
// or their index), while their content can be gigabytes.
const peekEntries = 8

// imageEntry matches the entries image archives begin with: OCI blobs and
// index files, and docker save's per-layer folders and config files.
var imageEntry = regexp.MustCompile(`^(blobs(/sha256(/[0-9a-f]{64})?)?/?|oci-layout|index\.json|manifest\.json|repositories|[0-9a-f]{64}(/.*|\.json)?)$`)

// Classify tells whether path is an image Berth can import, reading only
// its first tar entries (decompressing as needed). Anything else is an
// error that says what it is and what would do.
func Classify(path string) (ImageKind, error) {
	name := filepath.Base(path)
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s: no such file or folder: %w", name, api.ErrNotFound)
		}
		return "", fmt.Errorf("%s: %w", name, err)
	}
	if fi.IsDir() {
		switch {
		case exists(filepath.Join(path, "index.json")):
			return KindOCILayout, nil
		case exists(filepath.Join(path, "manifest.json")):
			return KindDockerFolder, nil
		}
		return "", fmt.Errorf("%s is a folder but not an image (no index.json or manifest.json): drop an OCI layout folder, or an archive from docker save: %w",
			name, api.ErrInvalidArgument)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file: %w", name, api.ErrInvalidArgument)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	r, done, err := rootfs.Decompress(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	defer done()
	tr := tar.NewReader(r)
	var seen []string
	for range peekEntries {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if len(seen) == 0 {
				return "", fmt.Errorf("%s is not an image archive (not a tar file): save images with docker save or skopeo copy: %w", name, api.ErrInvalidArgument)
			}
			return "", fmt.Errorf("%s: the archive is truncated or corrupt: %v: %w", name, err, api.ErrCorrupt)
		}
		entry := strings.TrimPrefix(hdr.Name, "./")
		if imageEntry.MatchString(entry) {
			return KindImageArchive, nil
		}
		seen = append(seen, entry)
	}
	if len(seen) == 0 {
		return "", fmt.Errorf("%s is an empty archive: %w", name, api.ErrInvalidArgument)
	}
	return "", fmt.Errorf("%s is a tar archive but not an image (it starts with %s, not blobs/ or layer folders): save images with docker save or skopeo copy: %w",
		name, strings.Join(seen[:min(len(seen), 3)], ", "), api.ErrInvalidArgument)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
