package dockerapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/image"
	"github.com/berthvm/berth/core/runtime"
)

// The API versions served: docker's CLI negotiates down to MaxAPIVersion
// from /_ping; older clients than MinAPIVersion are refused.
const (
	MinAPIVersion = "1.41"
	MaxAPIVersion = "1.47"
	minMinor      = 41
	maxMinor      = 47
)

// Containers is what the server needs of the container runtime
// (*runtime.Manager implements it).
type Containers interface {
	Create(ctx context.Context, spec api.ContainerSpec) (api.Container, error)
	Inspect(ref string) (api.Container, error)
	List(all bool) ([]api.Container, error)
	Start(ctx context.Context, ref string, progress api.ProgressFunc) (api.Container, error)
	Stop(ctx context.Context, ref string, timeout time.Duration, signal string) (api.Container, error)
	Restart(ctx context.Context, ref string, timeout time.Duration, progress api.ProgressFunc) (api.Container, error)
	Kill(ctx context.Context, ref, signal string) error
	Remove(ctx context.Context, ref string, opts api.RemoveOptions) error
	Wait(ctx context.Context, ref string) (api.Container, error)
	Logs(ctx context.Context, ref string, opts runtime.LogOptions, fn func(runtime.LogEntry) error) error
	Attach(ref string, opts runtime.AttachOptions) (wait func(context.Context) (api.Container, error), detach func(), err error)
	Resize(ctx context.Context, ref string, rows, cols uint16) error
	Stats(ctx context.Context, ref string) (api.ContainerStats, error)
	Top(ctx context.Context, ref string) (api.ContainerTop, error)
	Pause(ctx context.Context, ref string) (api.Container, error)
	Unpause(ctx context.Context, ref string) (api.Container, error)
	Rename(ctx context.Context, ref, name string) (api.Container, error)
	Update(ref string, u api.ContainerUpdate) (api.Container, error)
	// Prune removes the stopped containers match takes (nil: all) and
	// returns their ids.
	Prune(ctx context.Context, match func(api.Container) bool) ([]string, error)
}

// Images is what the server needs of the image store (*image.Store).
type Images interface {
	List(ctx context.Context) ([]api.Image, error)
	Inspect(ctx context.Context, ref string) (api.ImageDetail, error)
	Pull(ctx context.Context, ref string, opts image.PullOptions) (api.Image, error)
	Remove(ctx context.Context, ref string, force bool) (api.ImageRemoved, error)
}

// The image capabilities below are optional: Images that lack one get 501
// for its endpoints.

// ImageTagger gives an image another name (POST /images/{name}/tag).
type ImageTagger interface {
	Tag(ctx context.Context, source, target string) error
}

// ImageHistorian tells how an image was built (GET /images/{name}/history).
type ImageHistorian interface {
	History(ctx context.Context, ref string) ([]api.ImageHistoryEntry, error)
}

// ImagePruner removes unnamed (all: unused) images that match accepts
// (POST /images/prune); *image.Store's PruneFunc.
type ImagePruner interface {
	Prune(ctx context.Context, all bool, match func(api.Image, api.ImageConfig) bool) (api.ImagePruned, error)
}

// ImageArchiver writes and reads docker-save tarballs (GET /images/get,
// POST /images/load).
type ImageArchiver interface {
	Save(ctx context.Context, w io.Writer, refs ...string) error
	LoadArchive(ctx context.Context, r io.Reader, label string, opts image.LoadOptions) ([]api.Image, error)
}

// ImagePusher uploads an image to a registry (POST /images/{name}/push).
type ImagePusher interface {
	Push(ctx context.Context, ref, target string, opts image.PushOptions) (api.ImagePushed, error)
}

// RegistryChecker checks a registry login without keeping it (POST /auth:
// docker's CLI keeps the credentials and sends them with each pull and
// push).
type RegistryChecker interface {
	CheckLogin(ctx context.Context, registry, username, password string, opts image.RegistryOptions) (api.RegistryLogin, error)
}

// imagesAs is the image store as capability T, or the 501 for r.
func imagesAs[T any](s *Server, r *http.Request) (T, error) {
	t, ok := s.cfg.Images.(T)
	if !ok {
		return t, unsupported(r, "")
	}
	return t, nil
}

// Config is what a Server serves from.
type Config struct {
	// Containers is nil where this host cannot run containers;
	// ContainersErr then says why, and container requests get it.
	Containers    Containers
	ContainersErr error
	Images        Images
	// Networks is nil where Containers is: networks come with the runtime.
	Networks Networks
	// Volumes need no VM backend: they are served where containers are not.
	Volumes Volumes
	// Events is the daemon's event stream (GET /events).
	Events Events
	// Info reports the daemon's view of the host (GET /info, /version).
	Info func(ctx context.Context) (api.SystemInfo, error)
	// DiskUsage counts what images, containers and volumes take on disk
	// (GET /system/df); nil: 501.
	DiskUsage func(ctx context.Context) (api.DiskUsage, error)
	Version   api.Version
	Logger    *slog.Logger // nil: slog.Default()
}

