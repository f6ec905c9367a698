package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/state"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// RegistryOptions say how to reach a registry.
type RegistryOptions struct {
	// Scheme is "" (HTTPS, with plain HTTP allowed for loopback and private
	// addresses, like docker's default insecure registries), "http" (plain
	// HTTP allowed for any registry) or "https" (never plain HTTP).
	Scheme string
	// Auth signs in for this one operation (docker's X-Registry-Auth).
	// Default: the store's keychain.
	Auth authn.Authenticator
}

// PullOptions tune Pull.
type PullOptions struct {
	RegistryOptions
	// Platform is "os/arch[/variant]"; default linux/<host arch>.
	Platform string
	Progress api.ProgressFunc
}

// DefaultPlatform is the platform Berth runs: Linux on the host's CPU.
func DefaultPlatform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// ParsePlatform parses "os/arch[/variant]"; "" is DefaultPlatform.
func ParsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		return DefaultPlatform(), nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/arm64: %w", s, api.ErrInvalidArgument)
	}
	return *p, nil
}

// Pull fetches ref from its registry into the store, resolving a
// multi-arch index to the requested platform, and builds its base disk.
// On failure the store is as it was.
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (api.Image, error) {
	r, err := s.parseRemote(ref, opts.RegistryOptions)
	if err != nil {
		return api.Image{}, err
	}
	plat, err := ParsePlatform(opts.Platform)
	if err != nil {
		return api.Image{}, err
	}
	o := s.begin()
	rec, err := s.pull(ctx, o, r, plat, opts)
	o.end(err != nil)
	if err != nil {
		return api.Image{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	return s.summary(rec)
}

func (s *Store) pull(ctx context.Context, o *op, r name.Reference, plat v1.Platform, opts PullOptions) (state.Image, error) {
	ropts := s.remoteOptions(ctx, opts.RegistryOptions)
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return state.Image{}, registryError(r, err)
	}
	var img v1.Image
	switch {
	case indexTypes[desc.MediaType]:
		idx, err := desc.ImageIndex()
		if err != nil {
			return state.Image{}, registryError(r, err)
		}
		child, err := selectPlatform(idx, plat)
		if err != nil {
			return state.Image{}, err
		}
		if img, err = idx.Image(child.Digest); err != nil {
			return state.Image{}, registryError(r, err)
		}
	case manifestTypes[desc.MediaType]:
		if img, err = desc.Image(); err != nil {
			return state.Image{}, registryError(r, err)
		}
	default:
		return state.Image{}, fmt.Errorf("unsupported manifest media type %q: %w", desc.MediaType, api.ErrUnsupported)
	}
	in, err := s.ingest(ctx, o, img, opts.Progress)
	if err != nil {
		return state.Image{}, registryError(r, err)
	}
	if opts.Platform != "" {
		if got := in.config.Platform(); got != nil && (got.OS != plat.OS || got.Architecture != plat.Architecture) {
			return state.Image{}, fmt.Errorf("image is %s, not the requested %s: %w", platformString(got), platformString(&plat), api.ErrNotFound)
		}
	}
	var names []name.Reference
	if t, ok := r.(name.Tag); ok {
		names = append(names, t)
	}
	repoDigest := repoString(r) + "@" + desc.Digest.String()
	return s.commit(ctx, o, in, names, repoDigest, "pull "+refString(r), opts.Progress)
}

// selectPlatform picks the index entry for plat (variant and OS version
// are only compared when plat names them).
func selectPlatform(idx interface {
	IndexManifest() (*v1.IndexManifest, error)
}, plat v1.Platform) (v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	var have []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			continue
		}
		if d.Platform.Satisfies(plat) && manifestTypes[d.MediaType] {
			return d, nil
		}
		if d.Platform.OS != "unknown" {
			have = append(have, platformString(d.Platform))
		}
	}
	return v1.Descriptor{}, fmt.Errorf("no image for platform %s (the index has %s); choose one with --platform: %w",
		platformString(&plat), strings.Join(have, ", "), api.ErrNotFound)
}

// parseRemote parses ref for a registry operation under opts.Scheme.
func (s *Store) parseRemote(ref string, opts RegistryOptions) (name.Reference, error) {
	var nopts []name.Option
	switch opts.Scheme {
	case "", "https":
	case "http":
		nopts = append(nopts, name.Insecure)
	default:
		return nil, fmt.Errorf("scheme %q: want http or https: %w", opts.Scheme, api.ErrInvalidArgument)
	}
	return ParseReference(ref, nopts...)
}

func (s *Store) remoteOptions(ctx context.Context, opts RegistryOptions) []remote.Option {
	tr := s.opts.Transport
	if opts.Scheme == "https" {
		tr = httpsOnly{tr}
	}
	auth := remote.WithAuthFromKeychain(s.opts.Keychain)
	if opts.Auth != nil {
		auth = remote.WithAuth(opts.Auth)
	}
	return []remote.Option{
		remote.WithContext(ctx),
		auth,
		remote.WithTransport(tr),
		remote.WithJobs(s.opts.Jobs),
		remote.WithRetryBackoff(s.opts.Backoff),
		remote.WithUserAgent("berth"),
	}
}

// httpsOnly refuses the plain-HTTP fallback go-containerregistry tries for
// loopback and private registries, for --scheme https.
type httpsOnly struct{ http.RoundTripper }

func (h httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return nil, fmt.Errorf("plain HTTP to %s refused (--scheme https)", req.URL.Host)
	}
	return h.RoundTripper.RoundTrip(req)
}

// transient reports whether err is worth retrying: network trouble and
// 408/429/5xx, never a bad digest, a missing tag or a refused login.
func transient(err error) bool {
	if errors.Is(err, api.ErrCorrupt) || errors.Is(err, api.ErrCanceled) || errors.Is(err, context.Canceled) {
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.StatusCode == http.StatusRequestTimeout || terr.StatusCode == http.StatusTooManyRequests || terr.StatusCode >= 500
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var nerr net.Error
	return errors.As(err, &nerr) && nerr.Timeout()
}

// registryError turns a registry failure into an error naming the
// registry and the next step, wrapping the matching sentinel.
func registryError(r name.Reference, err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{api.ErrCorrupt, api.ErrUnsupported, api.ErrNotFound, api.ErrCanceled, api.ErrInvalidArgument, api.ErrUnavailable} {
		if errors.Is(err, s) {
			return err
		}
	}
	reg := r.Context().RegistryStr()
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch {
		case terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden:
			return fmt.Errorf("registry %s refused access (%d): log in with `berth registry login %s`: %v: %w", reg, terr.StatusCode, reg, err, api.ErrUnavailable)
		case terr.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%s not found in registry %s: %v: %w", refString(r), reg, err, api.ErrNotFound)
		case terr.StatusCode >= 500 || terr.StatusCode == http.StatusTooManyRequests:
			return fmt.Errorf("registry %s failed (%d), try again later: %v: %w", reg, terr.StatusCode, err, api.ErrUnavailable)
		}
		for _, d := range terr.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
				return fmt.Errorf("%s not found in registry %s: %v: %w", refString(r), reg, err, api.ErrNotFound)
			}
		}
		return fmt.Errorf("registry %s: %w", reg, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", api.ErrCanceled, err)
	}
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("no space left for the content store: free some with `berth image prune`: %w", err)
	}
	var nerr net.Error
	var oerr *net.OpError
	if errors.As(err, &oerr) || errors.As(err, &nerr) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("registry %s unreachable: %v: %w", reg, err, api.ErrUnavailable)
	}
	return fmt.Errorf("registry %s: %w", reg, err)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
