package dockerapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi/types"
	"github.com/berthvm/berth/core/image"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// jsonMessage is one line of docker's JSON message stream (pull, push,
// load): docker's CLI prints Status, ID and Stream, draws ProgressDetail
// on a terminal only, and hands Aux to the command.
type jsonMessage struct {
	Stream         string          `json:"stream,omitempty"`
	Status         string          `json:"status,omitempty"`
	ID             string          `json:"id,omitempty"`
	ProgressDetail *progressDetail `json:"progressDetail,omitempty"`
	ErrorDetail    *errorBody      `json:"errorDetail,omitempty"`
	Error          string          `json:"error,omitempty"`
	Aux            any             `json:"aux,omitempty"`
}

type progressDetail struct {
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

// messageStream writes a JSON message stream: 200 and its header with the
// first message, each message flushed. Safe for concurrent use, as
// progress arrives from several layers at once.
type messageStream struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	enc     *json.Encoder
	started bool
}

func newMessageStream(w http.ResponseWriter) *messageStream {
	return &messageStream{w: w, enc: json.NewEncoder(w)}
}

func (m *messageStream) send(msg jsonMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.started {
		m.w.Header().Set("Content-Type", "application/json")
		m.w.WriteHeader(http.StatusOK)
		m.started = true
	}
	m.enc.Encode(msg)
	if f, ok := m.w.(http.Flusher); ok {
		f.Flush()
	}
}

// fail ends the stream with err in docker's in-stream shape.
func (m *messageStream) fail(err error) {
	m.send(jsonMessage{Error: err.Error(), ErrorDetail: &errorBody{Message: err.Error()}})
}

// registryAuth decodes docker's X-Registry-Auth header (base64url JSON of
// an auth config) into credentials for one pull or push; nil when the
// header carries none ("", "e30=" is {}), so the store's keychain applies.
func registryAuth(r *http.Request) (authn.Authenticator, error) {
	h := strings.TrimSpace(r.Header.Get("X-Registry-Auth"))
	if h == "" {
		return nil, nil
	}
	raw, err := base64.URLEncoding.DecodeString(h)
	if err != nil {
		if raw, err = base64.StdEncoding.DecodeString(h); err != nil {
			if raw, err = base64.RawURLEncoding.DecodeString(h); err != nil {
				return nil, fmt.Errorf("X-Registry-Auth: not base64: %w", api.ErrInvalidArgument)
			}
		}
	}
	var cfg struct {
		Username, Password, Auth     string
		IdentityToken, RegistryToken string
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("X-Registry-Auth: %v: %w", err, api.ErrInvalidArgument)
	}
	if cfg == (struct{ Username, Password, Auth, IdentityToken, RegistryToken string }{}) {
		return nil, nil
	}
	return authn.FromConfig(authn.AuthConfig{Username: cfg.Username, Password: cfg.Password, Auth: cfg.Auth,
		IdentityToken: cfg.IdentityToken, RegistryToken: cfg.RegistryToken}), nil
}

// authRequest is docker's POST /auth body (the CLI's docker login).
type authRequest struct {
	Username, Password, ServerAddress string
}

// auth checks a login against the registry as docker login does through
// dockerd: the credentials are checked, not kept; the docker CLI stores
// them and sends them with each pull and push (X-Registry-Auth).
func (s *Server) auth(r *http.Request) (any, error) {
	c, err := imagesAs[RegistryChecker](s, r)
	if err != nil {
		return nil, err
	}
	var req authRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	registry := req.ServerAddress
	if registry == "" || strings.Contains(registry, "index.docker.io") {
		registry = name.DefaultRegistry
	}
	// The CLI sends "http://host:port/v2/" style addresses for some
	// registries: the store wants host[:port].
	if u, err := url.Parse(registry); err == nil && u.Host != "" {
		registry = u.Host
	}
	if _, err := c.CheckLogin(r.Context(), registry, req.Username, req.Password, image.RegistryOptions{}); err != nil {
		return nil, err
	}
	return struct {
		Status        string
		IdentityToken string
	}{"Login Succeeded", ""}, nil
}

// familiar is ref as docker shows it in messages: "alpine:latest",
// "localhost:5000/a/b:1", "x@sha256:…".
func familiar(r name.Reference) string {
	sep := ":"
	if _, ok := r.(name.Digest); ok {
		sep = "@"
	}
	return types.FamiliarName(repoName(r) + sep + r.Identifier())
}

