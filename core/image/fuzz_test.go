package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/internal/layertest"
	"github.com/berthvm/berth/core/rootfs"
	"github.com/berthvm/berth/core/state"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/klauspost/compress/gzip"
)

// fuzzStore is one store for a whole fuzzing process, with a small bound
// on what an image may unpack to.
func fuzzStore(f *testing.F) *Store {
	home := f.TempDir()
	db, err := state.Open(filepath.Join(home, "berth.db"), state.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	s, err := Open(context.Background(), Options{Home: home, DB: db, MaxUnpacked: 8 << 20})
	if err != nil {
		f.Fatal(err)
	}
	return s
}

// tarFiles writes name, content pairs as a tar.
func tarFiles(files ...string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := 0; i+1 < len(files); i += 2 {
		tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	return b.Bytes()
}

// ociArchive is the tar of the files under dir (an OCI archive of a layout).
func ociArchive(f *testing.F, dir string) []byte {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files = append(files, filepath.ToSlash(rel), string(b))
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	return tarFiles(files...)
}

// checkLoad loads archive and checks what every load promises: a failure
// has an API kind and leaves the store as it was; what loads can be
// inspected and has its base disk.
func checkLoad(t *testing.T, s *Store, archive []byte) {
	before := snap(t, s)
	imgs, err := s.LoadArchive(context.Background(), bytes.NewReader(archive), "fuzz.tar", LoadOptions{Platform: "linux/amd64"})
	if err != nil {
		if api.CodeOf(err) == "" {
			t.Fatalf("LoadArchive: %v has no API error kind", err)
		}
		sameSnap(t, before, snap(t, s))
		return
	}
	for _, im := range imgs {
		// By manifest digest: a docker save and an OCI archive of one
		// image load as two manifests of one config (image ID).
		if _, err := s.Inspect(context.Background(), im.Digest); err != nil {
			t.Fatalf("loaded %s, which does not inspect: %v", im.Digest, err)
		}
		if !fileExists(s.DiskPath(im.Digest)) {
			t.Fatalf("loaded %s without its base disk", im.Digest)
		}
	}
}

// FuzzLoadArchive loads any bytes as an image archive (docker save, OCI
// archive, gzip-compressed or not), as berth load and docker load do.
func FuzzLoadArchive(f *testing.F) {
	img := testImage(f, "linux/amd64", layertest.Tar(f, []layertest.File{{Name: "bin/", Typ: '5', Mode: 0o755}, {Name: "bin/sh", Body: "#!", Mode: 0o755}}))
	seedStore := fuzzStore(f)
	dir := f.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		f.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"io.containerd.image.name": "example.com/fuzz:1"})); err != nil {
		f.Fatal(err)
	}
	oci := ociArchive(f, dir)
	if _, err := seedStore.Load(context.Background(), dir, LoadOptions{}); err != nil {
		f.Fatal(err)
	}
	var saved bytes.Buffer
	if err := seedStore.Save(context.Background(), &saved, "example.com/fuzz:1"); err != nil {
		f.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(saved.Bytes())
	zw.Close()
	f.Add(saved.Bytes())
	f.Add(oci)
	f.Add(gz.Bytes())
	f.Add(tarFiles("manifest.json", "[]", "../evil", "x"))
	f.Add(tarFiles("index.json", `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:`+strings.Repeat("0", 64)+`"}]}`))
	f.Add([]byte("not an archive"))

	s := fuzzStore(f)
	f.Fuzz(func(t *testing.T, archive []byte) {
		checkLoad(t, s, archive)
	})
}

