package dockerapi

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi/types"
	"github.com/google/go-containerregistry/pkg/name"
)

// imageSummary is one row of docker's GET /images/json.
type imageSummary struct {
	ID          string `json:"Id"`
	ParentID    string `json:"ParentId"`
	RepoTags    []string
	RepoDigests []string
	Created     int64
	Size        int64
	SharedSize  int64
	Labels      map[string]string
	Containers  int64
}

func (s *Server) imageList(r *http.Request) (any, error) {
	if f := r.URL.Query().Get("filters"); f != "" && f != "{}" {
		return nil, fmt.Errorf("image list filters are not supported by Berth yet (berth image ls --filter is): %w", api.ErrUnsupported)
	}
	list, err := s.cfg.Images.List(r.Context())
	if err != nil {
		return nil, err
	}
	out := []imageSummary{}
	for _, im := range list {
		out = append(out, imageRow(im))
	}
	return out, nil
}

// imageRow is im as docker's image list shows it; SharedSize and
// Containers are -1, not computed, as docker's list leaves them.
func imageRow(im api.Image) imageSummary {
	row := imageSummary{ID: im.ID, RepoTags: []string{}, RepoDigests: []string{}, Created: im.Created.Unix(),
		Size: im.Size, SharedSize: -1, Containers: -1, Labels: map[string]string{}}
	for _, n := range im.Names {
		row.RepoTags = append(row.RepoTags, types.FamiliarName(n))
	}
	for _, d := range im.RepoDigests {
		row.RepoDigests = append(row.RepoDigests, types.FamiliarName(d))
	}
	return row
}

// imageRoute picks the handler by the verb that ends the path
// (/images/NAME/VERB): docker's CLI sends names unescaped, slashes and all,
// so NAME is what precedes it.
func (s *Server) imageRoute(verbs map[string]http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := r.PathValue("name")
		if i := strings.LastIndex(p, "/"); i > 0 {
			if h := verbs[p[i:]]; h != nil {
				r.SetPathValue("name", p[:i])
				h(w, r)
				return
			}
		}
		writeError(w, r, s.log, unsupported(r, ""))
	}
}

func (s *Server) imageInspect(r *http.Request) (any, error) {
	name := r.PathValue("name")
	d, err := s.cfg.Images.Inspect(r.Context(), name)
	if err != nil {
		return nil, noSuchImage(name, err)
	}
	return types.Image(d), nil
}

func (s *Server) imageRemove(r *http.Request) (any, error) {
	name := r.PathValue("name")
	res, err := s.cfg.Images.Remove(r.Context(), name, queryBool(r.URL.Query(), "force"))
	if err != nil {
		id := name
		if d, ierr := s.cfg.Images.Inspect(r.Context(), name); ierr == nil {
			id = shortID(d.ID)
		}
		return nil, imageErr(name, id, err)
	}
	return deleteItems(res.Untagged, res.Deleted), nil
}

// deleteItem is one entry of docker's image delete and prune reports.
type deleteItem struct {
	Untagged string `json:",omitempty"`
	Deleted  string `json:",omitempty"`
}

func deleteItems(untagged, deleted []string) []deleteItem {
	out := []deleteItem{}
	for _, u := range untagged {
		out = append(out, deleteItem{Untagged: types.FamiliarName(u)})
	}
	for _, d := range deleted {
		out = append(out, deleteItem{Deleted: d})
	}
	return out
}

func noSuchImage(ref string, err error) error {
	if err != nil && api.CodeOf(err) == api.CodeNotFound {
		return api.Exactly(api.ErrNotFound, "No such image: %s", ref)
	}
	return err
}

// inUseWords is how the store says an image has containers.
var inUseWords = regexp.MustCompile(`is used by container\(s\) ([^;]+)`)

// manyNames is how the store refuses to remove an image by id that has
// several names.
var manyNames = regexp.MustCompile(`has \d+ names`)

// imageErr is err in docker's words: "No such image", and the conflicts
// of removing an image a container uses or several names share; id is
// the image's short id.
func imageErr(ref, id string, err error) error {
	if errors.Is(err, api.ErrConflict) {
		if m := inUseWords.FindStringSubmatch(err.Error()); m != nil {
			return api.Exactly(api.ErrConflict, "conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s",
				ref, strings.TrimSpace(m[1]), id)
		}
		if manyNames.MatchString(err.Error()) {
			return api.Exactly(api.ErrConflict, "conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", id)
		}
	}
	return noSuchImage(ref, err)
}

// shortID is an image id as docker shows it: 12 hex digits.
func shortID(id string) string { return shortLayer(id) }