// Server is the Docker Engine API as an http.Handler.
type Server struct {
	cfg   Config
	log   *slog.Logger
	mux   *http.ServeMux
	execs execTable
}

// New builds a Server over cfg's services.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	s.routes()
	return s
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /_ping", s.ping)
	s.mux.HandleFunc("HEAD /_ping", s.ping)
	s.handle("GET /version", s.version)
	s.handle("GET /info", s.info)
	s.mux.HandleFunc("GET /events", s.events)
	s.handle("GET /system/df", s.systemDF)
	s.handle("POST /auth", s.auth)

	s.handle("GET /containers/json", s.containerList)
	s.handle("POST /containers/create", s.containerCreate)
	s.handle("POST /containers/prune", s.containerPrune)
	s.handle("GET /containers/{id}/json", s.containerInspect)
	s.handle("POST /containers/{id}/start", s.containerStart)
	s.handle("POST /containers/{id}/stop", s.containerStop)
	s.handle("POST /containers/{id}/restart", s.containerRestart)
	s.handle("POST /containers/{id}/kill", s.containerKill)
	s.handle("POST /containers/{id}/resize", s.containerResize)
	s.handle("DELETE /containers/{id}", s.containerRemove)
	s.mux.HandleFunc("GET /containers/{id}/stats", s.containerStats)
	s.handle("GET /containers/{id}/top", s.containerTop)
	s.handle("POST /containers/{id}/pause", s.containerPause)
	s.handle("POST /containers/{id}/unpause", s.containerUnpause)
	s.handle("POST /containers/{id}/rename", s.containerRename)
	s.handle("POST /containers/{id}/update", s.containerUpdate)
	s.mux.HandleFunc("POST /containers/{id}/wait", s.containerWait)
	s.mux.HandleFunc("GET /containers/{id}/logs", s.containerLogs)
	s.mux.HandleFunc("POST /containers/{id}/attach", s.containerAttach)

	s.mux.HandleFunc("HEAD /containers/{id}/archive", s.archiveStat)
	s.mux.HandleFunc("GET /containers/{id}/archive", s.archiveGet)
	s.mux.HandleFunc("PUT /containers/{id}/archive", s.archivePut)

	s.handle("POST /containers/{id}/exec", s.execCreate)
	s.mux.HandleFunc("POST /exec/{id}/start", s.execStart)
	s.handle("POST /exec/{id}/resize", s.execResize)
	s.handle("GET /exec/{id}/json", s.execInspect)

	s.handle("GET /networks", s.networkList)
	s.handle("POST /networks/create", s.networkCreate)
	s.handle("POST /networks/prune", s.networkPrune)
	s.handle("GET /networks/{id}", s.networkInspect)
	s.handle("DELETE /networks/{id}", s.networkRemove)
	s.handle("POST /networks/{id}/connect", s.networkConnect(true))
	s.handle("POST /networks/{id}/disconnect", s.networkConnect(false))

	s.handle("GET /volumes", s.volumeList)
	s.handle("POST /volumes/create", s.volumeCreate)
	s.handle("POST /volumes/prune", s.volumePrune)
	s.handle("GET /volumes/{name}", s.volumeInspect)
	s.handle("DELETE /volumes/{name}", s.volumeRemove)

	s.handle("GET /images/json", s.imageList)
	s.mux.HandleFunc("POST /images/create", s.imageCreate)
	s.mux.HandleFunc("GET /images/get", s.imageSave)
	s.mux.HandleFunc("POST /images/load", s.imageLoad)
	s.handle("POST /images/prune", s.imagePrune)
	// Image names hold slashes and colons (localhost:5000/a/b:1): the
	// name is the whole rest of the path, less the verb at its end, which
	// imageRoute picks the handler by.
	s.mux.HandleFunc("GET /images/{name...}", s.imageRoute(map[string]http.HandlerFunc{
		"/json": s.jsonHandler(s.imageInspect), "/history": s.jsonHandler(s.imageHistory), "/get": s.imageSaveOne}))
	s.mux.HandleFunc("POST /images/{name...}", s.imageRoute(map[string]http.HandlerFunc{
		"/tag": s.jsonHandler(s.imageTag), "/push": s.imagePush}))
	s.handle("DELETE /images/{name...}", s.imageRemove)

	for prefix, alt := range alternatives {
		s.mux.HandleFunc(prefix, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, r, s.log, unsupported(r, alt))
		})
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, unsupported(r, ""))
	})
}

