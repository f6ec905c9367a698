package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/rootfs"
	"github.com/berthvm/berth/core/state"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// Media types Berth can run. Anything else (Windows foreign layers, Helm
// charts, schema-1 manifests…) is refused with api.ErrUnsupported.
var (
	manifestTypes = map[types.MediaType]bool{types.OCIManifestSchema1: true, types.DockerManifestSchema2: true}
	indexTypes    = map[types.MediaType]bool{types.OCIImageIndex: true, types.DockerManifestList: true}
	configTypes   = map[types.MediaType]bool{types.OCIConfigJSON: true, types.DockerConfigJSON: true}
	layerTypes    = map[types.MediaType]bool{
		types.OCILayer: true, types.OCIUncompressedLayer: true, types.OCILayerZStd: true,
		types.DockerLayer: true, types.DockerUncompressedLayer: true,
		types.OCIRestrictedLayer: true, types.OCIUncompressedRestrictedLayer: true,
	}
)

// checkManifest refuses manifests Berth cannot turn into a root filesystem.
func checkManifest(mt types.MediaType, m *v1.Manifest) error {
	if !manifestTypes[mt] {
		return fmt.Errorf("unsupported manifest media type %q: %w", mt, api.ErrUnsupported)
	}
	if !configTypes[m.Config.MediaType] {
		return fmt.Errorf("config media type %q is not a container image (an artifact?): %w", m.Config.MediaType, api.ErrUnsupported)
	}
	if m.Config.Size < 0 {
		return fmt.Errorf("config %s has a negative size (%d): %w", m.Config.Digest, m.Config.Size, api.ErrCorrupt)
	}
	for _, l := range m.Layers {
		if !layerTypes[l.MediaType] {
			return fmt.Errorf("layer %s has unsupported media type %q: %w", l.Digest, l.MediaType, api.ErrUnsupported)
		}
		if l.Size < 0 {
			return fmt.Errorf("layer %s has a negative size (%d): %w", l.Digest, l.Size, api.ErrCorrupt)
		}
	}
	return nil
}

