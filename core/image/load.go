package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/rootfs"
	"github.com/berthvm/berth/core/state"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// LoadOptions tune Load.
type LoadOptions struct {
	// Platform picks the image of a multi-platform archive; default
	// linux/<host arch>.
	Platform string
	Progress api.ProgressFunc
}

// Load imports the images in path: a `docker save` tarball, an OCI archive
// (a tar of an OCI layout), either gzip- or zstd-compressed, or an OCI
// layout directory (or an unpacked docker save). It returns the images
// loaded. On failure the store is as it was.
func (s *Store) Load(ctx context.Context, p string, opts LoadOptions) ([]api.Image, error) {
	plat, err := ParsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	o := s.begin()
	recs, err := s.load(ctx, o, p, plat, opts.Progress)
	o.end(err != nil)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", p, err)
	}
	return s.summaries(recs)
}

func (s *Store) summaries(recs []state.Image) ([]api.Image, error) {
	var out []api.Image
	for _, r := range recs {
		im, err := s.summary(r)
		if err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, nil
}

func (s *Store) load(ctx context.Context, o *op, p string, plat v1.Platform, progress api.ProgressFunc) ([]state.Image, error) {
	// Non-blocking, so that a named pipe is opened at once (a plain open
	// would wait, uncancellable, for a writer) and refused below; it
	// changes nothing for a file or a directory.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no such file or directory: %w", api.ErrNotFound)
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return s.loadSource(ctx, o, dirSource{root: p}, true, plat, "load "+p, progress)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file or a directory (%s): the daemon reads only files; "+
			"send a pipe's content instead: %w", fileKind(fi.Mode()), api.ErrInvalidArgument)
	}
	as, err := s.stageArchive(ctx, o, f, filepath.Base(p), fi.Size(), progress)
	if err != nil {
		return nil, err
	}
	return s.loadSource(ctx, o, as, false, plat, "load "+p, progress)
}

// fileKind names a file type that is not a regular file or directory.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

// LoadArchive imports the images of an archive read from r (a docker save
// tarball or an OCI archive, compressed or not), such as an embedded or
// uploaded one; label names it in errors and records.
func (s *Store) LoadArchive(ctx context.Context, r io.Reader, label string, opts LoadOptions) ([]api.Image, error) {
	plat, err := ParsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	o := s.begin()
	recs, err := func() ([]state.Image, error) {
		as, err := s.stageArchive(ctx, o, r, label, 0, opts.Progress)
		if err != nil {
			return nil, err
		}
		return s.loadSource(ctx, o, as, false, plat, "load "+label, opts.Progress)
	}()
	o.end(err != nil)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", label, err)
	}
	return s.summaries(recs)
}

func (s *Store) loadSource(ctx context.Context, o *op, src source, isDir bool, plat v1.Platform, source string, progress api.ProgressFunc) ([]state.Image, error) {
	switch {
	case src.exists("index.json"):
		return s.loadLayout(ctx, o, src, plat, source, progress)
	case src.exists("manifest.json"):
		return s.loadDocker(ctx, o, src, source, progress)
	}
	if !isDir {
		return nil, fmt.Errorf("neither a docker save nor an OCI archive (no index.json or manifest.json; is the file complete?): %w", api.ErrInvalidArgument)
	}
	return nil, fmt.Errorf("neither a docker save nor an OCI layout directory (no index.json or manifest.json): %w", api.ErrInvalidArgument)
}

// source is a docker save or OCI layout, unpacked or staged.
type source interface {
	exists(name string) bool
	open(name string) (io.ReadCloser, error)
	// stage puts the file into the store and returns its digest.
	stage(ctx context.Context, o *op, name string) (v1.Hash, int64, error)
}

type dirSource struct{ root string }

func (d dirSource) path(name string) (string, error) {
	clean, err := cleanEntry(name)
	if err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(clean)), nil
}

func (d dirSource) exists(name string) bool {
	p, err := d.path(name)
	return err == nil && fileExists(p)
}

func (d dirSource) open(name string) (io.ReadCloser, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is missing: %w", name, api.ErrNotFound)
	}
	return f, err
}

func (d dirSource) stage(ctx context.Context, o *op, name string) (v1.Hash, int64, error) {
	rc, err := d.open(name)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	defer rc.Close()
	return o.putUnknown(ctx, rc)
}