// alternatives are the areas Berth will not serve, and what to use
// instead; the key is a ServeMux pattern.
var alternatives = map[string]string{
	"/build":                        "Berth cannot build images: build with BuildKit or docker elsewhere, then docker pull, or berth image load, the result",
	"/session":                      "Berth cannot build images: build with BuildKit or docker elsewhere, then docker pull, or berth image load, the result",
	"/swarm":                        "Berth is a single-host runtime without swarm mode: run containers with docker run --restart",
	"/swarm/":                       "Berth is a single-host runtime without swarm mode: run containers with docker run --restart",
	"/services":                     "Berth is a single-host runtime without swarm mode: run containers with docker run --restart",
	"/services/":                    "Berth is a single-host runtime without swarm mode: run containers with docker run --restart",
	"/nodes":                        "Berth is a single-host runtime without swarm mode: run containers with docker run --restart",
	"/plugins":                      "Berth has no plugins: its volumes and networks are built in (berth volume, berth network)",
	"/plugins/":                     "Berth has no plugins: its volumes and networks are built in (berth volume, berth network)",
	"/containers/{id}/checkpoints":  "Berth cannot checkpoint a container's VM: use docker pause, or docker stop and start",
	"/containers/{id}/checkpoints/": "Berth cannot checkpoint a container's VM: use docker pause, or docker stop and start",
	"/containers/{id}/export":       "Berth cannot export a container's VM disk yet: copy its files out with docker cp CONTAINER:/path -",
	"/commit":                       "Berth cannot make an image of a container's VM disk yet: build the image elsewhere and docker pull it, or copy files out with docker cp",
}

// unsupported is the 501 for an endpoint this slice does not serve.
func unsupported(r *http.Request, alternative string) error {
	msg := fmt.Sprintf("%s %s is not supported by Berth yet", r.Method, r.URL.Path)
	if alternative != "" {
		msg += ": " + alternative
	}
	return api.Exactly(api.ErrUnsupported, "%s", msg)
}

// ServeHTTP strips a version prefix (/v1.47/…), refuses versions outside
// the served range with docker's message, and routes the rest.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Api-Version", MaxAPIVersion)
	w.Header().Set("Server", "Berth/"+s.cfg.Version.Version+" (linux)")
	path, err := stripVersion(r.URL.Path)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if path != r.URL.Path {
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path, u.RawPath = path, ""
		r2.URL = &u
		r = r2
	}
	s.mux.ServeHTTP(w, r)
}

var versionPrefix = regexp.MustCompile(`^/v(\d+)\.(\d+)(/.*)$`)

// stripVersion returns path without its /vMAJOR.MINOR prefix, or docker's
// 400 when that version is outside MinAPIVersion..MaxAPIVersion.
func stripVersion(path string) (string, error) {
	m := versionPrefix.FindStringSubmatch(path)
	if m == nil {
		return path, nil
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	v := m[1] + "." + m[2]
	switch {
	case major < 1 || (major == 1 && minor < minMinor):
		return "", api.Exactly(api.ErrInvalidArgument,
			"client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, MinAPIVersion)
	case major > 1 || minor > maxMinor:
		return "", api.Exactly(api.ErrInvalidArgument,
			"client version %s is too new. Maximum supported API version is %s", v, MaxAPIVersion)
	}
	return m[3], nil
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("API-Version", MaxAPIVersion)
	h.Set("Docker-Experimental", "false")
	h.Set("OSType", "linux")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		io.WriteString(w, "OK")
	}
}

// jsonFunc answers one request with one JSON value (nil: 204) or an error.
type jsonFunc func(r *http.Request) (any, error)

func (s *Server) handle(pattern string, h jsonFunc) {
	s.mux.HandleFunc(pattern, s.jsonHandler(h))
}

func (s *Server) jsonHandler(h jsonFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out, err := h(r)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		switch out := out.(type) {
		case nil:
			w.WriteHeader(http.StatusNoContent)
		case notModified:
			w.WriteHeader(http.StatusNotModified)
		case created:
			if out.v == nil {
				w.WriteHeader(http.StatusCreated)
				return
			}
			writeJSON(w, http.StatusCreated, out.v)
		default:
			writeJSON(w, http.StatusOK, out)
		}
	}
}

// created is a reply of 201 Created with v as its body (nil: none).
type created struct{ v any }

// notModified is docker's 304 for an action with nothing to do (start of
// a running container, stop of a stopped one); the CLI takes it as done.
type notModified struct{}

// containers is the runtime, or the reason this host has none.
func (s *Server) containers() (Containers, error) {
	if s.cfg.Containers == nil {
		if s.cfg.ContainersErr != nil {
			return nil, s.cfg.ContainersErr
		}
		return nil, fmt.Errorf("containers are not available on this host: %w", api.ErrUnavailable)
	}
	return s.cfg.Containers, nil
}