func digestOf(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// ingested is an image whose blobs are all in the store.
type ingested struct {
	digest   v1.Hash
	mt       types.MediaType
	manifest *v1.Manifest
	config   *v1.ConfigFile
}

// ingest copies img's manifest, config and layers into the store (layers in
// parallel, each verified, each retried on transient errors) and leases
// them to o.
func (s *Store) ingest(ctx context.Context, o *op, img v1.Image, progress api.ProgressFunc) (*ingested, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest: %v: %w", err, api.ErrCorrupt)
	}
	if mt == "" {
		mt = m.MediaType
	}
	if err := checkManifest(mt, m); err != nil {
		return nil, err
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", m.Config.Digest, err)
	}
	if _, err := o.put(ctx, m.Config.Digest, m.Config.Size, bytes.NewReader(rawCfg)); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, fmt.Errorf("config %s: %v: %w", m.Config.Digest, err, api.ErrCorrupt)
	}
	if n := len(cfg.RootFS.DiffIDs); n != len(m.Layers) {
		return nil, fmt.Errorf("config lists %d layers, manifest %d: %w", n, len(m.Layers), api.ErrCorrupt)
	}

	d := digestOf(raw)
	// The base disk is built while the layers arrive: the flattener reads
	// the top layer first, so layers are fetched top first, and it reads
	// each layer as its bytes land in the store (see streamReader).
	bctx, cancelBuild := context.WithCancelCause(ctx)
	defer cancelBuild(nil)
	arriving := make([]v1.Layer, len(m.Layers))
	for i, desc := range m.Layers {
		arriving[i] = &arrivingLayer{ctx: bctx, desc: desc, st: newLayerStream()}
	}
	wait := s.startDisk(bctx, o, d.String(), arriving, progress)

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Jobs)
	for i := len(m.Layers) - 1; i >= 0; i-- {
		desc := m.Layers[i]
		st := arriving[i].(*arrivingLayer).st
		g.Go(func() (err error) {
			defer func() {
				if err != nil {
					st.fail(err)
				}
			}()
			id := shortDigest(desc.Digest.String())
			if s.hasBlob(desc.Digest) {
				o.lease(desc.Digest.String())
				if err := s.checkBlobSize(desc.Digest, desc.Size); err != nil {
					return fmt.Errorf("layer %s: %w", desc.Digest, err)
				}
				st.complete(s.blobPath(desc.Digest), desc.Size)
				progress.Report(api.Progress{ID: id, Action: "download", Current: desc.Size, Total: desc.Size, Done: true, Message: "already exists"})
				return nil
			}
			err = s.retry(gctx, func(attempt int) error {
				if attempt > 0 {
					progress.Report(api.Progress{ID: id, Action: "download", Total: desc.Size, Message: fmt.Sprintf("retrying (attempt %d)", attempt+1)})
				}
				layer, err := img.LayerByDigest(desc.Digest)
				if err != nil {
					return err
				}
				rc, err := layer.Compressed()
				if err != nil {
					return err
				}
				defer rc.Close()
				pr := &progressReader{r: rc, id: id, action: "download", total: desc.Size, report: progress}
				_, err = o.putStream(gctx, desc.Digest, desc.Size, pr, st)
				return err
			})
			if err != nil {
				return fmt.Errorf("layer %s: %w", desc.Digest, err)
			}
			st.complete(s.blobPath(desc.Digest), desc.Size)
			progress.Report(api.Progress{ID: id, Action: "download", Current: desc.Size, Total: desc.Size, Done: true})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		cancelBuild(err)
		wait()
		return nil, err
	}
	if err := wait(); err != nil {
		return nil, err
	}
	if _, err := o.put(ctx, d, int64(len(raw)), bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &ingested{digest: d, mt: mt, manifest: m, config: cfg}, nil
}

// retry runs fn until it succeeds, fails permanently, or the backoff runs out.
func (s *Store) retry(ctx context.Context, fn func(attempt int) error) error {
	b := s.opts.Backoff
	delay := b.Duration
	var err error
	for attempt := 0; attempt < max(b.Steps, 1); attempt++ {
		if err = fn(attempt); err == nil || !transient(err) || attempt == b.Steps-1 {
			return err
		}
		slog.Info("image: transient error, retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", api.ErrCanceled, ctx.Err())
		case <-time.After(delay):
		}
		delay = time.Duration(float64(delay) * max(b.Factor, 1))
	}
	return err
}

// commit builds the base disk and records the image and its names, all or
// nothing. The disk comes first: a recorded image always has its disk.
func (s *Store) commit(ctx context.Context, o *op, in *ingested, names []name.Reference, repoDigest, source string, progress api.ProgressFunc) (state.Image, error) {
	digest := in.digest.String()
	o.lease("disk:" + digest)
	if !fileExists(s.DiskPath(digest)) {
		if err := s.ensureDisk(ctx, o, digest, progress); err != nil {
			return state.Image{}, err
		}
	}
	size := in.manifest.Config.Size
	for _, l := range in.manifest.Layers {
		size += l.Size
	}
	raw, _ := s.readBlob(in.digest)
	size += int64(len(raw))
	rec := state.Image{
		Digest:       digest,
		ConfigDigest: in.manifest.Config.Digest.String(),
		MediaType:    string(in.mt),
		Platform:     platformString(in.config.Platform()),
		Size:         size,
		Created:      in.config.Created.Time.UTC(),
		Added:        time.Now().UTC(),
		Source:       source,
	}
	err := s.db.Update(func(tx *state.Tx) error {
		if old, err := tx.Image(digest); err == nil {
			rec.Added = old.Added
			rec.RepoDigests = old.RepoDigests
		} else if !errors.Is(err, api.ErrNotFound) {
			return err
		}
		if repoDigest != "" && !contains(rec.RepoDigests, repoDigest) {
			rec.RepoDigests = append(rec.RepoDigests, repoDigest)
		}
		if err := tx.PutImage(rec); err != nil {
			return err
		}
		for _, n := range names {
			if err := tx.PutImageName(state.ImageName{Name: refString(n), Digest: digest, Updated: time.Now().UTC()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return state.Image{}, fmt.Errorf("record image %s: %w", digest, err)
	}
	if err := s.syncIndex(); err != nil {
		slog.Warn("image store: index.json not updated", "err", err)
	}
	return rec, nil
}

// diskBuild lets concurrent requests for one image's disk share one build.
type diskBuild struct {
	done chan struct{}
	err  error
}

// ensureDisk builds the base disk for an image unless it exists. The op
// leases the disk so a concurrent prune keeps it until the record lands.
func (s *Store) ensureDisk(ctx context.Context, o *op, digest string, progress api.ProgressFunc) error {
	return s.startDisk(ctx, o, digest, nil, progress)()
}

// startDisk starts building the base disk of digest (unless it exists or
// is being built) and returns a function that waits for it. layers, if
// given, are read instead of the stored image's, so a pull can build while
// its layers still arrive.
func (s *Store) startDisk(ctx context.Context, o *op, digest string, layers []v1.Layer, progress api.ProgressFunc) func() error {
	o.lease("disk:" + digest)
	path := s.DiskPath(digest)
	s.buildMu.Lock()
	defer s.buildMu.Unlock()
	if b, running := s.building[digest]; running {
		return func() error {
			select {
			case <-b.done:
				if b.err != nil {
					return b.err
				}
				return s.startDisk(ctx, o, digest, nil, progress)()
			case <-ctx.Done():
				return fmt.Errorf("%w: %w", api.ErrCanceled, ctx.Err())
			}
		}
	}
	if fileExists(path) {
		progress.Report(api.Progress{ID: "rootfs", Action: "build", Done: true, Message: "already built"})
		return func() error { return nil }
	}
	b := &diskBuild{done: make(chan struct{})}
	s.building[digest] = b
	go func() {
		err := func() error {
			if layers == nil {
				img, err := s.image(digest)
				if err != nil {
					return err
				}
				if layers, err = img.Layers(); err != nil {
					return err
				}
			}
			return rootfs.BuildBaseMax(ctx, layers, path, s.opts.MaxUnpacked, progress)
		}()
		if err != nil {
			err = fmt.Errorf("build root filesystem disk: %w", err)
		}
		b.err = err
		s.buildMu.Lock()
		delete(s.building, digest)
		s.buildMu.Unlock()
		close(b.done)
	}()
	return func() error {
		<-b.done
		return b.err
	}
}

// arrivingLayer is a layer being downloaded into the store: reading it
// follows the download, and ends once the layer's bytes are all read and
// verified.
type arrivingLayer struct {
	v1.Layer // only for the interface; Digest, Size and Compressed are ours
	ctx      context.Context
	desc     v1.Descriptor
	st       *layerStream
}

func (l *arrivingLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *arrivingLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *arrivingLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *arrivingLayer) Compressed() (io.ReadCloser, error) {
	return newStreamReader(l.ctx, l.st, l.desc), nil
}

// progressReader reports bytes read, at most every 100 ms.
type progressReader struct {
	r      io.Reader
	id     string
	action string
	total  int64
	n      atomic.Int64
	last   time.Time
	report api.ProgressFunc
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	cur := p.n.Add(int64(n))
	if p.report != nil && time.Since(p.last) >= 100*time.Millisecond {
		p.last = time.Now()
		p.report(api.Progress{ID: p.id, Action: p.action, Current: cur, Total: p.total})
	}
	return n, err
}

func platformString(p *v1.Platform) string {
	if p == nil {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// refString is the normalized form Berth stores and shows:
// "docker.io/library/alpine:3", "127.0.0.1:5000/x@sha256:…".
func refString(r name.Reference) string {
	reg := r.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	base := reg + "/" + r.Context().RepositoryStr()
	switch t := r.(type) {
	case name.Tag:
		return base + ":" + t.TagStr()
	case name.Digest:
		return base + "@" + t.DigestStr()
	}
	return r.String()
}

// repoString is the normalized repository of r, without tag or digest.
func repoString(r name.Reference) string {
	reg := r.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + r.Context().RepositoryStr()
}

var idPrefix = regexp.MustCompile(`^(sha256:)?[0-9a-f]{4,64}$`)

// resolve finds the local image s names: a name, a repo@digest, a manifest
// or config digest, or a unique prefix of one.
func (s *Store) resolve(ctx context.Context, ref string) (state.Image, error) {
	var found state.Image
	err := s.db.View(func(tx *state.Tx) error {
		if r, err := name.ParseReference(ref); err == nil {
			switch r := r.(type) {
			case name.Tag:
				if n, err := tx.ImageName(refString(r)); err == nil {
					found, err = tx.Image(n.Digest)
					return err
				}
			case name.Digest:
				if im, err := tx.Image(r.DigestStr()); err == nil {
					found = im
					return nil
				}
				images, err := tx.Images()
				if err != nil {
					return err
				}
				for _, im := range images {
					if contains(im.RepoDigests, refString(r)) {
						found = im
						return nil
					}
				}
			}
		}
		if idPrefix.MatchString(ref) {
			p := strings.TrimPrefix(ref, "sha256:")
			images, err := tx.Images()
			if err != nil {
				return err
			}
			var hits []state.Image
			for _, im := range images {
				if strings.HasPrefix(strings.TrimPrefix(im.Digest, "sha256:"), p) ||
					strings.HasPrefix(strings.TrimPrefix(im.ConfigDigest, "sha256:"), p) {
					hits = append(hits, im)
				}
			}
			if len(hits) > 1 {
				return fmt.Errorf("image id %q is ambiguous (%d images match); give more digits: %w", ref, len(hits), api.ErrInvalidArgument)
			}
			if len(hits) == 1 {
				found = hits[0]
				return nil
			}
		}
		return fmt.Errorf("image %q not found locally; pull it with `berth image pull %s`: %w", ref, ref, api.ErrNotFound)
	})
	return found, err
}