// archiveSource is an archive whose files were all streamed into the
// store once (verified where their name is a digest); files maps each
// entry name to its blob.
type archiveSource struct {
	s     *Store
	files map[string]v1.Hash
	sizes map[string]int64
}

func (a *archiveSource) exists(name string) bool {
	_, ok := a.files[strings.TrimPrefix(path.Clean(name), "./")]
	return ok
}

func (a *archiveSource) open(name string) (io.ReadCloser, error) {
	h, ok := a.files[strings.TrimPrefix(path.Clean(name), "./")]
	if !ok {
		return nil, fmt.Errorf("%s is missing from the archive: %w", name, api.ErrNotFound)
	}
	return os.Open(a.s.blobPath(h))
}

func (a *archiveSource) stage(_ context.Context, _ *op, name string) (v1.Hash, int64, error) {
	n := strings.TrimPrefix(path.Clean(name), "./")
	h, ok := a.files[n]
	if !ok {
		return v1.Hash{}, 0, fmt.Errorf("%s is missing from the archive: %w", name, api.ErrNotFound)
	}
	return h, a.sizes[n], nil
}

var blobEntry = regexp.MustCompile(`^blobs/sha256/([0-9a-f]{64})$`)

// cleanEntry normalizes an archive entry name and refuses one that leaves
// the archive ("../x", "/etc/passwd").
func cleanEntry(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("archive entry %q is an absolute path: %w", name, api.ErrInvalidArgument)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("archive entry %q escapes the archive: %w", name, api.ErrInvalidArgument)
		}
	}
	return strings.TrimPrefix(path.Clean(name), "./"), nil
}

// stageArchive streams the archive once, storing each file as a blob.
// size (0 if unknown) is for progress.
func (s *Store) stageArchive(ctx context.Context, o *op, f io.Reader, label string, size int64, progress api.ProgressFunc) (*archiveSource, error) {
	pr := &progressReader{r: f, id: label, action: "read", total: size, report: progress}
	r, closeFn, err := rootfs.Decompress(pr)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	a := &archiveSource{s: s, files: map[string]v1.Hash{}, sizes: map[string]int64{}}
	links := map[string]string{}
	tr := tar.NewReader(markReads{r})
	for first := true; ; first = false {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se sourceErr
			if first && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &se) {
				return nil, fmt.Errorf("not a tar archive (%v): %w", err, api.ErrInvalidArgument)
			}
			return nil, fmt.Errorf("archive is truncated or corrupt: %v: %w", err, api.ErrCorrupt)
		}
		clean, err := cleanEntry(hdr.Name)
		if err != nil {
			return nil, err
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			var h v1.Hash
			if m := blobEntry.FindStringSubmatch(clean); m != nil {
				h = v1.Hash{Algorithm: "sha256", Hex: m[1]}
				if _, err := o.put(ctx, h, hdr.Size, tr); err != nil {
					return nil, archiveErr(clean, err)
				}
			} else if h, _, err = o.putUnknown(ctx, tr); err != nil {
				return nil, archiveErr(clean, err)
			}
			a.files[clean] = h
			a.sizes[clean] = hdr.Size
		case tar.TypeSymlink, tar.TypeLink:
			// Older docker save links layers shared by several images.
			target := hdr.Linkname
			if hdr.Typeflag == tar.TypeSymlink {
				target = path.Join(path.Dir(clean), target)
			}
			t, err := cleanEntry(target)
			if err != nil || strings.HasPrefix(path.Clean(target), "../") {
				return nil, fmt.Errorf("archive entry %q links outside the archive (%q): %w", hdr.Name, hdr.Linkname, api.ErrInvalidArgument)
			}
			links[clean] = t
		}
	}
	progress.Report(api.Progress{ID: label, Action: "read", Current: pr.n.Load(), Total: size, Done: true})
	for from, to := range links {
		for range 8 { // follow short chains
			if next, ok := links[to]; ok {
				to = next
			}
		}
		if h, ok := a.files[to]; ok {
			a.files[from] = h
			a.sizes[from] = a.sizes[to]
		}
	}
	return a, nil
}

// archiveErr explains a failure while storing an archive entry: reading
// the archive (truncated, bad compression) is api.ErrCorrupt; anything
// else (a full disk) keeps its own kind.
func archiveErr(entry string, err error) error {
	var re sourceErr
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &re) {
		return fmt.Errorf("archive is truncated or corrupt (in %s): %v: %w", entry, err, api.ErrCorrupt)
	}
	return fmt.Errorf("%s: %w", entry, err)
}