// imageTag names image NAME ?repo=[&tag=] (tag default latest): 201.
func (s *Server) imageTag(r *http.Request) (any, error) {
	tagger, err := imagesAs[ImageTagger](s, r)
	if err != nil {
		return nil, err
	}
	src, q := r.PathValue("name"), r.URL.Query()
	repo, tag := q.Get("repo"), q.Get("tag")
	if repo == "" {
		return nil, api.Exactly(api.ErrInvalidArgument, "repository name must have at least one component")
	}
	if tag == "" {
		tag = "latest"
	}
	if !tagFormat.MatchString(tag) {
		return nil, api.Exactly(api.ErrInvalidArgument, "invalid tag format")
	}
	target := repo + ":" + tag
	if _, err := name.NewTag(target); err != nil || strings.Contains(repo, "@") {
		return nil, api.Exactly(api.ErrInvalidArgument, "invalid reference format: %s", target)
	}
	if err := tagger.Tag(r.Context(), src, target); err != nil {
		return nil, noSuchImage(src, err)
	}
	return created{}, nil
}

// tagFormat is docker's: a word character, then up to 127 of [\w.-].
var tagFormat = regexp.MustCompile(`^\w[\w.-]{0,127}$`)

// historyItem is one row of docker's GET /images/{name}/history.
type historyItem struct {
	ID        string `json:"Id"`
	Created   int64
	CreatedBy string
	Tags      []string
	Size      int64
	Comment   string
}

// imageHistory is the image's build steps, newest first: the first row
// is the image itself, with its id and tags; older steps are
// "<missing>", as docker shows an image that was pulled.
func (s *Server) imageHistory(r *http.Request) (any, error) {
	h, err := imagesAs[ImageHistorian](s, r)
	if err != nil {
		return nil, err
	}
	ref := r.PathValue("name")
	d, err := s.cfg.Images.Inspect(r.Context(), ref)
	if err != nil {
		return nil, noSuchImage(ref, err)
	}
	steps, err := h.History(r.Context(), ref)
	if err != nil {
		return nil, noSuchImage(ref, err)
	}
	out := []historyItem{}
	for i, e := range steps {
		it := historyItem{ID: "<missing>", CreatedBy: e.CreatedBy, Size: e.Size, Comment: e.Comment}
		if !e.Created.IsZero() {
			it.Created = e.Created.Unix()
		}
		if i == 0 {
			it.ID = d.ID
			for _, n := range d.Names {
				it.Tags = append(it.Tags, types.FamiliarName(n))
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// pruneReport is docker's POST /images/prune answer.
type pruneReport struct {
	ImagesDeleted  []deleteItem
	SpaceReclaimed int64
}

// imagePrune removes unnamed images, or with dangling=false every unused
// one, limited by until and label (label!) filters as docker's.
func (s *Server) imagePrune(r *http.Request) (any, error) {
	p, err := imagesAs[ImagePruner](s, r)
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(r.URL.Query().Get("filters"), "dangling", "until", "label", "label!")
	if err != nil {
		return nil, err
	}
	match, all, err := imagePruneMatch(f, time.Now())
	if err != nil {
		return nil, err
	}
	res, err := p.Prune(r.Context(), all, match)
	if err != nil {
		return nil, err
	}
	return pruneReport{ImagesDeleted: deleteItems(res.Untagged, res.Deleted), SpaceReclaimed: res.Reclaimed}, nil
}

// imagePruneMatch reads docker's image prune filters: all is dangling=false;
// match is nil when no until or label filter narrows the candidates.
func imagePruneMatch(f filters, now time.Time) (match func(api.Image, api.ImageConfig) bool, all bool, err error) {
	for _, v := range f["dangling"] {
		switch strings.ToLower(v) {
		case "false", "0":
			all = true
		case "true", "1":
		default:
			return nil, false, api.Exactly(api.ErrInvalidArgument, "invalid filter 'dangling=%s'", v)
		}
	}
	var until time.Time
	if vs := f["until"]; len(vs) > 0 {
		if len(vs) > 1 {
			return nil, false, api.Exactly(api.ErrInvalidArgument, "more than one until filter specified")
		}
		if until, err = parseTimestamp(vs[0], now); err != nil {
			return nil, false, err
		}
	}
	if until.IsZero() && len(f["label"]) == 0 && len(f["label!"]) == 0 {
		return nil, all, nil
	}
	return func(im api.Image, cfg api.ImageConfig) bool {
		if !until.IsZero() && !im.Created.Before(until) {
			return false
		}
		return labelsMatch(f, cfg.Labels)
	}, all, nil
}
