package kernel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func payload(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// fileServer serves body at any path with Range support, and records
// each request's Range header. cut, if > 0, makes the first cut requests
// stop after half of what they promised.
type fileServer struct {
	body []byte
	mu   sync.Mutex
	reqs []string // Range headers ("" for none)
	cut  int
	// ignoreRange answers every request with the whole file (200).
	ignoreRange bool
	status      int // if set, every answer is this status
}

func (f *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Header.Get("Range"))
	cut := f.cut > 0
	if cut {
		f.cut--
	}
	f.mu.Unlock()
	if f.status != 0 {
		http.Error(w, "no", f.status)
		return
	}
	if f.ignoreRange {
		r.Header.Del("Range")
	}
	if cut {
		// Promise the whole file, send half, drop the connection.
		w.Header().Set("Content-Length", itoa(len(f.body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(f.body[:len(f.body)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, "file", time.Time{}, bytes.NewReader(f.body))
}

func (f *fileServer) ranges() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func itoa(n int) string { return strconv.Itoa(n) }

// deadURL is an address nothing listens on.
func deadURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/kernel.deb"
}

func quiet() *http.Client {
	return &http.Client{Timeout: 10 * time.Second}
}

func TestDownload(t *testing.T) {
	body := payload(3<<20+17, 1)
	good := sha(body)
	cases := []struct {
		name    string
		server  *fileServer
		opts    func(o *DownloadOptions, url string)
		partial []byte // left from an earlier attempt
		wantErr error
		msg     string
		// ranges the server must have seen, in order
		ranges []string
	}{
		{name: "success", server: &fileServer{body: body}, ranges: []string{""}},
		{name: "resume after a cut in one call", server: &fileServer{body: body, cut: 1},
			ranges: []string{"", "bytes=" + itoa(len(body)/2) + "-"}},
		{name: "resume a partial file from an earlier run", server: &fileServer{body: body},
			partial: body[:1000], ranges: []string{"bytes=1000-"}},
		{name: "server ignores Range: start over", server: &fileServer{body: body, ignoreRange: true},
			partial: body[:1000], ranges: []string{"bytes=1000-"}},
		{name: "partial longer than the file is dropped", server: &fileServer{body: body},
			partial: append(append([]byte(nil), body...), 'x'), ranges: []string{""}},
		{name: "wrong checksum", server: &fileServer{body: payload(len(body), 2)},
			wantErr: api.ErrCorrupt, msg: "does not match its pinned sha256"},
		{name: "truncated every time", server: &fileServer{body: body, cut: 100},
			opts:    func(o *DownloadOptions, _ string) { o.Attempts = 2 },
			wantErr: api.ErrUnavailable, msg: "cut after"},
		{name: "server down", opts: func(o *DownloadOptions, _ string) { o.URLs = []string{deadURL(t)} },
			wantErr: api.ErrUnavailable, msg: "check the network connection"},
		{name: "not found", server: &fileServer{body: body, status: http.StatusNotFound},
			wantErr: api.ErrUnavailable, msg: "404", ranges: []string{""}},
		{name: "first mirror down, second serves", server: &fileServer{body: body},
			opts: func(o *DownloadOptions, url string) { o.URLs = []string{deadURL(t), url} }, ranges: []string{""}},
		{name: "bad pin", server: &fileServer{body: body},
			opts:    func(o *DownloadOptions, _ string) { o.SHA256 = "abc" },
			wantErr: api.ErrInvalidArgument, msg: "64 hex digits"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dest := filepath.Join(dir, "k.deb")
			url := ""
			if tc.server != nil {
				srv := httptest.NewServer(tc.server)
				defer srv.Close()
				url = srv.URL + "/k.deb"
			}
			if tc.partial != nil {
				if err := os.WriteFile(dest+PartialSuffix, tc.partial, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			var reports []api.Progress
			o := DownloadOptions{URLs: []string{url}, SHA256: good, Size: int64(len(body)), Dest: dest,
				Client: quiet(), Progress: func(p api.Progress) { mu.Lock(); reports = append(reports, p); mu.Unlock() }}
			if tc.opts != nil {
				tc.opts(&o, url)
			}
			err := Download(context.Background(), o)
			if tc.ranges != nil {
				if got := tc.server.ranges(); strings.Join(got, ",") != strings.Join(tc.ranges, ",") {
					t.Errorf("requests with Range %q, want %q", got, tc.ranges)
				}
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("err = %v, want %v containing %q", err, tc.wantErr, tc.msg)
				}
				if _, serr := os.Stat(dest); !errors.Is(serr, os.ErrNotExist) {
					t.Fatalf("a failed download left %s", dest)
				}
				if errors.Is(err, api.ErrCorrupt) {
					if _, serr := os.Stat(dest + PartialSuffix); !errors.Is(serr, os.ErrNotExist) {
						t.Fatal("a file with the wrong checksum was kept to resume")
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(dest)
			if !bytes.Equal(got, body) {
				t.Fatalf("downloaded %d bytes, not the file", len(got))
			}
			if _, err := os.Stat(dest + PartialSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("partial file left behind")
			}
			mu.Lock()
			defer mu.Unlock()
			var last api.Progress
			for _, p := range reports {
				if p.Action == "download" {
					if p.Current < last.Current && last.Action == "download" && !strings.Contains(tc.name, "start over") && !strings.Contains(tc.name, "longer") {
						t.Errorf("progress went back from %d to %d", last.Current, p.Current)
					}
					last = p
				}
			}
			if last.Current != int64(len(body)) || last.Total != int64(len(body)) || !last.Done {
				t.Errorf("last download report %+v, want %d of %d, done", last, len(body), len(body))
			}
		})
	}
}

// A partial file cut by one run is resumed by the next, and a good file
// already in place is neither fetched again nor lost to a failing mirror.
func TestDownloadAcrossRuns(t *testing.T) {
	body := payload(1<<20, 3)
	fs := &fileServer{body: body, cut: 1}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	dest := filepath.Join(t.TempDir(), "k.deb")
	o := DownloadOptions{URLs: []string{srv.URL}, SHA256: sha(body), Size: int64(len(body)), Dest: dest, Client: quiet(), Attempts: 1}
	if err := Download(context.Background(), o); !errors.Is(err, api.ErrUnavailable) {
		t.Fatalf("cut with one attempt: %v", err)
	}
	if n := fileSize(dest + PartialSuffix); n != int64(len(body)/2) {
		t.Fatalf("partial holds %d bytes, want %d", n, len(body)/2)
	}
	if err := Download(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if r := fs.ranges(); len(r) != 2 || r[1] != "bytes="+itoa(len(body)/2)+"-" {
		t.Fatalf("second run asked %q", r)
	}
	o.URLs = []string{deadURL(t)}
	if err := Download(context.Background(), o); err != nil {
		t.Fatalf("file in place, mirror down: %v", err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, body) {
		t.Fatal("good file lost")
	}
}

func TestDownloadCanceled(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		_, _ = w.Write(make([]byte, 10))
		w.(http.Flusher).Flush()
		<-block
	}))
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := Download(ctx, DownloadOptions{URLs: []string{srv.URL}, SHA256: sha(nil), Size: 1000,
		Dest: filepath.Join(t.TempDir(), "k"), Client: quiet()})
	if !errors.Is(err, api.ErrCanceled) {
		t.Fatalf("err = %v, want ErrCanceled", err)
	}
}
