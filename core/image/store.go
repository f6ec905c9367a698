package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/atomicfile"
	"github.com/berthvm/berth/core/rootfs"
	"github.com/berthvm/berth/core/state"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// InUseFunc reports the containers that use the image with the given
// manifest digest; the runtime supplies it. An empty answer means unused.
type InUseFunc func(ctx context.Context, digest string) ([]string, error)

// Options configure a Store. Home and DB are required.
type Options struct {
	// Home is Berth's data dir: blobs go to Home/content (an OCI image
	// layout), base disks to Home/rootfs, credentials to Home/auth.json.
	Home string
	DB   *state.DB
	// InUse tells whether containers use an image. Default: nothing is in use.
	InUse InUseFunc
	// Keychain finds registry credentials. Default: Berth's own credential
	// file (see Login), then the user's docker config and its helpers.
	Keychain authn.Keychain
	// Transport carries registry requests. Default: http.DefaultTransport.
	Transport http.RoundTripper
	// Jobs is how many blobs move at once in a pull or push. Default 4.
	Jobs int
	// Backoff paces retries of transient registry failures. Default: 4
	// attempts, 1 s doubling with jitter.
	Backoff remote.Backoff
	// DockerConfigDir is where the user's docker config.json lives, for
	// Login to find a credential helper. Default: $DOCKER_CONFIG, else
	// ~/.docker.
	DockerConfigDir string
	// MaxUnpacked bounds the bytes an image's layers unpack to, together
	// (what its base disk holds): a pull or load past it fails naming the
	// layer, so a small layer that expands enormously cannot fill the
	// disk. Default rootfs.MaxBaseDisk, the largest base disk Berth builds.
	MaxUnpacked int64
}

// Store is the content store plus the image records. Its methods are safe
// for concurrent use.
type Store struct {
	opts    Options
	db      *state.DB
	content string // OCI layout root
	blobs   string // content/blobs/sha256
	tmp     string // content/tmp: in-flight blobs
	disks   string // rootfs/<hex>.ext4

	mu     sync.Mutex
	leases map[string]int // blob or disk digest -> operations that need it kept

	buildMu  sync.Mutex
	building map[string]*diskBuild
}

