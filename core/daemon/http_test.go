package daemon

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

func testDaemon() *Daemon {
	return &Daemon{mux: http.NewServeMux(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestStreamRoute(t *testing.T) {
	d := testDaemon()
	d.streamRoute("POST /ok", func(r *http.Request, p api.ProgressFunc) (any, error) {
		for i := int64(1); i <= 3; i++ {
			p(api.Progress{ID: "layer", Action: "download", Current: i, Total: 3})
		}
		return map[string]string{"digest": "sha256:abc"}, nil
	})
	d.streamRoute("POST /late-fail", func(r *http.Request, p api.ProgressFunc) (any, error) {
		p(api.Progress{ID: "layer", Action: "download"})
		return nil, fmt.Errorf("image %q: %w", "x", api.ErrCorrupt)
	})
	d.streamRoute("POST /early-fail", func(r *http.Request, p api.ProgressFunc) (any, error) {
		return nil, fmt.Errorf("image %q: %w", "x", api.ErrNotFound)
	})
	srv := httptest.NewServer(d.mux)
	defer srv.Close()

	lines := func(path string) (int, []api.StreamLine) {
		resp, err := http.Post(srv.URL+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out []api.StreamLine
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var l api.StreamLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("%s: bad line %q", path, sc.Text())
			}
			out = append(out, l)
		}
		return resp.StatusCode, out
	}

	code, ls := lines("/ok")
	if code != 200 || len(ls) != 4 || ls[2].Progress.Current != 3 || !strings.Contains(string(ls[3].Result), "sha256:abc") {
		t.Fatalf("ok stream: %d %+v", code, ls)
	}
	code, ls = lines("/late-fail")
	if code != 200 || len(ls) != 2 || ls[1].Error == nil || !errors.Is(ls[1].Error, api.ErrCorrupt) {
		t.Fatalf("late failure: %d %+v", code, ls)
	}
	code, ls = lines("/early-fail")
	if code != http.StatusNotFound || len(ls) != 1 || ls[0].Error != nil {
		// The body of an early failure is a plain RemoteError, not a stream line.
		t.Fatalf("early failure: %d %+v", code, ls)
	}
}

func TestDecodeBodyAndStatus(t *testing.T) {
	type req struct{ Name string }
	cases := []struct {
		body    string
		wantErr bool
	}{
		{`{"Name":"web"}`, false},
		{`{"Name":`, true},
		{`{"Nme":"web"}`, true}, // unknown fields are mistakes, not ignored
		{`{"Name":"` + strings.Repeat("x", 2<<20) + `"}`, true},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		var v req
		err := decodeBody(r, &v)
		if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, api.ErrInvalidArgument)) {
			t.Errorf("decodeBody(%.20q) = %v", tc.body, err)
		}
	}
	statuses := map[error]int{
		api.ErrNotFound: 404, api.ErrAlreadyExists: 409, api.ErrConflict: 409, api.ErrInvalidArgument: 400,
		api.ErrUnsupported: 501, api.ErrUnavailable: 503, errors.New("x"): 500,
	}
	for err, want := range statuses {
		if got := statusOf(fmt.Errorf("wrapped: %w", err)); got != want {
			t.Errorf("statusOf(%v) = %d, want %d", err, got, want)
		}
	}
}