// sourceErr marks an error that came from reading the archive itself.
type sourceErr struct{ err error }

func (e sourceErr) Error() string { return e.err.Error() }

type markReads struct{ r io.Reader }

func (m markReads) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && err != io.EOF {
		err = sourceErr{err}
	}
	return n, err
}

func readAllFrom(src source, name string, limit int64) ([]byte, error) {
	rc, err := src.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", name, limit, api.ErrInvalidArgument)
	}
	return b, nil
}

const maxMeta = 8 << 20

func layoutBlob(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// loadLayout imports an OCI layout: every image its index names, and for
// each nested index the image of the requested platform.
func (s *Store) loadLayout(ctx context.Context, o *op, src source, plat v1.Platform, from string, progress api.ProgressFunc) ([]state.Image, error) {
	raw, err := readAllFrom(src, "index.json", maxMeta)
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("index.json: %v: %w", err, api.ErrCorrupt)
	}
	var out []state.Image
	for _, d := range idx.Manifests {
		desc := d
		if indexTypes[d.MediaType] {
			child, err := s.selectFromLayout(src, d, plat)
			if err != nil {
				return nil, err
			}
			desc = child
		} else if !manifestTypes[d.MediaType] {
			return nil, fmt.Errorf("index.json entry %s: unsupported media type %q: %w", d.Digest, d.MediaType, api.ErrUnsupported)
		}
		img, err := partial.CompressedToImage(&layoutImage{src: src, desc: desc})
		if err != nil {
			return nil, err
		}
		in, err := s.ingest(ctx, o, img, progress)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", d.Digest, err)
		}
		var names []name.Reference
		if n := layoutName(d.Annotations); n != nil {
			names = append(names, n)
		}
		rec, err := s.commit(ctx, o, in, names, "", from, progress)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("index.json lists no image: %w", api.ErrInvalidArgument)
	}
	return out, nil
}

func (s *Store) selectFromLayout(src source, d v1.Descriptor, plat v1.Platform) (v1.Descriptor, error) {
	raw, err := readAllFrom(src, layoutBlob(d.Digest), maxMeta)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("index %s: %w", d.Digest, err)
	}
	if digestOf(raw) != d.Digest {
		return v1.Descriptor{}, fmt.Errorf("index %s: content has digest %s: %w", d.Digest, digestOf(raw), api.ErrCorrupt)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("index %s: %v: %w", d.Digest, err, api.ErrCorrupt)
	}
	return selectPlatform(staticIndex{im}, plat)
}

// staticIndex adapts a parsed index to what selectPlatform reads.
type staticIndex struct{ m *v1.IndexManifest }

func (x staticIndex) IndexManifest() (*v1.IndexManifest, error) { return x.m, nil }

// layoutName reads the reference an OCI layout gives an image. A bare tag
// ("latest", as skopeo writes for oci-archive:x.tar) names no repository,
// so the image loads untagged.
func layoutName(ann map[string]string) name.Reference {
	for _, key := range []string{"io.containerd.image.name", "org.opencontainers.image.ref.name"} {
		v := ann[key]
		if v == "" || !strings.ContainsAny(v, ":/") {
			continue
		}
		if t, err := parseNewName(v); err == nil {
			return t
		}
	}
	return nil
}

// layoutImage reads one image of an OCI layout source.
type layoutImage struct {
	src  source
	desc v1.Descriptor
	raw  []byte
}

func (l *layoutImage) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

func (l *layoutImage) RawManifest() ([]byte, error) {
	if l.raw != nil {
		return l.raw, nil
	}
	raw, err := readAllFrom(l.src, layoutBlob(l.desc.Digest), maxMeta)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", l.desc.Digest, err)
	}
	if digestOf(raw) != l.desc.Digest {
		return nil, fmt.Errorf("manifest %s: content has digest %s: %w", l.desc.Digest, digestOf(raw), api.ErrCorrupt)
	}
	if l.desc.Size != int64(len(raw)) {
		return nil, fmt.Errorf("manifest %s: the index says %d bytes, the content has %d: %w", l.desc.Digest, l.desc.Size, len(raw), api.ErrCorrupt)
	}
	l.raw = raw
	return raw, nil
}

func (l *layoutImage) manifest() (*v1.Manifest, error) {
	raw, err := l.RawManifest()
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %v: %w", l.desc.Digest, err, api.ErrCorrupt)
	}
	return m, nil
}