// Open opens the store under opts.Home, creating it if needed, and cleans
// what an interrupted run left: temp files, and blobs and disks that no
// image record references.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Home == "" || opts.DB == nil {
		return nil, fmt.Errorf("image store: home and database are required: %w", api.ErrInvalidArgument)
	}
	if opts.MaxUnpacked <= 0 {
		opts.MaxUnpacked = rootfs.MaxBaseDisk
	}
	if opts.Jobs <= 0 {
		opts.Jobs = 4
	}
	if opts.Backoff.Steps == 0 {
		opts.Backoff = remote.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: 4}
	}
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport
	}
	if opts.Keychain == nil {
		opts.Keychain = authn.NewMultiKeychain(fileKeychain{path: filepath.Join(opts.Home, authFile)}, authn.DefaultKeychain)
	}
	s := &Store{
		opts:     opts,
		db:       opts.DB,
		content:  filepath.Join(opts.Home, "content"),
		disks:    filepath.Join(opts.Home, "rootfs"),
		leases:   map[string]int{},
		building: map[string]*diskBuild{},
	}
	s.blobs = filepath.Join(s.content, "blobs", "sha256")
	s.tmp = filepath.Join(s.content, "tmp")
	for _, d := range []string{s.blobs, s.disks} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	// Temp files only exist while an operation runs; at Open none does.
	if err := os.RemoveAll(s.tmp); err != nil {
		return nil, fmt.Errorf("image store: clean %s: %w", s.tmp, err)
	}
	if err := os.MkdirAll(s.tmp, 0o700); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	if tmps, _ := filepath.Glob(filepath.Join(s.disks, atomicfile.TempPrefix+"*")); len(tmps) > 0 {
		for _, p := range tmps {
			os.Remove(p)
		}
	}
	layoutFile := filepath.Join(s.content, "oci-layout")
	if _, err := os.Stat(layoutFile); errors.Is(err, fs.ErrNotExist) {
		if err := atomicfile.WriteFile(layoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	if _, err := s.collect(ctx); err != nil {
		return nil, fmt.Errorf("image store: sweep after restart: %w", err)
	}
	if err := s.syncIndex(); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return s, nil
}

// ContentDir is the OCI image layout holding every blob.
func (s *Store) ContentDir() string { return s.content }

// DiskPath is where the base disk of the image with this manifest digest
// lives (it may not exist yet).
func (s *Store) DiskPath(digest string) string {
	return filepath.Join(s.disks, strings.TrimPrefix(digest, "sha256:")+".ext4")
}

func (s *Store) blobPath(h v1.Hash) string { return filepath.Join(s.blobs, h.Hex) }

// op tracks what one operation holds and adds, so that a failure can take
// its additions back and a concurrent prune never deletes them midway.
type op struct {
	s       *Store
	mu      sync.Mutex // layers arrive in parallel
	leased  []string
	created []string
}

func (s *Store) begin() *op { return &op{s: s} }

func (o *op) lease(d string) {
	o.s.mu.Lock()
	o.s.leases[d]++
	o.s.mu.Unlock()
	o.mu.Lock()
	o.leased = append(o.leased, d)
	o.mu.Unlock()
}

func (o *op) addCreated(d string) {
	o.mu.Lock()
	o.created = append(o.created, d)
	o.mu.Unlock()
}

// end releases the op's leases and removes the blobs the op created that
// no image references: after a failure all of them, so the store is as it
// was; after a success the archive entries no manifest named (a load
// stages every entry before it reads the manifests).
func (o *op) end(failed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range o.leased {
		if s.leases[d]--; s.leases[d] <= 0 {
			delete(s.leases, d)
		}
	}
	if len(o.created) == 0 {
		return
	}
	keep, err := s.referencedLocked()
	if err != nil {
		slog.Warn("image store: cannot tell which blobs are referenced; keeping the operation's blobs for prune",
			"failed", failed, "err", err)
		return
	}
	for _, d := range o.created {
		if keep[d] || s.leases[d] > 0 {
			continue
		}
		h, err := v1.NewHash(d)
		if err != nil {
			continue
		}
		if err := os.Remove(s.blobPath(h)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			slog.Warn("image store: remove blob no image references", "digest", d, "err", err)
		}
	}
}

// hasBlob reports whether a complete blob is stored.
func (s *Store) hasBlob(h v1.Hash) bool {
	_, err := os.Stat(s.blobPath(h))
	return err == nil
}

// checkBlobSize checks that the stored blob h has size bytes.
func (s *Store) checkBlobSize(h v1.Hash, size int64) error {
	fi, err := os.Stat(s.blobPath(h))
	if err != nil {
		return fmt.Errorf("content store: %w", err)
	}
	if fi.Size() != size {
		return fmt.Errorf("blob %s: the descriptor says %d bytes, the content has %d: %w", h, size, fi.Size(), api.ErrCorrupt)
	}
	return nil
}

// put stores a blob read from r, verifying its digest (and size, if size
// >= 0). It leases the digest for the op. A blob already present is not
// read again: created reports whether this call wrote it.
func (o *op) put(ctx context.Context, want v1.Hash, size int64, r io.Reader) (created bool, err error) {
	return o.putStream(ctx, want, size, r, nil)
}

// putStream is put that also tells st, if not nil, where the blob is being
// written and how much of it is, so a reader can follow it.
func (o *op) putStream(ctx context.Context, want v1.Hash, size int64, r io.Reader, st *layerStream) (created bool, err error) {
	if want.Algorithm != "sha256" {
		return false, fmt.Errorf("blob %s: only sha256 digests are supported: %w", want, api.ErrUnsupported)
	}
	o.lease(want.String())
	if o.s.hasBlob(want) {
		// Stored already (by an archive's staging, or an earlier pull):
		// its size must still be the one the descriptor claims, or the
		// manifest recorded would lie about it (and a save break).
		if size >= 0 {
			return false, o.s.checkBlobSize(want, size)
		}
		return false, nil
	}
	_, _, err = o.s.writeTemp(ctx, r, st, func(tmp string, got v1.Hash, n int64) error {
		if size >= 0 && n != size {
			return fmt.Errorf("blob %s: got %d bytes, want %d: %w", want, n, size, api.ErrCorrupt)
		}
		if got != want {
			return fmt.Errorf("blob %s: content has digest %s: %w", want, got, api.ErrCorrupt)
		}
		return os.Rename(tmp, o.s.blobPath(want))
	})
	if err != nil {
		return false, err
	}
	o.addCreated(want.String())
	return true, nil
}

// putUnknown stores a blob whose digest is only known once read.
func (o *op) putUnknown(ctx context.Context, r io.Reader) (v1.Hash, int64, error) {
	h, n, err := o.s.writeTemp(ctx, r, nil, func(tmp string, got v1.Hash, n int64) error {
		o.lease(got.String())
		if o.s.hasBlob(got) {
			return os.Remove(tmp)
		}
		if err := os.Rename(tmp, o.s.blobPath(got)); err != nil {
			return err
		}
		o.addCreated(got.String())
		return nil
	})
	return h, n, err
}

// writeTemp copies r into a synced temp file and hands it to finish, which
// must rename or remove it; on any error the temp file is removed. Not
// atomicfile: a blob is named by its digest, known (or verified) only once
// read, and its temp file lives in s.tmp, which Open empties. st, if not
// nil, is told of the temp file and of each write to it.
func (s *Store) writeTemp(ctx context.Context, r io.Reader, st *layerStream, finish func(tmp string, got v1.Hash, n int64) error) (v1.Hash, int64, error) {
	f, err := os.CreateTemp(s.tmp, "blob-")
	if err != nil {
		return v1.Hash{}, 0, fmt.Errorf("content store: %w", err)
	}
	tmp := f.Name()
	var w io.Writer = f
	if st != nil {
		st.attempt(tmp)
		w = streamWriter{f, st}
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	hw := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, hw), ctxReader{ctx, r})
	if err != nil {
		return v1.Hash{}, n, err
	}
	if err := f.Sync(); err != nil {
		return v1.Hash{}, n, fmt.Errorf("content store: %w", err)
	}
	if err := f.Close(); err != nil {
		return v1.Hash{}, n, fmt.Errorf("content store: %w", err)
	}
	got := hashOf(hw)
	if err := finish(tmp, got, n); err != nil {
		return got, n, err
	}
	ok = true
	return got, n, nil
}

