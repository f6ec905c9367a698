package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/berthvm/berth/core/api"
)

// jsonHandler answers one request with one JSON value or an error.
type jsonHandler func(r *http.Request) (any, error)

// streamHandler answers with a stream of progress lines, then a result.
type streamHandler func(r *http.Request, progress api.ProgressFunc) (any, error)

// route registers a JSON endpoint: pattern is Go's "METHOD /path".
func (d *Daemon) route(pattern string, h jsonHandler) {
	d.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		out, err := h(r)
		if err != nil {
			d.writeError(w, r, err)
			return
		}
		if out == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(out); err != nil {
			d.log.Debug("write reply", "path", r.URL.Path, "err", err)
		}
	})
}

// streamRoute registers an endpoint for a long operation. The reply is
// NDJSON: any number of {"progress":…} lines, then exactly one
// {"result":…} or {"error":…} line. Errors that happen before the first
// line is written still get a proper status code.
func (d *Daemon) streamRoute(pattern string, h streamHandler) {
	d.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		sw := &streamWriter{w: w}
		out, err := h(r, sw.progress)
		if err != nil && !sw.started() {
			d.writeError(w, r, err)
			return
		}
		if err != nil {
			d.log.Info("request failed", "path", r.URL.Path, "err", err)
			sw.line(api.StreamLine{Error: api.ToRemote(err)})
			return
		}
		raw, mErr := json.Marshal(out)
		if mErr != nil {
			sw.line(api.StreamLine{Error: api.ToRemote(fmt.Errorf("encode result: %w", mErr))})
			return
		}
		sw.line(api.StreamLine{Result: raw})
	})
}

type streamWriter struct {
	mu     sync.Mutex
	w      http.ResponseWriter
	begun  bool
	broken bool
}

func (s *streamWriter) started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.begun
}

func (s *streamWriter) progress(p api.Progress) { s.line(api.StreamLine{Progress: &p}) }

func (s *streamWriter) line(l api.StreamLine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		return
	}
	if !s.begun {
		s.w.Header().Set("Content-Type", "application/x-ndjson")
		s.w.WriteHeader(http.StatusOK)
		s.begun = true
	}
	if err := json.NewEncoder(s.w).Encode(l); err != nil {
		s.broken = true // the client went away; the operation's ctx ends too
		return
	}
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}

// statusOf maps sentinel errors to HTTP status codes.
func statusOf(err error) int {
	switch api.CodeOf(err) {
	case api.CodeNotFound:
		return http.StatusNotFound
	case api.CodeAlreadyExists, api.CodeConflict:
		return http.StatusConflict
	case api.CodeInvalidArgument:
		return http.StatusBadRequest
	case api.CodeUnsupported:
		return http.StatusNotImplemented
	case api.CodeUnavailable:
		return http.StatusServiceUnavailable
	case api.CodeCanceled:
		return 499 // client closed request, as nginx names it
	}
	return http.StatusInternalServerError
}

func (d *Daemon) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	level := slog.LevelInfo
	if status == http.StatusInternalServerError {
		level = slog.LevelError
	}
	d.log.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(api.ToRemote(err))
}

// decodeBody reads a JSON request body into v.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("request body over %d bytes: %w", mbe.Limit, api.ErrInvalidArgument)
		}
		return fmt.Errorf("decode request: %v: %w", err, api.ErrInvalidArgument)
	}
	return nil
}
