package daemon

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/berthvm/berth/core/api"
)

// Docker's archive routes for berth cp, on Berth's own API: HEAD stats a
// path (the stat in api.PathStatHeader), GET returns its tar with the
// stat in that header too, PUT extracts a tar body into a directory.
// They work on running containers and, through a maintenance boot, on
// created and stopped ones.
func (d *Daemon) archiveRoutes() {
	d.mux.HandleFunc("HEAD /v1/containers/{id}/archive", d.archiveStat)
	d.mux.HandleFunc("GET /v1/containers/{id}/archive", d.archiveGet)
	d.mux.HandleFunc("PUT /v1/containers/{id}/archive", d.archivePut)
}

func archivePath(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", fmt.Errorf("the path query parameter is required: %w", api.ErrInvalidArgument)
	}
	return p, nil
}

func setStatHeader(w http.ResponseWriter, st api.PathStat) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	w.Header().Set(api.PathStatHeader, base64.StdEncoding.EncodeToString(raw))
	return nil
}

func (d *Daemon) archiveStat(w http.ResponseWriter, r *http.Request) {
	p, err := archivePath(r)
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	st, err := d.runtime.StatPath(r.Context(), r.PathValue("id"), p)
	if err == nil {
		err = setStatHeader(w, st)
	}
	if err != nil {
		// A HEAD reply has no body: the error travels in a header too.
		if raw, jerr := json.Marshal(api.ToRemote(err)); jerr == nil {
			w.Header().Set(api.ErrorHeader, base64.StdEncoding.EncodeToString(raw))
		}
		d.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (d *Daemon) archiveGet(w http.ResponseWriter, r *http.Request) {
	p, err := archivePath(r)
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	st, rc, err := d.runtime.CopyFrom(r.Context(), r.PathValue("id"), p)
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	defer rc.Close()
	if err := setStatHeader(w, st); err != nil {
		d.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	// Once the status is out, an error can only cut the stream short:
	// the client's tar reader then fails on the truncated archive, and
	// the trailer that a whole tar ends with is missing.
	if _, err := io.Copy(w, rc); err != nil && r.Context().Err() == nil {
		d.log.Warn("archive stream ended early", "container", r.PathValue("id"), "path", p, "err", err)
		panic(http.ErrAbortHandler) // abort the response: the client sees a broken stream, not an end
	}
}

func (d *Daemon) archivePut(w http.ResponseWriter, r *http.Request) {
	p, err := archivePath(r)
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	q := r.URL.Query().Get("noOverwriteDirNonDir")
	opts := api.CopyToOptions{NoOverwriteDirNonDir: q == "1" || q == "true"}
	if err := d.runtime.CopyTo(r.Context(), r.PathValue("id"), p, r.Body, opts); err != nil {
		d.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
