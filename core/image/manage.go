package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/state"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sync/errgroup"
)

// List returns every local image, newest first.
func (s *Store) List(ctx context.Context) ([]api.Image, error) {
	var out []api.Image
	err := s.db.View(func(tx *state.Tx) error {
		images, err := tx.Images()
		if err != nil {
			return err
		}
		for _, im := range images {
			names, err := tx.NamesOf(im.Digest)
			if err != nil {
				return err
			}
			out = append(out, toAPI(im, names))
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Added.After(out[j].Added) })
	return out, err
}

func toAPI(im state.Image, names []string) api.Image {
	return api.Image{
		ID: im.ConfigDigest, Digest: im.Digest, Names: names, RepoDigests: im.RepoDigests,
		Platform: im.Platform, Size: im.Size, Created: im.Created, Added: im.Added,
	}
}

func (s *Store) summary(im state.Image) (api.Image, error) {
	var names []string
	err := s.db.View(func(tx *state.Tx) (err error) { names, err = tx.NamesOf(im.Digest); return err })
	return toAPI(im, names), err
}

// Get returns the local image ref names (see Inspect for what ref may be).
func (s *Store) Get(ctx context.Context, ref string) (api.Image, error) {
	im, err := s.resolve(ctx, ref)
	if err != nil {
		return api.Image{}, err
	}
	return s.summary(im)
}

// Inspect returns an image's details: config, layers and base disk. ref is
// a name, repo@digest, a digest or a unique digest prefix.
func (s *Store) Inspect(ctx context.Context, ref string) (api.ImageDetail, error) {
	im, err := s.resolve(ctx, ref)
	if err != nil {
		return api.ImageDetail{}, err
	}
	sum, err := s.summary(im)
	if err != nil {
		return api.ImageDetail{}, err
	}
	img, err := s.image(im.Digest)
	if err != nil {
		return api.ImageDetail{}, fmt.Errorf("image %s: %w", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return api.ImageDetail{}, fmt.Errorf("image %s: manifest: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return api.ImageDetail{}, fmt.Errorf("image %s: config: %w", ref, err)
	}
	d := api.ImageDetail{Image: sum, MediaType: im.MediaType, Source: im.Source, Config: configOf(cfg)}
	for i, l := range m.Layers {
		al := api.ImageLayer{Digest: l.Digest.String(), MediaType: string(l.MediaType), Size: l.Size}
		if i < len(cfg.RootFS.DiffIDs) {
			al.DiffID = cfg.RootFS.DiffIDs[i].String()
		}
		d.Layers = append(d.Layers, al)
	}
	d.RootFS.Path = s.DiskPath(im.Digest)
	if fi, err := os.Stat(d.RootFS.Path); err == nil {
		d.RootFS.Size = fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			d.RootFS.Allocated = st.Blocks * 512
		}
	}
	return d, nil
}

// Config returns the run configuration of a local image.
func (s *Store) Config(ctx context.Context, ref string) (api.ImageConfig, error) {
	d, err := s.Inspect(ctx, ref)
	return d.Config, err
}

func configOf(cf *v1.ConfigFile) api.ImageConfig {
	c := cf.Config
	out := api.ImageConfig{
		Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir,
		User: c.User, Labels: c.Labels, StopSignal: c.StopSignal,
	}
	for p := range c.ExposedPorts {
		out.ExposedPorts = append(out.ExposedPorts, p)
	}
	for v := range c.Volumes {
		out.Volumes = append(out.Volumes, v)
	}
	sort.Strings(out.ExposedPorts)
	sort.Strings(out.Volumes)
	return out
}

// Tag gives the image source names another name.
func (s *Store) Tag(ctx context.Context, source, target string) error {
	im, err := s.resolve(ctx, source)
	if err != nil {
		return err
	}
	t, err := parseNewName(target)
	if err != nil {
		return err
	}
	if err := s.db.Update(func(tx *state.Tx) error {
		return tx.PutImageName(state.ImageName{Name: refString(t), Digest: im.Digest, Updated: time.Now().UTC()})
	}); err != nil {
		return fmt.Errorf("tag %s as %s: %w", source, target, err)
	}
	return s.syncIndex()
}

// Remove removes ref. Given a name, it drops that name, and the image too
// when no other name is left. Given a digest, it removes the image and all
// its names (which needs force when several names point at it). An image
// a container uses is refused unless force. Blobs no image needs any more
// are deleted.
func (s *Store) Remove(ctx context.Context, ref string, force bool) (api.ImageRemoved, error) {
	var out api.ImageRemoved
	im, err := s.resolve(ctx, ref)
	if err != nil {
		return out, err
	}
	byName := ""
	if r, err := name.ParseReference(ref); err == nil {
		if t, ok := r.(name.Tag); ok && !idPrefix.MatchString(ref) {
			byName = refString(t)
		}
	}
	var names []string
	if err := s.db.View(func(tx *state.Tx) (err error) { names, err = tx.NamesOf(im.Digest); return err }); err != nil {
		return out, err
	}
	deleteImage := true
	if byName != "" && slices.Contains(names, byName) {
		deleteImage = len(names) == 1
		names = []string{byName}
	} else if len(names) > 1 && !force {
		return out, fmt.Errorf("image %s has %d names (%s); remove them one by one or use -f: %w",
			ref, len(names), strings.Join(names, ", "), api.ErrConflict)
	}
	if deleteImage {
		users, err := s.inUse(ctx, im.Digest)
		if err != nil {
			return out, fmt.Errorf("image %s: check containers: %w", ref, err)
		}
		if len(users) > 0 && !force {
			return out, fmt.Errorf("image %s is used by container(s) %s; remove them first or use -f: %w",
				ref, strings.Join(users, ", "), api.ErrConflict)
		}
	}
	err = s.db.Update(func(tx *state.Tx) error {
		for _, n := range names {
			if err := tx.DeleteImageName(n); err != nil {
				return err
			}
		}
		if deleteImage {
			return tx.DeleteImage(im.Digest)
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("remove image %s: %w", ref, err)
	}
	out.Untagged = names
	if deleteImage {
		out.Deleted = []string{im.Digest}
		if _, err := s.collect(ctx); err != nil {
			return out, fmt.Errorf("remove image %s: free its blobs: %w", ref, err)
		}
	}
	return out, s.syncIndex()
}

// Prune removes images without a name (all unused images with all) that no
// container uses, then every blob and disk nothing references.
func (s *Store) Prune(ctx context.Context, all bool) (api.ImagePruned, error) {
	return s.PruneFunc(ctx, all, nil)
}

// PruneFunc is Prune limited to the candidates match accepts (nil: all of
// them), given each one's summary and config: docker's until and label
// filters.
func (s *Store) PruneFunc(ctx context.Context, all bool, match func(api.Image, api.ImageConfig) bool) (api.ImagePruned, error) {
	var victims []api.Image
	err := s.db.View(func(tx *state.Tx) error {
		images, err := tx.Images()
		if err != nil {
			return err
		}
		for _, im := range images {
			names, err := tx.NamesOf(im.Digest)
			if err != nil {
				return err
			}
			if all || len(names) == 0 {
				victims = append(victims, toAPI(im, names))
			}
		}
		return nil
	})
	if err != nil {
		return api.ImagePruned{}, err
	}
	var out api.ImagePruned
	for _, v := range victims {
		if match != nil {
			img, err := s.image(v.Digest)
			if err != nil {
				return out, fmt.Errorf("prune: %s: %w", v.Digest, err)
			}
			cfg, err := img.ConfigFile()
			if err != nil {
				return out, fmt.Errorf("prune: %s: config: %w", v.Digest, err)
			}
			if !match(v, configOf(cfg)) {
				continue
			}
		}
		users, err := s.inUse(ctx, v.Digest)
		if err != nil {
			return out, fmt.Errorf("prune: check containers of %s: %w", v.Digest, err)
		}
		if len(users) > 0 {
			continue
		}
		var names []string
		if err := s.db.Update(func(tx *state.Tx) error {
			if names, err = tx.NamesOf(v.Digest); err != nil {
				return err
			}
			for _, n := range names {
				if err := tx.DeleteImageName(n); err != nil {
					return err
				}
			}
			return tx.DeleteImage(v.Digest)
		}); err != nil {
			return out, fmt.Errorf("prune %s: %w", v.Digest, err)
		}
		out.Untagged = append(out.Untagged, names...)
		out.Deleted = append(out.Deleted, v.Digest)
	}
	freed, err := s.collect(ctx)
	out.Blobs, out.Disks, out.Reclaimed = freed.Blobs, freed.Disks, freed.Reclaimed
	if err != nil {
		return out, fmt.Errorf("prune: %w", err)
	}
	return out, s.syncIndex()
}

// Save writes the images refs name as one `docker load` tarball to w.
func (s *Store) Save(ctx context.Context, w io.Writer, refs ...string) error {
	if len(refs) == 0 {
		return fmt.Errorf("save: name at least one image: %w", api.ErrInvalidArgument)
	}
	m := map[name.Reference]v1.Image{}
	for _, ref := range refs {
		im, err := s.resolve(ctx, ref)
		if err != nil {
			return err
		}
		img, err := s.image(im.Digest)
		if err != nil {
			return fmt.Errorf("save %s: %w", ref, err)
		}
		var key name.Reference
		if r, err := name.ParseReference(ref); err == nil && !idPrefix.MatchString(ref) {
			if t, ok := r.(name.Tag); ok {
				key = t
			}
		}
		if key == nil {
			// No name given: save it under its names, or bare.
			var names []string
			s.db.View(func(tx *state.Tx) (err error) { names, err = tx.NamesOf(im.Digest); return err })
			for _, n := range names {
				if t, err := name.NewTag(n); err == nil {
					m[t] = img
				}
			}
			if len(names) > 0 {
				continue
			}
			d, err := name.NewDigest("berth.local/untagged@" + im.Digest)
			if err != nil {
				return err
			}
			key = d
		}
		m[key] = img
	}
	if err := tarball.MultiRefWrite(m, ctxWriter{ctx, w}); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, fmt.Errorf("%w: %w", api.ErrCanceled, err)
	}
	return c.w.Write(p)
}

// PushOptions tune Push.
type PushOptions struct {
	RegistryOptions
	Progress api.ProgressFunc
}

// Push uploads the local image ref to target's registry (target "" means
// ref itself) and records the pushed repo digest. Each layer goes up on
// its own first, so progress is reported per layer (ID: its digest), as
// docker shows a push; the manifest then finds them there.
func (s *Store) Push(ctx context.Context, ref, target string, opts PushOptions) (api.ImagePushed, error) {
	im, err := s.resolve(ctx, ref)
	if err != nil {
		return api.ImagePushed{}, err
	}
	if target == "" {
		target = ref
	}
	r, err := s.parseRemote(target, opts.RegistryOptions)
	if err != nil {
		return api.ImagePushed{}, err
	}
	img, err := s.image(im.Digest)
	if err != nil {
		return api.ImagePushed{}, fmt.Errorf("push %s: %w", ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return api.ImagePushed{}, fmt.Errorf("push %s: %w", ref, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Jobs)
	for _, l := range layers {
		g.Go(func() error { return s.pushLayer(gctx, r.Context(), l, opts) })
	}
	if err := g.Wait(); err != nil {
		return api.ImagePushed{}, fmt.Errorf("push %s: %w", target, registryError(r, err))
	}
	if err := remote.Write(r, img, s.remoteOptions(ctx, opts.RegistryOptions)...); err != nil {
		return api.ImagePushed{}, fmt.Errorf("push %s: %w", target, registryError(r, err))
	}
	raw, err := img.RawManifest()
	if err != nil {
		return api.ImagePushed{}, fmt.Errorf("push %s: %w", ref, err)
	}
	rd := repoString(r) + "@" + im.Digest
	err = s.db.Update(func(tx *state.Tx) error {
		cur, err := tx.Image(im.Digest)
		if err != nil {
			if errors.Is(err, api.ErrNotFound) {
				return nil // removed meanwhile
			}
			return err
		}
		if !contains(cur.RepoDigests, rd) {
			cur.RepoDigests = append(cur.RepoDigests, rd)
		}
		return tx.PutImage(cur)
	})
	return api.ImagePushed{Ref: refString(r), Digest: im.Digest, Size: int64(len(raw))}, err
}

// pushLayer uploads one layer to repo, reporting its progress.
func (s *Store) pushLayer(ctx context.Context, repo name.Repository, l v1.Layer, opts PushOptions) error {
	h, err := l.Digest()
	if err != nil {
		return err
	}
	size, err := l.Size()
	if err != nil {
		return err
	}
	id := shortDigest(h.String())
	opts.Progress.Report(api.Progress{ID: id, Action: "upload", Total: size})
	updates := make(chan v1.Update, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for u := range updates {
			opts.Progress.Report(api.Progress{ID: id, Action: "upload", Current: u.Complete, Total: u.Total})
		}
	}()
	err = remote.WriteLayer(repo, l, append(s.remoteOptions(ctx, opts.RegistryOptions), remote.WithProgress(updates))...)
	<-done
	if err != nil {
		return fmt.Errorf("layer %s: %w", h, err)
	}
	opts.Progress.Report(api.Progress{ID: id, Action: "upload", Current: size, Total: size, Done: true})
	return nil
}

// History returns how the image was built, newest step first: its
// config's history, each step that made a layer matched with that layer.
func (s *Store) History(ctx context.Context, ref string) ([]api.ImageHistoryEntry, error) {
	im, err := s.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	img, err := s.image(im.Digest)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", ref, err)
	}
	return historyOf(cfg.History, m.Layers), nil
}

// historyOf pairs history steps with layers in order, and returns them
// newest first. An image without history (some tools write none) gets one
// step per layer, as docker shows it.
func historyOf(hist []v1.History, layers []v1.Descriptor) []api.ImageHistoryEntry {
	var out []api.ImageHistoryEntry
	li := 0
	for _, h := range hist {
		e := api.ImageHistoryEntry{Created: h.Created.Time, CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		if !h.EmptyLayer && li < len(layers) {
			e.LayerDigest, e.Size = layers[li].Digest.String(), layers[li].Size
			li++
		}
		out = append(out, e)
	}
	for ; li < len(layers); li++ {
		out = append(out, api.ImageHistoryEntry{LayerDigest: layers[li].Digest.String(), Size: layers[li].Size})
	}
	slices.Reverse(out)
	return out
}
