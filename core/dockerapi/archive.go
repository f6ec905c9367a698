package dockerapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/berthvm/berth/core/api"
)

// Archiver reads and writes paths of a container for docker cp
// (*runtime.Manager implements it): a running container's guest is used
// as it is, a stopped one gets a maintenance boot.
type Archiver interface {
	StatPath(ctx context.Context, ref, path string) (api.PathStat, error)
	CopyFrom(ctx context.Context, ref, path string) (api.PathStat, io.ReadCloser, error)
	CopyTo(ctx context.Context, ref, dir string, r io.Reader, opts api.CopyToOptions) error
}

func (s *Server) archiver() (Archiver, error) {
	c, err := s.containers()
	if err != nil {
		return nil, err
	}
	a, ok := c.(Archiver)
	if !ok {
		return nil, fmt.Errorf("this runtime cannot copy files: %w", api.ErrUnsupported)
	}
	return a, nil
}

// archiveArgs are the archiver, the container's id and the path query
// parameter of an archive request. The container is looked up first so
// that a missing file (also a not-found) is not taken for it.
func (s *Server) archiveArgs(r *http.Request) (a Archiver, id, path string, err error) {
	if a, err = s.archiver(); err != nil {
		return nil, "", "", err
	}
	ref := r.PathValue("id")
	ct, err := s.cfg.Containers.Inspect(ref)
	if err != nil {
		return nil, "", "", noSuchContainer(ref, err)
	}
	p := r.URL.Query().Get("path")
	if p == "" {
		return nil, "", "", fmt.Errorf("the path query parameter is required: %w", api.ErrInvalidArgument)
	}
	return a, ct.ID, p, nil
}

// setPathStat puts st in docker's header: base64 of its JSON.
func setPathStat(w http.ResponseWriter, st api.PathStat) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode path stat: %w", err)
	}
	w.Header().Set(api.PathStatHeader, base64.StdEncoding.EncodeToString(raw))
	return nil
}

// archiveStat is HEAD: the stat in the header, errors as a bare status.
func (s *Server) archiveStat(w http.ResponseWriter, r *http.Request) {
	a, id, p, err := s.archiveArgs(r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	st, err := a.StatPath(r.Context(), id, p)
	if err == nil {
		err = setPathStat(w, st)
	}
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// archiveGet streams a path's tar, its stat in the header.
func (s *Server) archiveGet(w http.ResponseWriter, r *http.Request) {
	a, id, p, err := s.archiveArgs(r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	st, rc, err := a.CopyFrom(r.Context(), id, p)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	defer rc.Close()
	if err := setPathStat(w, st); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil && r.Context().Err() == nil {
		s.log.Warn("docker cp stream ended early", "container", id, "path", p, "err", err)
		// A cut connection, not a clean end: the client's tar reader
		// then fails instead of taking a truncated archive as whole.
		panic(http.ErrAbortHandler)
	}
}

// archivePut extracts the tar body into path, an existing directory.
// Owners are kept as the tar says (docker's copyUIDGID is what Berth
// always does).
func (s *Server) archivePut(w http.ResponseWriter, r *http.Request) {
	a, id, p, err := s.archiveArgs(r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	opts := api.CopyToOptions{NoOverwriteDirNonDir: queryBool(r.URL.Query(), "noOverwriteDirNonDir")}
	if err := a.CopyTo(r.Context(), id, p, r.Body, opts); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
