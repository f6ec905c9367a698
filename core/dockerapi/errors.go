package dockerapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/berthvm/berth/core/api"
)

// statusOf is docker's status code for err's kind.
func statusOf(err error) int {
	switch {
	case errors.Is(err, api.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, api.ErrAlreadyExists), errors.Is(err, api.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, api.ErrInvalidArgument):
		return http.StatusBadRequest
	case errors.Is(err, api.ErrUnsupported):
		return http.StatusNotImplemented
	case errors.Is(err, api.ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorBody is docker's error object.
type errorBody struct {
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status := statusOf(err)
	level := slog.LevelInfo
	if status == http.StatusInternalServerError {
		level = slog.LevelError
	}
	log.Log(r.Context(), level, "docker api request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, errorBody{Message: err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