// digestHex is the sha256 of b, in hex.
func digestHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// FuzzLoadImage loads archives made of fuzzed metadata (index.json, a
// manifest, a config, docker save's manifest.json) and a fuzzed layer,
// with the digests filled in, so that the fuzzer gets past the digest
// checks to the parsers behind them. In the fuzzed JSON, LAYER, CONFIG
// and MANIFEST stand for the hex digests of those blobs (DIFFID for the
// layer's), and LAYERSIZE, CONFIGSIZE and MANIFESTSIZE for their sizes.
func FuzzLoadImage(f *testing.F) {
	layer := layertest.Tar(f, []layertest.File{{Name: "etc/", Typ: '5', Mode: 0o755}, {Name: "etc/hosts", Body: "127.0.0.1 localhost\n"}})
	config := `{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:DIFFID"]},` +
		`"history":[{"created_by":"fuzz"}]}`
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:CONFIG","size":CONFIGSIZE},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:LAYER","size":LAYERSIZE}]}`
	index := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:MANIFEST",` +
		`"size":MANIFESTSIZE,"annotations":{"io.containerd.image.name":"example.com/fuzz:oci"},"platform":{"architecture":"amd64","os":"linux"}}]}`
	dockerManifest := `[{"Config":"blobs/sha256/CONFIG","RepoTags":["example.com/fuzz:docker"],"Layers":["blobs/sha256/LAYER"]}]`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(layer)
	zw.Close()
	f.Add(false, index, manifest, config, gz.Bytes())
	f.Add(true, dockerManifest, manifest, config, layer)
	f.Add(true, dockerManifest, manifest, config, gz.Bytes())
	f.Add(false, index, manifest, `{"rootfs":{"diff_ids":[]}}`, []byte{})

	s := fuzzStore(f)
	f.Fuzz(func(t *testing.T, docker bool, top, manifest, config string, layer []byte) {
		if len(top)+len(manifest)+len(config) > 64<<10 {
			return // the metadata is what is fuzzed here, not its size
		}
		diffID := digestHex(layer)
		if r, closeFn, err := rootfs.Decompress(bytes.NewReader(layer)); err == nil {
			if raw, err := io.ReadAll(r); err == nil {
				diffID = digestHex(raw)
			}
			closeFn()
		}
		fill := func(s string, pairs ...string) string {
			for i := 0; i+1 < len(pairs); i += 2 {
				s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
			}
			return s
		}
		config = fill(config, "DIFFID", diffID)
		manifest = fill(manifest, "CONFIGSIZE", fmt.Sprint(len(config)), "LAYERSIZE", fmt.Sprint(len(layer)),
			"CONFIG", digestHex([]byte(config)), "LAYER", digestHex(layer))
		top = fill(top, "MANIFESTSIZE", fmt.Sprint(len(manifest)), "CONFIGSIZE", fmt.Sprint(len(config)),
			"MANIFEST", digestHex([]byte(manifest)), "CONFIG", digestHex([]byte(config)), "LAYER", digestHex(layer))
		files := []string{"blobs/sha256/" + digestHex([]byte(config)), config, "blobs/sha256/" + digestHex(layer), string(layer),
			"blobs/sha256/" + digestHex([]byte(manifest)), manifest}
		if docker {
			files = append(files, "manifest.json", top)
		} else {
			files = append(files, "oci-layout", `{"imageLayoutVersion":"1.0.0"}`, "index.json", top)
		}
		checkLoad(t, s, tarFiles(files...))
	})
}

// FuzzParseReference reads image names as users and archives give them:
// a reference that parses prints as one that parses to the same, and a
// new name is always a tag.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"alpine", "ghcr.io/x/y:1", "r@sha256:" + strings.Repeat("a", 64), "localhost:5000/a/b:c",
		strings.Repeat("a", 64), "UPPER", "a:b:c", "[::1]:5000/x", "x@sha256:short", "linux/amd64", "linux/arm64/v8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := ParseReference(s); err == nil {
			again, err := ParseReference(r.String())
			if err != nil || again.String() != r.String() {
				t.Fatalf("ParseReference(%q) = %q, which parses to %v, %v", s, r, again, err)
			}
		} else if api.CodeOf(err) != api.CodeInvalidArgument {
			t.Fatalf("ParseReference(%q): %v", s, err)
		}
		if tag, err := parseNewName(s); err == nil && tag.TagStr() == "" {
			t.Fatalf("parseNewName(%q) = %q, no tag", s, tag)
		}
		if p, err := ParsePlatform(s); err == nil && (p.OS == "" || p.Architecture == "") {
			t.Fatalf("ParsePlatform(%q) = %+v", s, p)
		}
	})
}