// repoName is r's repository as docker's push names it:
// "docker.io/library/alpine", "localhost:5000/a/b".
func repoName(r name.Reference) string {
	reg := r.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + r.Context().RepositoryStr()
}

// imageCreate pulls ?fromImage=[&tag=][&platform=] with the credentials
// of X-Registry-Auth, and reports in docker's progress stream; importing
// (fromSrc) is not served.
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
	parsed, err := image.ParseReference(ref)
	if err != nil {
		writeError(w, r, s.log, api.Exactly(api.ErrInvalidArgument, "invalid reference format: %s", ref))
		return
	}
	auth, err := registryAuth(r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	before := ""
	if d, err := s.cfg.Images.Inspect(r.Context(), ref); err == nil {
		before = d.Digest
	}
	out := newMessageStream(w)
	out.send(jsonMessage{ID: parsed.Identifier(), Status: "Pulling from " + parsed.Context().RepositoryStr()})
	var mu sync.Mutex
	var fetched []string // layers downloaded, in the order first seen
	seen := map[string]bool{}
	im, err := s.cfg.Images.Pull(r.Context(), ref, image.PullOptions{Platform: q.Get("platform"),
		RegistryOptions: image.RegistryOptions{Auth: auth}, Progress: func(p api.Progress) {
			id := shortLayer(p.ID)
			if p.Action == "download" {
				mu.Lock()
				first := !seen[id]
				seen[id] = true
				if first && p.Message != "already exists" {
					fetched = append(fetched, id)
				}
				mu.Unlock()
				if first && !p.Done {
					out.send(jsonMessage{ID: id, Status: "Pulling fs layer", ProgressDetail: &progressDetail{}})
				}
			}
			m := jsonMessage{ID: id, Status: progressStatus(p)}
			if p.Total > 0 && !p.Done {
				m.ProgressDetail = &progressDetail{Current: p.Current, Total: p.Total}
			}
			out.send(m)
		}})
	if err != nil {
		s.log.Info("docker pull failed", "ref", ref, "err", err)
		out.fail(err)
		return
	}
	// Berth's base disk is built from all the layers at once: each layer's
	// pull is complete when the disk is.
	for _, id := range fetched {
		out.send(jsonMessage{ID: id, Status: "Pull complete", ProgressDetail: &progressDetail{}})
	}
	out.send(jsonMessage{Status: "Digest: " + im.Digest})
	if im.Digest == before {
		out.send(jsonMessage{Status: "Status: Image is up to date for " + familiar(parsed)})
	} else {
		out.send(jsonMessage{Status: "Status: Downloaded newer image for " + familiar(parsed)})
	}
}

