package dockerapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi/types"
	"github.com/berthvm/berth/core/image"
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
		row := imageSummary{ID: im.ID, RepoTags: []string{}, RepoDigests: []string{}, Created: im.Created.Unix(),
			Size: im.Size, SharedSize: -1, Containers: -1, Labels: map[string]string{}}
		for _, n := range im.Names {
			row.RepoTags = append(row.RepoTags, types.FamiliarName(n))
		}
		for _, d := range im.RepoDigests {
			row.RepoDigests = append(row.RepoDigests, types.FamiliarName(d))
		}
		out = append(out, row)
	}
	return out, nil
}

// imageName is the {name...} of /images/NAME[/json]: docker's CLI sends
// names unescaped, slashes and all.
func imageName(r *http.Request, suffix string) (string, bool) {
	name := r.PathValue("name")
	if suffix != "" {
		var ok bool
		if name, ok = strings.CutSuffix(name, suffix); !ok {
			return "", false
		}
	}
	return name, name != ""
}

func (s *Server) imageInspect(r *http.Request) (any, error) {
	name, ok := imageName(r, "/json")
	if !ok {
		return nil, unsupported(r, "")
	}
	d, err := s.cfg.Images.Inspect(r.Context(), name)
	if err != nil {
		return nil, noSuchImage(name, err)
	}
	return types.Image(d), nil
}

func (s *Server) imageRemove(r *http.Request) (any, error) {
	name, ok := imageName(r, "")
	if !ok {
		return nil, unsupported(r, "")
	}
	res, err := s.cfg.Images.Remove(r.Context(), name, queryBool(r.URL.Query(), "force"))
	if err != nil {
		return nil, noSuchImage(name, err)
	}
	type item struct {
		Untagged string `json:",omitempty"`
		Deleted  string `json:",omitempty"`
	}
	out := []item{}
	for _, u := range res.Untagged {
		out = append(out, item{Untagged: types.FamiliarName(u)})
	}
	for _, d := range res.Deleted {
		out = append(out, item{Deleted: d})
	}
	return out, nil
}

func noSuchImage(ref string, err error) error {
	if err != nil && api.CodeOf(err) == api.CodeNotFound {
		return api.Exactly(api.ErrNotFound, "No such image: %s", ref)
	}
	return err
}

// pullMessage is one line of docker's JSON progress stream.
type pullMessage struct {
	Status         string          `json:"status,omitempty"`
	ID             string          `json:"id,omitempty"`
	ProgressDetail *progressDetail `json:"progressDetail,omitempty"`
	ErrorDetail    *errorBody      `json:"errorDetail,omitempty"`
	Error          string          `json:"error,omitempty"`
}

type progressDetail struct {
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

// imageCreate pulls ?fromImage=[&tag=] and reports in docker's progress
// stream; importing (fromSrc) is not served.
func (s *Server) imageCreate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("fromSrc") != "" {
		writeError(w, r, s.log, unsupported(r, "import with berth image load"))
		return
	}
	ref := q.Get("fromImage")
	if ref == "" {
		writeError(w, r, s.log, fmt.Errorf("pull: fromImage is empty: %w", api.ErrInvalidArgument))
		return
	}
	if tag := q.Get("tag"); tag != "" {
		if strings.HasPrefix(tag, "sha256:") {
			ref += "@" + tag
		} else {
			ref += ":" + tag
		}
	}
	var mu sync.Mutex
	started := false
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	send := func(m pullMessage) {
		mu.Lock()
		defer mu.Unlock()
		if !started {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		enc.Encode(m)
		if flusher != nil {
			flusher.Flush()
		}
	}
	repo, tag := splitTag(types.FamiliarName(ref))
	send(pullMessage{ID: tag, Status: "Pulling from " + repo})
	im, err := s.cfg.Images.Pull(r.Context(), ref, image.PullOptions{Platform: q.Get("platform"), Progress: func(p api.Progress) {
		m := pullMessage{ID: shortLayer(p.ID), Status: progressStatus(p)}
		if p.Total > 0 && !p.Done {
			m.ProgressDetail = &progressDetail{Current: p.Current, Total: p.Total}
		}
		send(m)
	}})
	if err != nil {
		s.log.Info("docker pull failed", "ref", ref, "err", err)
		send(pullMessage{Error: err.Error(), ErrorDetail: &errorBody{Message: err.Error()}})
		return
	}
	send(pullMessage{Status: "Digest: " + im.Digest})
	send(pullMessage{Status: "Status: Image is up to date for " + types.FamiliarName(ref)})
}

// shortLayer is a layer digest as docker's progress shows it: 12 hex digits.
func shortLayer(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func progressStatus(p api.Progress) string {
	if p.Message != "" {
		return p.Message
	}
	verb := map[string]string{"download": "Downloading", "verify": "Verifying Checksum", "extract": "Extracting",
		"build": "Building disk"}[p.Action]
	if verb == "" {
		verb = p.Action
	}
	if done := map[string]string{"download": "Download complete", "extract": "Pull complete", "build": "Disk built"}[p.Action]; p.Done && done != "" {
		return done
	}
	return verb
}

// splitTag splits "name:tag" (or "name@digest") for docker's "TAG: Pulling
// from NAME" line; a colon before the last slash is a registry's port.
func splitTag(ref string) (name, tag string) {
	if n, d, ok := strings.Cut(ref, "@"); ok {
		return n, d
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}
