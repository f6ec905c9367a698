package dockerapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/image"
)

// fakeStore is fakeImages with every optional capability; it records
// what it was asked.
type fakeStore struct {
	fakeImages
	mu      sync.Mutex
	tags    []string // "source>target"
	saved   []string
	loaded  string
	pushed  []string
	auth    []string // the user each push signed in as ("" none)
	pruneAt []bool
	logins  []string // "registry user"
}

func (f *fakeStore) CheckLogin(_ context.Context, registry, username, password string, _ image.RegistryOptions) (api.RegistryLogin, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logins = append(f.logins, registry+" "+username)
	if password != "pw" {
		return api.RegistryLogin{}, fmt.Errorf("registry %s refused access (401): %w", registry, api.ErrUnavailable)
	}
	return api.RegistryLogin{Registry: registry}, nil
}

func (f *fakeStore) Tag(_ context.Context, source, target string) error {
	if _, err := f.Inspect(context.Background(), source); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tags = append(f.tags, source+">"+target)
	return nil
}

func (f *fakeStore) History(_ context.Context, ref string) ([]api.ImageHistoryEntry, error) {
	return []api.ImageHistoryEntry{
		{Created: time.Unix(200, 0), CreatedBy: "CMD [\"sh\"]", EmptyLayer: true},
		{Created: time.Unix(100, 0), CreatedBy: "ADD rootfs /", LayerDigest: "sha256:l1", Size: 42},
	}, nil
}

func (f *fakeStore) Prune(_ context.Context, all bool, match func(api.Image, api.ImageConfig) bool) (api.ImagePruned, error) {
	f.mu.Lock()
	f.pruneAt = append(f.pruneAt, all)
	f.mu.Unlock()
	old := api.Image{Digest: "sha256:old", Names: []string{"docker.io/library/old:1"}, Created: time.Unix(100, 0)}
	if match != nil && !match(old, api.ImageConfig{Labels: map[string]string{"env": "test"}}) {
		return api.ImagePruned{}, nil
	}
	return api.ImagePruned{Untagged: old.Names, Deleted: []string{old.Digest}, Reclaimed: 1234}, nil
}

func (f *fakeStore) Save(_ context.Context, w io.Writer, refs ...string) error {
	f.mu.Lock()
	f.saved = append(f.saved, refs...)
	f.mu.Unlock()
	_, err := io.WriteString(w, "TARBALL")
	return err
}

func (f *fakeStore) LoadArchive(_ context.Context, r io.Reader, _ string, opts image.LoadOptions) ([]api.Image, error) {
	b, _ := io.ReadAll(r)
	f.mu.Lock()
	f.loaded = string(b)
	f.mu.Unlock()
	if string(b) != "TARBALL" {
		return nil, fmt.Errorf("load: not a tarball: %w", api.ErrInvalidArgument)
	}
	opts.Progress.Report(api.Progress{ID: "sha256:0123456789abcdef", Action: "read", Current: 3, Total: 7})
	return []api.Image{{ID: "sha256:abc", Names: []string{"docker.io/berth/demo:latest", "localhost:5000/a/b:1"}}, {ID: "sha256:bare"}}, nil
}

func (f *fakeStore) Push(_ context.Context, ref, target string, opts image.PushOptions) (api.ImagePushed, error) {
	user := ""
	if opts.Auth != nil {
		cfg, err := opts.Auth.Authorization()
		if err != nil {
			return api.ImagePushed{}, err
		}
		user = cfg.Username
	}
	f.mu.Lock()
	f.pushed = append(f.pushed, ref)
	f.auth = append(f.auth, user)
	f.mu.Unlock()
	if strings.Contains(ref, "down") {
		return api.ImagePushed{}, fmt.Errorf("push %s: registry down: %w", ref, api.ErrUnavailable)
	}
	opts.Progress.Report(api.Progress{ID: "0123456789ab", Action: "upload", Total: 10})
	opts.Progress.Report(api.Progress{ID: "0123456789ab", Action: "upload", Current: 10, Total: 10})
	opts.Progress.Report(api.Progress{ID: "0123456789ab", Action: "upload", Current: 10, Total: 10, Done: true})
	return api.ImagePushed{Digest: "sha256:def", Size: 527}, nil
}

// Inspect knows the names the tests push and tag as well as fakeImages'.
func (f *fakeStore) Inspect(ctx context.Context, ref string) (api.ImageDetail, error) {
	switch ref {
	case "localhost:5000/a/b:1", "localhost:5000/down:1":
		return api.ImageDetail{Image: api.Image{ID: "sha256:" + strings.Repeat("b", 64), Names: []string{ref}}}, nil
	}
	return f.fakeImages.Inspect(ctx, ref)
}