func hashOf(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, fmt.Errorf("%w: %w", api.ErrCanceled, err)
	}
	return c.r.Read(p)
}

func (s *Store) readBlob(h v1.Hash) ([]byte, error) {
	b, err := os.ReadFile(s.blobPath(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s missing from the content store: %w", h, api.ErrNotFound)
	}
	return b, err
}

// referencedLocked is the set of blob digests that image records or
// running operations need. s.mu must be held.
func (s *Store) referencedLocked() (map[string]bool, error) {
	keep := map[string]bool{}
	for d := range s.leases {
		keep[d] = true
	}
	var images []state.Image
	if err := s.db.View(func(tx *state.Tx) (err error) { images, err = tx.Images(); return err }); err != nil {
		return nil, err
	}
	for _, im := range images {
		keep[im.Digest] = true
		keep[im.ConfigDigest] = true
		h, err := v1.NewHash(im.Digest)
		if err != nil {
			continue
		}
		raw, err := s.readBlob(h)
		if err != nil {
			slog.Warn("image store: manifest of a recorded image is unreadable", "digest", im.Digest, "err", err)
			continue
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			continue
		}
		for _, l := range m.Layers {
			keep[l.Digest.String()] = true
		}
	}
	return keep, nil
}

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// collect removes every blob and base disk that nothing references.
func (s *Store) collect(ctx context.Context) (api.ImagePruned, error) {
	var out api.ImagePruned
	s.mu.Lock()
	keep, err := s.referencedLocked()
	s.mu.Unlock()
	if err != nil {
		return out, err
	}
	// The lock is not held while asking InUse (it may call into the
	// runtime); blobs written meanwhile are leased, hence re-checked below.
	diskEntries, err := os.ReadDir(s.disks)
	if err != nil {
		return out, err
	}
	for _, e := range diskEntries {
		hexd, ok := strings.CutSuffix(e.Name(), ".ext4")
		if !ok || !hexDigest.MatchString(hexd) {
			continue // temp files, writable-disk templates: not base disks
		}
		d := "sha256:" + hexd
		if keep[d] {
			continue
		}
		if users, err := s.inUse(ctx, d); err != nil || len(users) > 0 {
			continue // a container still runs from it (removed with -f)
		}
		s.mu.Lock()
		if s.leases["disk:"+d] == 0 {
			if fi, err := e.Info(); err == nil {
				out.Reclaimed += fi.Size()
			}
			if os.Remove(filepath.Join(s.disks, e.Name())) == nil {
				out.Disks++
			}
		}
		s.mu.Unlock()
	}
	entries, err := os.ReadDir(s.blobs)
	if err != nil {
		return out, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keep, err = s.referencedLocked()
	if err != nil {
		return out, err
	}
	for _, e := range entries {
		if keep["sha256:"+e.Name()] {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if err := os.Remove(filepath.Join(s.blobs, e.Name())); err == nil {
			out.Blobs++
			out.Reclaimed += fi.Size()
		}
	}
	return out, nil
}

func (s *Store) inUse(ctx context.Context, digest string) ([]string, error) {
	if s.opts.InUse == nil {
		return nil, nil
	}
	return s.opts.InUse(ctx, digest)
}

// syncIndex rewrites the layout's index.json from the records, so the
// content dir is a valid OCI layout other tools can read (skopeo
// oci:<home>/content:<name>). The records stay the source of truth.
func (s *Store) syncIndex() error {
	var images []state.Image
	var names []state.ImageName
	if err := s.db.View(func(tx *state.Tx) (err error) {
		if images, err = tx.Images(); err != nil {
			return err
		}
		names, err = tx.ImageNames()
		return err
	}); err != nil {
		return err
	}
	byDigest := map[string][]string{}
	for _, n := range names {
		byDigest[n.Digest] = append(byDigest[n.Digest], n.Name)
	}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	for _, im := range images {
		h, err := v1.NewHash(im.Digest)
		if err != nil {
			continue
		}
		fi, err := os.Stat(s.blobPath(h))
		if err != nil {
			continue
		}
		desc := v1.Descriptor{MediaType: types.MediaType(im.MediaType), Digest: h, Size: fi.Size()}
		if p, err := v1.ParsePlatform(im.Platform); err == nil {
			desc.Platform = p
		}
		ns := byDigest[im.Digest]
		sort.Strings(ns)
		if len(ns) == 0 {
			idx.Manifests = append(idx.Manifests, desc)
		}
		for _, n := range ns {
			d := desc
			d.Annotations = map[string]string{
				"io.containerd.image.name":          n,
				"org.opencontainers.image.ref.name": n,
			}
			idx.Manifests = append(idx.Manifests, d)
		}
	}
	raw, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(s.content, "index.json"), raw, 0o644)
}

// storeImage is a v1.Image read from the content store.
type storeImage struct {
	s   *Store
	raw []byte
	mt  types.MediaType
}

func (s *Store) image(digest string) (v1.Image, error) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return nil, fmt.Errorf("image digest %q: %w", digest, api.ErrInvalidArgument)
	}
	raw, err := s.readBlob(h)
	if err != nil {
		return nil, err
	}
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("manifest %s: %v: %w", digest, err, api.ErrCorrupt)
	}
	if probe.MediaType == "" {
		probe.MediaType = types.OCIManifestSchema1
	}
	return partial.CompressedToImage(&storeImage{s: s, raw: raw, mt: probe.MediaType})
}

func (i *storeImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *storeImage) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *storeImage) Manifest() (*v1.Manifest, error) {
	return v1.ParseManifest(bytes.NewReader(i.raw))
}

func (i *storeImage) RawConfigFile() ([]byte, error) {
	m, err := i.Manifest()
	if err != nil {
		return nil, err
	}
	return i.s.readBlob(m.Config.Digest)
}

func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := i.Manifest()
	if err != nil {
		return nil, err
	}
	if h == m.Config.Digest {
		return &storeBlob{s: i.s, desc: m.Config}, nil
	}
	for _, l := range m.Layers {
		if l.Digest == h {
			return &storeBlob{s: i.s, desc: l}, nil
		}
	}
	return nil, fmt.Errorf("layer %s is not in the image: %w", h, api.ErrNotFound)
}

type storeBlob struct {
	s    *Store
	desc v1.Descriptor
}

func (b *storeBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *storeBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *storeBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *storeBlob) Compressed() (io.ReadCloser, error) {
	f, err := os.Open(b.s.blobPath(b.desc.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s missing from the content store: %w", b.desc.Digest, api.ErrNotFound)
	}
	return f, err
}