// shortLayer is a layer digest as docker's progress shows it: 12 hex digits.
func shortLayer(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// progressStatus is docker's status word for a progress report.
func progressStatus(p api.Progress) string {
	switch {
	case p.Action == "download" && p.Message == "already exists":
		return "Already exists"
	case p.Message != "":
		return p.Message
	}
	if done := map[string]string{"download": "Download complete", "build": "Disk built", "upload": "Pushed"}[p.Action]; p.Done && done != "" {
		return done
	}
	if verb := map[string]string{"download": "Downloading", "build": "Building disk", "upload": "Pushing", "read": "Loading"}[p.Action]; verb != "" {
		return verb
	}
	return p.Action
}

// pushAux is the aux message docker's CLI reads at the end of a push.
type pushAux struct {
	Tag    string
	Digest string
	Size   int64
}

// imagePush pushes NAME[:?tag] to its registry with the credentials of
// X-Registry-Auth; without a tag, every local tag of NAME's repository.
func (s *Server) imagePush(w http.ResponseWriter, r *http.Request) {
	p, err := imagesAs[ImagePusher](s, r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	repo, tag := r.PathValue("name"), r.URL.Query().Get("tag")
	auth, err := registryAuth(r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	refs, err := s.pushRefs(r, repo, tag)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	out := newMessageStream(w)
	out.send(jsonMessage{Status: "The push refers to repository [" + repoName(refs[0]) + "]"})
	for _, ref := range refs {
		seen := sync.Map{}
		res, err := p.Push(r.Context(), ref.String(), "", image.PushOptions{RegistryOptions: image.RegistryOptions{Auth: auth},
			Progress: func(pr api.Progress) {
				id := shortLayer(pr.ID)
				if _, loaded := seen.LoadOrStore(id, true); !loaded {
					out.send(jsonMessage{ID: id, Status: "Preparing", ProgressDetail: &progressDetail{}})
					if !pr.Done {
						return
					}
				}
				m := jsonMessage{ID: id, Status: progressStatus(pr), ProgressDetail: &progressDetail{}}
				if !pr.Done {
					m.ProgressDetail = &progressDetail{Current: pr.Current, Total: pr.Total}
				}
				out.send(m)
			}})
		if err != nil {
			s.log.Info("docker push failed", "ref", ref.String(), "err", err)
			out.fail(err)
			return
		}
		t := ref.Identifier()
		out.send(jsonMessage{Status: fmt.Sprintf("%s: digest: %s size: %d", t, res.Digest, res.Size)})
		out.send(jsonMessage{ProgressDetail: &progressDetail{}, Aux: pushAux{Tag: t, Digest: res.Digest, Size: res.Size}})
	}
}

// pushRefs are the local names a push of repo[:tag] sends, or docker's
// 404 when there are none.
func (s *Server) pushRefs(r *http.Request, repo, tag string) ([]name.Reference, error) {
	if tag != "" {
		ref, err := image.ParseReference(repo + ":" + tag)
		if err != nil {
			return nil, api.Exactly(api.ErrInvalidArgument, "invalid reference format: %s:%s", repo, tag)
		}
		if _, err := s.cfg.Images.Inspect(r.Context(), ref.String()); err != nil {
			return nil, noSuchImage(familiar(ref), err)
		}
		return []name.Reference{ref}, nil
	}
	want, err := name.NewRepository(repo)
	if err != nil {
		return nil, api.Exactly(api.ErrInvalidArgument, "invalid reference format: %s", repo)
	}
	list, err := s.cfg.Images.List(r.Context())
	if err != nil {
		return nil, err
	}
	var refs []name.Reference
	for _, im := range list {
		for _, n := range im.Names {
			if t, err := name.NewTag(n); err == nil && t.Context() == want {
				refs = append(refs, t)
			}
		}
	}
	if len(refs) == 0 {
		return nil, api.Exactly(api.ErrNotFound, "An image does not exist locally with the tag: %s", repo)
	}
	return refs, nil
}

// imageSave streams a docker-load tarball of ?names=… (repeatable).
func (s *Server) imageSave(w http.ResponseWriter, r *http.Request) {
	s.save(w, r, r.URL.Query()["names"])
}

// imageSaveOne is GET /images/NAME/get: the tarball of one image.
func (s *Server) imageSaveOne(w http.ResponseWriter, r *http.Request) {
	s.save(w, r, []string{r.PathValue("name")})
}

// save resolves refs before the first byte, so a bad one gets docker's
// 404; a failure midway aborts the connection, which the client reports.
func (s *Server) save(w http.ResponseWriter, r *http.Request, refs []string) {
	a, err := imagesAs[ImageArchiver](s, r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if len(refs) == 0 {
		writeError(w, r, s.log, api.Exactly(api.ErrInvalidArgument, "no images specified"))
		return
	}
	for _, ref := range refs {
		if _, err := s.cfg.Images.Inspect(r.Context(), ref); err != nil {
			writeError(w, r, s.log, noSuchImage(ref, err))
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	if err := a.Save(r.Context(), w, refs...); err != nil {
		s.log.Info("docker save failed midway", "refs", refs, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// imageLoad imports the tarball in the body and reports each image in
// docker's message stream ("Loaded image: NAME"); ?quiet leaves out the
// progress.
func (s *Server) imageLoad(w http.ResponseWriter, r *http.Request) {
	a, err := imagesAs[ImageArchiver](s, r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	quiet := queryBool(r.URL.Query(), "quiet")
	out := newMessageStream(w)
	opts := image.LoadOptions{}
	if !quiet {
		// Only the moving bars, as docker's: a terminal draws them, and
		// docker's CLI asks for quiet elsewhere.
		opts.Progress = func(p api.Progress) {
			if p.Total > 0 && !p.Done {
				out.send(jsonMessage{ID: shortLayer(p.ID), Status: "Loading layer", ProgressDetail: &progressDetail{Current: p.Current, Total: p.Total}})
			}
		}
	}
	loaded, err := a.LoadArchive(r.Context(), r.Body, "docker load", opts)
	if err != nil {
		s.log.Info("docker load failed", "err", err)
		out.fail(err)
		return
	}
	for _, im := range loaded {
		if len(im.Names) == 0 {
			out.send(jsonMessage{Stream: "Loaded image ID: " + im.ID + "\n"})
		}
		for _, n := range im.Names {
			out.send(jsonMessage{Stream: "Loaded image: " + types.FamiliarName(n) + "\n"})
		}
	}
}
