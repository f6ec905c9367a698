package dockerapi

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

// archivingFake is the fake runtime with one file, /etc/hostname, and a
// record of the tars put into it.
type archivingFake struct {
	*fakeContainers
	put map[string][]byte // dir → the tar
}

func (f *archivingFake) StatPath(_ context.Context, ref, path string) (api.PathStat, error) {
	if path != "/etc/hostname" && path != "/tmp/" {
		return api.PathStat{}, api.Exactly(api.ErrNotFound, "Could not find the file %s in container %s", path, ref)
	}
	return api.PathStat{Name: "hostname", Size: 4, Mode: 0o644, Mtime: time.Unix(1, 0).UTC()}, nil
}

func (f *archivingFake) CopyFrom(ctx context.Context, ref, path string) (api.PathStat, io.ReadCloser, error) {
	st, err := f.StatPath(ctx, ref, path)
	if err != nil {
		return st, nil, err
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "hostname", Mode: 0o644, Size: 4})
	tw.Write([]byte("web\n"))
	tw.Close()
	return st, io.NopCloser(&b), nil
}

func (f *archivingFake) CopyTo(_ context.Context, ref, dir string, r io.Reader, opts api.CopyToOptions) error {
	if !opts.NoOverwriteDirNonDir {
		return fmt.Errorf("want noOverwriteDirNonDir: %w", api.ErrInvalidArgument)
	}
	b, _ := io.ReadAll(r)
	f.put[dir] = b
	return nil
}

func TestArchive(t *testing.T) {
	f := &archivingFake{fakeContainers: newFake(running()), put: map[string][]byte{}}
	srv := httptest.NewServer(New(Config{Containers: f, Images: fakeImages{}}))
	defer srv.Close()

	status, _, h := do(t, srv, "HEAD", "/v1.47/containers/web/archive?path=/etc/hostname", "")
	raw, _ := base64.StdEncoding.DecodeString(h.Get("X-Docker-Container-Path-Stat"))
	var st map[string]any
	if err := json.Unmarshal(raw, &st); status != 200 || err != nil || st["name"] != "hostname" || st["size"] != 4.0 ||
		st["mode"] != 420.0 || st["mtime"] != "1970-01-01T00:00:01Z" || st["linkTarget"] != "" {
		t.Errorf("HEAD archive: %d %s", status, raw)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		want         string
	}{
		{"HEAD", "/v1.47/containers/web/archive?path=/nope", 404, ""},
		{"HEAD", "/v1.47/containers/nope/archive?path=/etc/hostname", 404, ""},
		{"GET", "/v1.47/containers/web/archive?path=/nope", 404, `{"message":"Could not find the file /nope in container `},
		{"GET", "/v1.47/containers/nope/archive?path=/etc", 404, `{"message":"No such container: nope"}`},
		{"GET", "/v1.47/containers/web/archive", 400, "the path query parameter is required"},
	} {
		if status, body, _ := do(t, srv, tc.method, tc.path, ""); status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: got %d %s, want %d with %q", tc.method, tc.path, status, body, tc.status, tc.want)
		}
	}

	status, body, h := do(t, srv, "GET", "/v1.47/containers/web/archive?path=/etc/hostname", "")
	tr := tar.NewReader(strings.NewReader(body))
	hdr, err := tr.Next()
	content, _ := io.ReadAll(tr)
	if status != 200 || h.Get("Content-Type") != "application/x-tar" || h.Get("X-Docker-Container-Path-Stat") == "" ||
		err != nil || hdr.Name != "hostname" || string(content) != "web\n" {
		t.Errorf("GET archive: %d %v %v %q", status, h, err, content)
	}

	if status, body, _ := do(t, srv, "PUT", "/v1.47/containers/web/archive?path=/tmp/&noOverwriteDirNonDir=true&copyUIDGID=false", "TAR"); status != 200 ||
		string(f.put["/tmp/"]) != "TAR" {
		t.Errorf("PUT archive: %d %s, put %q", status, body, f.put)
	}
}