func (f *fakeStore) List(context.Context) ([]api.Image, error) {
	return []api.Image{
		{ID: "sha256:abc", Names: []string{"localhost:5000/a/b:1", "localhost:5000/a/b:2", "localhost:5000/a/c:1"}},
	}, nil
}

func storeServer(t *testing.T, f *fakeStore, du func(context.Context) (api.DiskUsage, error)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(Config{Containers: newFake(running()), Images: f, DiskUsage: du}))
	t.Cleanup(srv.Close)
	return srv
}

func TestImageEndpoints(t *testing.T) {
	f := &fakeStore{}
	srv := storeServer(t, f, nil)
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string // the body, exactly when it ends in a newline, else within it
	}{
		{"POST", "/v1.47/images/berth/demo/tag?repo=localhost:5000/a/b&tag=1", "", 201, ""},
		{"POST", "/v1.47/images/berth/demo/tag?repo=Bad/Name", "", 400, `{"message":"invalid reference format: Bad/Name:latest"}`},
		{"POST", "/v1.47/images/berth/demo/tag?repo=x&tag=-bad", "", 400, `{"message":"invalid tag format"}`},
		{"POST", "/v1.47/images/berth/demo/tag", "", 400, "repository name must have at least one component"},
		{"POST", "/v1.47/images/nope/tag?repo=x", "", 404, `{"message":"No such image: nope"}`},
		{"GET", "/v1.47/images/localhost:5000/a/b:1/json", "", 200, `"RepoTags":["localhost:5000/a/b:1"]`},
		{"GET", "/v1.47/images/berth/demo/history", "", 200,
			`[{"Id":"sha256:abc","Created":200,"CreatedBy":"CMD [\"sh\"]","Tags":["berth/demo:latest"],"Size":0,"Comment":""},` +
				`{"Id":"\u003cmissing\u003e","Created":100,"CreatedBy":"ADD rootfs /","Tags":null,"Size":42,"Comment":""}]` + "\n"},
		{"GET", "/v1.47/images/nope/history", "", 404, `{"message":"No such image: nope"}`},
		{"GET", "/v1.47/images/berth/demo/bogus", "", 501, "GET /images/berth/demo/bogus is not supported"},
		{"POST", "/v1.47/images/prune", "", 200, `{"ImagesDeleted":[{"Untagged":"old:1"},{"Deleted":"sha256:old"}],"SpaceReclaimed":1234}` + "\n"},
		{"POST", `/v1.47/images/prune?filters={"dangling":{"false":true}}`, "", 200, `"SpaceReclaimed":1234`},
		{"POST", `/v1.47/images/prune?filters={"until":{"50":true}}`, "", 200, `{"ImagesDeleted":[],"SpaceReclaimed":0}` + "\n"},
		{"POST", `/v1.47/images/prune?filters={"until":{"150":true},"label":{"env=test":true}}`, "", 200, `"SpaceReclaimed":1234`},
		{"POST", `/v1.47/images/prune?filters={"label!":{"env":true}}`, "", 200, `{"ImagesDeleted":[],"SpaceReclaimed":0}` + "\n"},
		{"POST", `/v1.47/images/prune?filters={"until":{"soon":true}}`, "", 400, "invalid filter 'until=soon'"},
		{"POST", `/v1.47/images/prune?filters={"reference":{"x":true}}`, "", 400, "invalid filter 'reference'"},
		{"GET", "/v1.47/images/get?names=berth/demo&names=localhost:5000/a/b:1", "", 200, "TARBALL"},
		{"GET", "/v1.47/images/localhost:5000/a/b:1/get", "", 200, "TARBALL"},
		{"GET", "/v1.47/images/get?names=nope", "", 404, `{"message":"No such image: nope"}`},
		{"GET", "/v1.47/images/get", "", 400, "no images specified"},
		{"POST", "/v1.47/images/load?quiet=1", "TARBALL", 200,
			`{"stream":"Loaded image: berth/demo:latest\n"}` + "\n" + `{"stream":"Loaded image: localhost:5000/a/b:1\n"}` + "\n" +
				`{"stream":"Loaded image ID: sha256:bare\n"}` + "\n"},
		{"POST", "/v1.47/images/load", "TARBALL", 200, `{"status":"Loading layer","id":"0123456789ab","progressDetail":{"current":3,"total":7}}`},
		{"POST", "/v1.47/images/load?quiet=1", "junk", 200,
			`{"errorDetail":{"message":"load: not a tarball: invalid argument"},"error":"load: not a tarball: invalid argument"}` + "\n"},
		{"POST", "/v1.47/images/nope/push?tag=1", "", 404, `{"message":"No such image: nope:1"}`},
		{"POST", "/v1.47/images/localhost:5000/zzz/push", "", 404, "An image does not exist locally with the tag: localhost:5000/zzz"},
		{"GET", "/v1.47/system/df", "", 501, "GET /system/df is not supported"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			status, body, _ := do(t, srv, tc.method, tc.path, tc.body)
			exact := strings.HasSuffix(tc.want, "\n") || tc.want == ""
			if status != tc.status || (exact && body != tc.want) || (!exact && !strings.Contains(body, tc.want)) {
				t.Errorf("got %d %s, want %d with %q", status, body, tc.status, tc.want)
			}
		})
	}
	if strings.Join(f.tags, " ") != "berth/demo>localhost:5000/a/b:1" {
		t.Errorf("tags: %v", f.tags)
	}
	if strings.Join(f.saved, " ") != "berth/demo localhost:5000/a/b:1 localhost:5000/a/b:1" {
		t.Errorf("saved: %v", f.saved)
	}
	if fmt.Sprint(f.pruneAt) != "[false true false false false]" {
		t.Errorf("prune all: %v", f.pruneAt)
	}
}

