package cli

import (
	"path"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi/types"
	"github.com/berthvm/berth/core/units"
)

// imagesDefaultTable is docker images' default table; --digests adds
// DIGEST after TAG.
const (
	imagesDefaultTable = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	imagesDigestsTable = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
)

// imageRow is one row of `berth images`: one name of an image (an image
// without a name is one <none> row). Its methods are docker's --format
// fields (docker's ImageContext), plus Platform, which is Berth's.
type imageRow struct {
	header bool
	im     api.Image
	name   string // "docker.io/library/alpine:3", or "" for none
	loc    *time.Location
	trunc  bool
}

func (r imageRow) isHeader() bool { return r.header }

// ID is the image's config digest, shortened to 12 hex digits unless
// --no-trunc.
func (r imageRow) ID() string {
	if r.header {
		return "IMAGE ID"
	}
	if r.trunc {
		return shortID(r.im.ID)
	}
	return r.im.ID
}

// Repository is the name without its tag, as docker shows it ("alpine").
func (r imageRow) Repository() string {
	if r.header {
		return "REPOSITORY"
	}
	repo, _ := splitName(r.name)
	return repo
}

// Tag is the name's tag, "<none>" without one.
func (r imageRow) Tag() string {
	if r.header {
		return "TAG"
	}
	_, tag := splitName(r.name)
	return tag
}

// Digest is the manifest digest the repository knows the image by.
func (r imageRow) Digest() string {
	if r.header {
		return "DIGEST"
	}
	repo := r.name
	if i := strings.LastIndex(r.name, ":"); i > strings.LastIndex(r.name, "/") {
		repo = r.name[:i]
	}
	for _, rd := range r.im.RepoDigests {
		if n, d, ok := strings.Cut(rd, "@"); ok && n == repo {
			return d
		}
	}
	if r.im.Digest == "" {
		return "<none>"
	}
	return r.im.Digest
}

// CreatedSince is how long ago the image was built: docker's CREATED.
func (r imageRow) CreatedSince() string {
	if r.header {
		return "CREATED"
	}
	if r.im.Created.IsZero() {
		return "N/A"
	}
	return ago(r.im.Created)
}

// CreatedAt is when the image was built, as Go prints a time.
func (r imageRow) CreatedAt() string {
	if r.header {
		return "CREATED AT"
	}
	return r.im.Created.Truncate(time.Second).In(r.loc).String()
}

// Size is the bytes the image's blobs take, in SI units as docker's.
func (r imageRow) Size() string {
	if r.header {
		return "SIZE"
	}
	return units.Size(r.im.Size)
}

// VirtualSize is docker's older name for Size.
func (r imageRow) VirtualSize() string {
	if r.header {
		return "VIRTUAL SIZE"
	}
	return units.Size(r.im.Size)
}

// Containers, SharedSize and UniqueSize are what docker shows without
// docker system df's accounting: N/A.
func (r imageRow) Containers() string { return r.na("CONTAINERS") }

// SharedSize is N/A, as in docker images.
func (r imageRow) SharedSize() string { return r.na("SHARED SIZE") }

// UniqueSize is N/A, as in docker images.
func (r imageRow) UniqueSize() string { return r.na("UNIQUE SIZE") }

func (r imageRow) na(header string) string {
	if r.header {
		return header
	}
	return "N/A"
}

// Platform is "os/arch[/variant]" (Berth's field).
func (r imageRow) Platform() string {
	if r.header {
		return "PLATFORM"
	}
	return r.im.Platform
}

// imageFilterKeys are docker images' filters.
var imageFilterKeys = []string{"dangling", "label", "reference", "before", "since", "until"}

// imageFilter decides which images (and which of their names) a set of
// filters keeps. labels gives an image's labels (its config's), asked only
// when a label filter is given.
type imageFilter struct {
	f             filterArgs
	before, since *api.Image
	until         time.Time
	labels        func(api.Image) map[string]string
}

func newImageFilter(f filterArgs, list []api.Image, now time.Time, labels func(api.Image) map[string]string) (*imageFilter, error) {
	p := &imageFilter{f: f, labels: labels}
	for _, v := range f["dangling"] {
		if v != "true" && v != "false" && v != "1" && v != "0" {
			return nil, invalidFilter("dangling=" + v)
		}
	}
	for _, key := range []string{"before", "since"} {
		for _, v := range f[key] {
			im := findImage(list, v)
			if im == nil {
				return nil, &filterError{"no such image: " + v, api.ErrNotFound}
			}
			if key == "before" {
				p.before = im
			} else {
				p.since = im
			}
		}
	}
	for _, v := range f["until"] {
		t, err := parseSince(v, now)
		if err != nil {
			return nil, invalidFilter("until=" + v)
		}
		p.until = t
	}
	return p, nil
}

// findImage finds an image by name (as docker spells it or in full) or by
// a prefix of its ID.
func findImage(list []api.Image, ref string) *api.Image {
	for i, im := range list {
		for _, n := range im.Names {
			if n == ref || normalizeRef(n) == normalizeRef(ref) {
				return &list[i]
			}
		}
	}
	for i, im := range list {
		if id := strings.TrimPrefix(im.ID, "sha256:"); len(ref) >= 4 && strings.HasPrefix(id, strings.TrimPrefix(ref, "sha256:")) {
			return &list[i]
		}
	}
	return nil
}

// names are the names of im to list: all of them, or those a reference
// filter matches; nil when the image is filtered out; [""] for an image
// without a name.
func (p *imageFilter) names(im api.Image) []string {
	f := p.f
	dangling := len(im.Names) == 0
	ok := f.any("dangling", func(v string) bool { return (v == "true" || v == "1") == dangling }) &&
		(p.before == nil || im.Created.Before(p.before.Created)) &&
		(p.since == nil || im.Created.After(p.since.Created)) &&
		(p.until.IsZero() || im.Created.Before(p.until))
	if ok && len(f["label"]) > 0 {
		labels := p.labels(im)
		ok = f.any("label", func(v string) bool { return matchLabel(labels, v) })
	}
	if !ok {
		return nil
	}
	if _, has := f["reference"]; !has {
		if dangling {
			return []string{""}
		}
		return im.Names
	}
	var out []string
	for _, n := range im.Names {
		if f.any("reference", func(v string) bool { return matchReference(v, n) }) {
			out = append(out, n)
		}
	}
	return out
}

// matchReference is docker's reference filter: a shell pattern matched
// against the name as docker shows it ("alpine:3") or its repository
// alone ("alpine"), or in full.
func matchReference(pattern, name string) bool {
	familiar := types.FamiliarName(name)
	repo := familiar
	if i := strings.LastIndex(familiar, ":"); i > strings.LastIndex(familiar, "/") {
		repo = familiar[:i]
	}
	for _, s := range []string{familiar, repo, name} {
		if ok, _ := path.Match(pattern, s); ok {
			return true
		}
	}
	return false
}
