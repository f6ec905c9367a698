package image

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/google/go-containerregistry/pkg/name"
)

// Docker's reference grammar (distribution/reference), which is stricter
// than go-containerregistry's parser: that one takes "../../evil" as a
// repository. Every name a user or an archive gives an image goes through
// CheckReference first.
var (
	pathComponent = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	pathRE        = regexp.MustCompile(`^` + pathComponent + `(?:/` + pathComponent + `)*$`)
	domainLabel   = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
	domainRE      = regexp.MustCompile(`^(?:` + domainLabel + `(?:\.` + domainLabel + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	tagRE         = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	digestRE      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$`)
	hexIDRE       = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// maxNameLength is docker's limit on a repository name with its registry.
const maxNameLength = 255

// CheckReference checks s, an image reference a user or an archive gave
// ("alpine", "ghcr.io/x/y:1", "r@sha256:…"), against docker's grammar:
// lowercase path components of [a-z0-9] joined by ".", "_", "__" or
// dashes, an optional registry host, a tag of [\w][\w.-]{0,127}. The error
// reads as docker's and wraps api.ErrInvalidArgument.
func CheckReference(s string) error {
	bad := fmt.Errorf("invalid reference format: %q is not an image name: %w", s, api.ErrInvalidArgument)
	rest, digest, hasDigest := strings.Cut(s, "@")
	if hasDigest && !digestRE.MatchString(digest) {
		return bad
	}
	repo := rest
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		if !tagRE.MatchString(rest[i+1:]) {
			return bad
		}
		repo = rest[:i]
	}
	if repo == "" || len(repo) > maxNameLength {
		return bad
	}
	path := repo
	if host, p, ok := strings.Cut(repo, "/"); ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
		if !domainRE.MatchString(host) {
			return bad
		}
		path = p
	}
	if !pathRE.MatchString(path) {
		if pathRE.MatchString(strings.ToLower(path)) {
			return fmt.Errorf("invalid reference format: repository name (%s) must be lowercase: %w", repo, api.ErrInvalidArgument)
		}
		return bad
	}
	return nil
}

// ParseReference parses what a user typed ("alpine", "ghcr.io/x/y:1",
// "r@sha256:…") into a reference with the default registry and tag.
func ParseReference(s string, opts ...name.Option) (name.Reference, error) {
	if err := CheckReference(s); err != nil {
		return nil, err
	}
	r, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid reference format: %q: %v: %w", s, err, api.ErrInvalidArgument)
	}
	return r, nil
}

// parseNewName parses a name to give an image (a tag's target, an
// archive's repo tag): a reference with a tag, not a digest, and not an
// image ID, which docker refuses as a name.
func parseNewName(s string) (name.Tag, error) {
	if hexIDRE.MatchString(s) {
		return name.Tag{}, fmt.Errorf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings: %w",
			s, api.ErrInvalidArgument)
	}
	r, err := ParseReference(s)
	if err != nil {
		return name.Tag{}, err
	}
	t, ok := r.(name.Tag)
	if !ok {
		return name.Tag{}, fmt.Errorf("tag %q: a tag cannot be a digest: %w", s, api.ErrInvalidArgument)
	}
	return t, nil
}