func TestImagePush(t *testing.T) {
	f := &fakeStore{}
	srv := storeServer(t, f, nil)
	push := func(path, auth string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("X-Registry-Auth", auth)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	creds := base64.URLEncoding.EncodeToString([]byte(`{"username":"u","password":"p","serveraddress":"localhost:5000"}`))
	status, body := push("/v1.47/images/localhost:5000/a/b/push?tag=1", creds)
	want := `{"status":"The push refers to repository [localhost:5000/a/b]"}
{"status":"Preparing","id":"0123456789ab","progressDetail":{}}
{"status":"Pushing","id":"0123456789ab","progressDetail":{"current":10,"total":10}}
{"status":"Pushed","id":"0123456789ab","progressDetail":{}}
{"status":"1: digest: sha256:def size: 527"}
{"progressDetail":{},"aux":{"Tag":"1","Digest":"sha256:def","Size":527}}
`
	if status != 200 || body != want {
		t.Errorf("push: %d\n%s", status, body)
	}
	// No tag: every local tag of the repository; "e30=" is {}: no credentials.
	status, body = push("/v1.47/images/localhost:5000/a/b/push", "e30=")
	if status != 200 || !strings.Contains(body, `"1: digest:`) || !strings.Contains(body, `"2: digest:`) {
		t.Errorf("push all tags: %d\n%s", status, body)
	}
	if got := strings.Join(f.pushed, " "); got != "localhost:5000/a/b:1 localhost:5000/a/b:1 localhost:5000/a/b:2" {
		t.Errorf("pushed %s", got)
	}
	if fmt.Sprintf("%q", f.auth) != `["u" "" ""]` {
		t.Errorf("push credentials: %q", f.auth)
	}
	status, body = push("/v1.47/images/localhost:5000/down/push?tag=1", "")
	if status != 200 || !strings.HasSuffix(body, `{"errorDetail":{"message":"push localhost:5000/down:1: registry down: unavailable"},"error":"push localhost:5000/down:1: registry down: unavailable"}`+"\n") {
		t.Errorf("failed push: %d\n%s", status, body)
	}
	if status, body = push("/v1.47/images/localhost:5000/a/b/push?tag=1", "%%%"); status != 400 || !strings.Contains(body, "X-Registry-Auth") {
		t.Errorf("bad auth header: %d %s", status, body)
	}
}

func TestImagePullUpToDate(t *testing.T) {
	f := &pullingStore{}
	srv := httptest.NewServer(New(Config{Images: f}))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/v1.47/images/create?fromImage=berth/demo&tag=latest&platform=linux/arm64", nil)
	req.Header.Set("X-Registry-Auth", base64.URLEncoding.EncodeToString([]byte(`{"username":"me","password":"pw"}`)))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"status":"Pulling from berth/demo","id":"latest"}
{"status":"Already exists","id":"0123456789ab"}
{"status":"Digest: sha256:same"}
{"status":"Status: Image is up to date for berth/demo:latest"}
`
	if string(b) != want {
		t.Errorf("pull:\n%s", b)
	}
	if f.opts.Platform != "linux/arm64" || f.user != "me" {
		t.Errorf("pull options: platform %q, user %q", f.opts.Platform, f.user)
	}
}

// pullingStore has berth/demo at sha256:same already.
type pullingStore struct {
	fakeImages
	opts image.PullOptions
	user string
}

func (p *pullingStore) Inspect(_ context.Context, ref string) (api.ImageDetail, error) {
	return api.ImageDetail{Image: api.Image{Digest: "sha256:same"}}, nil
}

func (p *pullingStore) Pull(_ context.Context, ref string, opts image.PullOptions) (api.Image, error) {
	p.opts = opts
	if opts.Auth != nil {
		cfg, _ := opts.Auth.Authorization()
		p.user = cfg.Username
	}
	opts.Progress.Report(api.Progress{ID: "sha256:0123456789abcdef", Action: "download", Current: 5, Total: 5, Done: true, Message: "already exists"})
	return api.Image{Digest: "sha256:same"}, nil
}

func TestSystemDF(t *testing.T) {
	du := api.DiskUsage{
		Images:     []api.ImageUsage{{Image: api.Image{ID: "sha256:abc", Names: []string{"docker.io/berth/demo:latest"}, Size: 1000}, Containers: 1}},
		Containers: []api.ContainerUsage{{ID: strings.Repeat("a", 64), Name: "web", Size: 4096}},
		Volumes:    []api.VolumeUsage{{Name: "data", Size: 512, Containers: 2}},
	}
	srv := storeServer(t, &fakeStore{}, func(context.Context) (api.DiskUsage, error) { return du, nil })
	status, body, _ := do(t, srv, "GET", "/v1.47/system/df", "")
	for _, want := range []string{
		`"LayersSize":1000`,
		`"RepoTags":["berth/demo:latest"],"RepoDigests":[],"Created":`,
		`"Size":1000,"SharedSize":0,"Labels":{},"Containers":1}`,
		`"Names":["/web"]`, `"SizeRw":4096,"SizeRootFs":0`,
		`"Name":"data","Driver":"local"`, `"UsageData":{"Size":512,"RefCount":2}`,
		`"BuildCache":[]`,
	} {
		if status != 200 || !strings.Contains(body, want) {
			t.Errorf("df: %d, want %s in\n%s", status, want, body)
		}
	}
}

func TestImageRemoveConflicts(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("image berth/demo is used by container(s) web; remove them first or use -f: %w", api.ErrConflict),
			`conflict: unable to remove repository reference \"berth/demo\" (must force) - container web is using its referenced image abc`},
		{fmt.Errorf("image berth/demo has 2 names (a, b); remove them one by one or use -f: %w", api.ErrConflict),
			"conflict: unable to delete abc (must be forced) - image is referenced in multiple repositories"},
		{fmt.Errorf("image berth/demo: %w", api.ErrNotFound), "No such image: berth/demo"},
	} {
		err := imageErr("berth/demo", "abc", tc.err)
		if got := fmt.Sprintf("%q", err.Error()); !strings.Contains(got, tc.want) || statusOf(err) != statusOf(tc.err) {
			t.Errorf("imageErr(%v) = %v (%d)", tc.err, err, statusOf(err))
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h":                  now.Add(-24 * time.Hour),
		"1700000000":           time.Unix(1700000000, 0),
		"1700000000.5":         time.Unix(1700000000, 500_000_000),
		"2025-12-31T10:00:00Z": time.Date(2025, 12, 31, 10, 0, 0, 0, time.UTC),
		"2025-12-31":           time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC),
	} {
		if got, err := parseTimestamp(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseTimestamp(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseTimestamp("yesterday", now); statusOf(err) != 400 {
		t.Errorf("parseTimestamp(yesterday): %v", err)
	}
}

// TestAuth: docker login's POST /auth checks the credentials with the
// store, for the registry the CLI names in any of its spellings.
func TestAuth(t *testing.T) {
	f := &fakeStore{}
	srv := storeServer(t, f, nil)
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"username":"me","password":"pw","serveraddress":"localhost:5000"}`, 200, `{"Status":"Login Succeeded","IdentityToken":""}` + "\n"},
		{`{"username":"me","password":"pw","serveraddress":"http://localhost:5000/v2/"}`, 200, "Login Succeeded"},
		{`{"username":"me","password":"pw","serveraddress":"https://index.docker.io/v1/"}`, 200, "Login Succeeded"},
		{`{"username":"me","password":"pw"}`, 200, "Login Succeeded"},
		{`{"username":"me","password":"no","serveraddress":"localhost:5000"}`, 503, "refused access (401)"},
		{`{"username":`, 400, "decode request body"},
	} {
		status, body, _ := do(t, srv, "POST", "/v1.47/auth", tc.body)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("POST /auth %s: got %d %s, want %d with %q", tc.body, status, body, tc.status, tc.want)
		}
	}
	want := []string{"localhost:5000 me", "localhost:5000 me", "index.docker.io me", "index.docker.io me", "localhost:5000 me"}
	if !slices.Equal(f.logins, want) {
		t.Errorf("logins %q, want %q", f.logins, want)
	}
	// A store without the capability: 501, not a pretended login.
	plain := testServer(t, newFake())
	if status, body, _ := do(t, plain, "POST", "/v1.47/auth", `{"username":"me","password":"pw"}`); status != 501 {
		t.Errorf("POST /auth without a checker: %d %s", status, body)
	}
}