func (l *layoutImage) RawConfigFile() ([]byte, error) {
	m, err := l.manifest()
	if err != nil {
		return nil, err
	}
	return readAllFrom(l.src, layoutBlob(m.Config.Digest), maxMeta)
}

func (l *layoutImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := l.manifest()
	if err != nil {
		return nil, err
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if d.Digest == h {
			return &layoutBlobLayer{src: l.src, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("blob %s is not in manifest %s: %w", h, l.desc.Digest, api.ErrNotFound)
}

type layoutBlobLayer struct {
	src  source
	desc v1.Descriptor
}

func (b *layoutBlobLayer) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *layoutBlobLayer) Size() (int64, error)                { return b.desc.Size, nil }
func (b *layoutBlobLayer) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *layoutBlobLayer) Compressed() (io.ReadCloser, error) {
	return b.src.open(layoutBlob(b.desc.Digest))
}

// dockerManifest is one entry of a docker save manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// loadDocker imports a docker save: it writes an OCI manifest for each
// image (layers keep the bytes docker wrote, compressed or not) after
// checking every layer against the config's diff ids.
func (s *Store) loadDocker(ctx context.Context, o *op, src source, from string, progress api.ProgressFunc) ([]state.Image, error) {
	raw, err := readAllFrom(src, "manifest.json", maxMeta)
	if err != nil {
		return nil, err
	}
	var entries []dockerManifest
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("manifest.json: %v: %w", err, api.ErrCorrupt)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("manifest.json lists no image: %w", api.ErrInvalidArgument)
	}
	var out []state.Image
	for _, e := range entries {
		label := e.Config
		if len(e.RepoTags) > 0 {
			label = e.RepoTags[0]
		}
		in, err := s.dockerImage(ctx, o, src, e)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", label, err)
		}
		var names []name.Reference
		for _, t := range e.RepoTags {
			n, err := parseNewName(t)
			if err != nil {
				return nil, fmt.Errorf("image %s: repo tag: %w", label, err)
			}
			names = append(names, n)
		}
		rec, err := s.commit(ctx, o, in, names, "", from, progress)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

func (s *Store) dockerImage(ctx context.Context, o *op, src source, e dockerManifest) (*ingested, error) {
	cfgDigest, cfgSize, err := src.stage(ctx, o, e.Config)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	rawCfg, err := s.readBlob(cfgDigest)
	if err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, fmt.Errorf("config %s: %v: %w", e.Config, err, api.ErrCorrupt)
	}
	if len(cfg.RootFS.DiffIDs) != len(e.Layers) {
		return nil, fmt.Errorf("config lists %d layers, manifest.json %d: %w", len(cfg.RootFS.DiffIDs), len(e.Layers), api.ErrCorrupt)
	}
	m := &v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgDigest, Size: cfgSize},
	}
	for i, lp := range e.Layers {
		h, size, err := src.stage(ctx, o, lp)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", lp, err)
		}
		mt, diffID, err := s.layerKind(h)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", lp, err)
		}
		if diffID != cfg.RootFS.DiffIDs[i] {
			return nil, fmt.Errorf("layer %s has diff id %s, the config says %s: %w", lp, diffID, cfg.RootFS.DiffIDs[i], api.ErrCorrupt)
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: mt, Digest: h, Size: size})
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	d := digestOf(raw)
	if _, err := o.put(ctx, d, int64(len(raw)), bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	return &ingested{digest: d, mt: m.MediaType, manifest: m, config: cfg}, nil
}

// layerKind tells a stored layer's media type from its first bytes, and
// its diff id (the digest of the uncompressed tar).
func (s *Store) layerKind(h v1.Hash) (types.MediaType, v1.Hash, error) {
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		return "", v1.Hash{}, err
	}
	defer f.Close()
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", v1.Hash{}, err
	}
	var mt types.MediaType
	switch rootfs.Compression(magic[:n]) {
	case "gzip":
		mt = types.OCILayer
	case "zstd":
		mt = types.OCILayerZStd
	default:
		return types.OCIUncompressedLayer, h, nil
	}
	r, closeFn, err := rootfs.Decompress(f)
	if err != nil {
		return "", v1.Hash{}, err
	}
	defer closeFn()
	diffID, _, err := v1.SHA256(r)
	if err != nil {
		return "", v1.Hash{}, fmt.Errorf("decompress: %v: %w", err, api.ErrCorrupt)
	}
	return mt, diffID, nil
}
