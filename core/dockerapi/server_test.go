package dockerapi

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/events"
	"github.com/berthvm/berth/core/image"
	"github.com/berthvm/berth/core/runtime"
)

// fakeContainers is an in-memory runtime: containers by name, a run that
// ends when the test closes ended.
type fakeContainers struct {
	mu      sync.Mutex
	byName  map[string]api.Container
	created []api.ContainerSpec
	logs    []runtime.LogEntry
	ended   chan struct{}        // closed: the current run ends
	output  string               // what an attached run writes to stdout
	stats   []api.ContainerStats // the samples Stats returns in turn (the last one again)
	updates []api.ContainerUpdate
	removes []api.RemoveOptions // the options of each Remove
	looks   atomic.Int32        // calls of Inspect
}

func newFake(cs ...api.Container) *fakeContainers {
	f := &fakeContainers{byName: map[string]api.Container{}, ended: make(chan struct{})}
	for _, c := range cs {
		f.byName[c.Name] = c
	}
	return f
}

func (f *fakeContainers) get(ref string) (api.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.byName {
		if c.Name == ref || c.ID == ref {
			return c, nil
		}
	}
	return api.Container{}, fmt.Errorf("container %q: %w", ref, api.ErrNotFound)
}

func (f *fakeContainers) Create(_ context.Context, spec api.ContainerSpec) (api.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.byName[spec.Name]; ok {
		return api.Container{}, fmt.Errorf("the container name %q is already in use: %w", spec.Name, api.ErrAlreadyExists)
	}
	f.created = append(f.created, spec)
	c := api.Container{ID: strings.Repeat("c", 64), Name: spec.Name, Spec: spec, State: api.StateCreated}
	f.byName[spec.Name] = c
	return c, nil
}

func (f *fakeContainers) Inspect(ref string) (api.Container, error) {
	f.looks.Add(1)
	return f.get(ref)
}

func (f *fakeContainers) List(all bool) ([]api.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Container
	for _, c := range f.byName {
		if all || c.State.Active() {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeContainers) Start(_ context.Context, ref string, _ api.ProgressFunc) (api.Container, error) {
	c, err := f.get(ref)
	if err != nil {
		return c, err
	}
	if c.State == api.StateRunning {
		return c, fmt.Errorf("container %s is running: %w", c.Name, api.ErrConflict)
	}
	return c, nil
}

func (f *fakeContainers) Stop(_ context.Context, ref string, _ time.Duration, _ string) (api.Container, error) {
	return f.get(ref)
}

func (f *fakeContainers) Restart(_ context.Context, ref string, _ time.Duration, _ api.ProgressFunc) (api.Container, error) {
	return f.get(ref)
}

func (f *fakeContainers) Kill(_ context.Context, ref, _ string) error {
	_, err := f.get(ref)
	return err
}

func (f *fakeContainers) Remove(_ context.Context, ref string, opts api.RemoveOptions) error {
	c, err := f.get(ref)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.removes = append(f.removes, opts)
	delete(f.byName, c.Name)
	f.mu.Unlock()
	return nil
}

func (f *fakeContainers) Wait(_ context.Context, ref string) (api.Container, error) {
	return f.get(ref)
}

func (f *fakeContainers) Logs(_ context.Context, ref string, opts runtime.LogOptions, fn func(runtime.LogEntry) error) error {
	if _, err := f.get(ref); err != nil {
		return err
	}
	for _, e := range f.logs {
		if e.Time.Before(opts.Since) {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeContainers) Attach(ref string, opts runtime.AttachOptions) (func(context.Context) (api.Container, error), func(), error) {
	c, err := f.get(ref)
	if err != nil {
		return nil, nil, err
	}
	wait := func(ctx context.Context) (api.Container, error) {
		select {
		case <-f.ended:
		case <-ctx.Done():
			return api.Container{}, ctx.Err()
		}
		if opts.Stdout != nil && f.output != "" {
			io.WriteString(opts.Stdout, f.output)
		}
		end := c
		end.State, end.ExitCode = api.StateExited, 3
		return end, nil
	}
	return wait, func() {}, nil
}

func (f *fakeContainers) Resize(context.Context, string, uint16, uint16) error { return nil }

func (f *fakeContainers) Stats(_ context.Context, ref string) (api.ContainerStats, error) {
	c, err := f.get(ref)
	if err != nil {
		return api.ContainerStats{}, err
	}
	if c.State != api.StateRunning && c.State != api.StatePaused {
		return api.ContainerStats{}, fmt.Errorf("container %s is not running: %w", c.Name, api.ErrConflict)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.stats[0]
	if len(f.stats) > 1 {
		f.stats = f.stats[1:]
	}
	return st, nil
}

func (f *fakeContainers) Top(_ context.Context, ref string) (api.ContainerTop, error) {
	if _, err := f.get(ref); err != nil {
		return api.ContainerTop{}, err
	}
	now := time.Now()
	return api.ContainerTop{Time: now, Processes: []api.GuestProcess{
		{PID: 1, UID: 0, User: "root", Start: now.Add(-10 * time.Second), CPUTime: time.Second, TTY: "?", Cmd: "sleep 600"},
	}}, nil
}

// setState moves a container to st, as the runtime does for pause and
// unpause.
func (f *fakeContainers) setState(ref string, st api.ContainerState) (api.Container, error) {
	c, err := f.get(ref)
	if err != nil {
		return c, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c.State = st
	f.byName[c.Name] = c
	return c, nil
}

func (f *fakeContainers) Pause(_ context.Context, ref string) (api.Container, error) {
	return f.setState(ref, api.StatePaused)
}

func (f *fakeContainers) Unpause(_ context.Context, ref string) (api.Container, error) {
	return f.setState(ref, api.StateRunning)
}

func (f *fakeContainers) Rename(_ context.Context, ref, name string) (api.Container, error) {
	c, err := f.get(ref)
	if err != nil {
		return c, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.byName[name]; ok {
		return c, fmt.Errorf("the container name %q is already in use: %w", name, api.ErrAlreadyExists)
	}
	delete(f.byName, c.Name)
	c.Name = name
	f.byName[name] = c
	return c, nil
}

func (f *fakeContainers) Update(ref string, u api.ContainerUpdate) (api.Container, error) {
	c, err := f.get(ref)
	if err != nil {
		return c, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, u)
	return c, nil
}

func (f *fakeContainers) Prune(_ context.Context, match func(api.Container) bool) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	removed := []string{}
	for name, c := range f.byName {
		if !c.State.Active() && (match == nil || match(c)) {
			delete(f.byName, name)
			removed = append(removed, c.ID)
		}
	}
	sort.Strings(removed)
	return removed, nil
}

// Exec echoes its command to stdout and "err" to stderr; it exits with
// the number its command ends in, if any.
func (f *fakeContainers) Exec(_ context.Context, ref string, spec api.ExecSpec, stdio runtime.ExecIO) (int, error) {
	if _, err := f.get(ref); err != nil {
		return 0, err
	}
	io.WriteString(stdio.Stdout, strings.Join(spec.Cmd, " ")+"\n")
	io.WriteString(stdio.Stderr, "err\n")
	words := strings.Fields(strings.Join(spec.Cmd, " "))
	code, _ := strconv.Atoi(words[len(words)-1])
	return code, nil
}

type fakeImages struct{}

func (fakeImages) List(context.Context) ([]api.Image, error) {
	return []api.Image{{ID: "sha256:abc", Names: []string{"docker.io/berth/demo:latest"}, Size: 42}}, nil
}

func (fakeImages) Inspect(_ context.Context, ref string) (api.ImageDetail, error) {
	if ref == "berth/demo" {
		return api.ImageDetail{Image: api.Image{ID: "sha256:abc", Names: []string{"docker.io/berth/demo:latest"}}}, nil
	}
	return api.ImageDetail{}, fmt.Errorf("image %q: %w", ref, api.ErrNotFound)
}

func (fakeImages) Pull(_ context.Context, ref string, opts image.PullOptions) (api.Image, error) {
	if ref != "alpine:3" {
		return api.Image{}, fmt.Errorf("pull %s: registry down: %w", ref, api.ErrUnavailable)
	}
	opts.Progress.Report(api.Progress{ID: "sha256:0123456789abcdef", Action: "download", Current: 5, Total: 10})
	return api.Image{Digest: "sha256:def"}, nil
}

func (fakeImages) Remove(_ context.Context, ref string, _ bool) (api.ImageRemoved, error) {
	return api.ImageRemoved{Untagged: []string{"docker.io/" + ref + ":latest"}, Deleted: []string{"sha256:abc"}}, nil
}

func testServer(t *testing.T, f *fakeContainers) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(Config{Containers: f, Images: fakeImages{}, Version: api.Version{Version: "1.2.3", Arch: "amd64"},
		Info: func(context.Context) (api.SystemInfo, error) { return api.SystemInfo{Images: 1}, nil }}))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, srv *httptest.Server, method, path, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func running() api.Container {
	return api.Container{ID: strings.Repeat("a", 64), Name: "web", State: api.StateRunning, Image: "docker.io/berth/demo",
		Created: time.Now().Add(-time.Minute), Started: time.Now().Add(-30 * time.Second),
		Spec: api.ContainerSpec{Labels: map[string]string{"tier": "front"}}}
}

func TestRoutingAndErrors(t *testing.T) {
	srv := testServer(t, newFake(running()))
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string // in the body
	}{
		{"GET", "/_ping", "", 200, "OK"},
		{"GET", "/v1.41/_ping", "", 200, "OK"},
		{"GET", "/v1.47/version", "", 200, `"ApiVersion":"1.47"`},
		{"GET", "/v1.40/version", "", 400, `{"message":"client version 1.40 is too old. Minimum supported API version is 1.41, please upgrade your client to a newer version"}`},
		{"GET", "/v1.48/version", "", 400, `{"message":"client version 1.48 is too new. Maximum supported API version is 1.47"}`},
		{"GET", "/v1.47/info", "", 200, `"ContainersRunning":1`},
		{"GET", "/v1.47/containers/nope/json", "", 404, `{"message":"No such container: nope"}`},
		{"GET", "/v1.47/containers/web/json", "", 200, `"Status":"running"`},
		{"POST", "/v1.47/containers/web/start", "", 304, ""},
		{"POST", "/v1.47/containers/nope/start", "", 404, "No such container: nope"},
		{"POST", "/v1.47/containers/web/stop?t=1", "", 204, ""},
		{"POST", "/v1.47/containers/web/stop?t=x", "", 400, "stop timeout"},
		{"POST", "/v1.47/containers/create?name=web", `{"Image":"berth/demo"}`, 409, "already in use"},
		{"POST", "/v1.47/containers/create", `{"Image":`, 400, "decode request body"},
		{"POST", "/v1.47/containers/create", `{"Image":"x","HostConfig":{"NetworkMode":"host"}}`, 400, "network mode"},
		{"GET", "/v1.47/distribution/alpine/json", "", 501, `{"message":"GET /distribution/alpine/json is not supported by Berth yet"}`},
		{"POST", "/v1.47/swarm/init", "", 501, "POST /swarm/init is not supported by Berth yet: Berth is a single-host runtime"},
		{"POST", "/v1.47/build", "", 501, "Berth cannot build images"},
		{"GET", "/plugins", "", 501, "Berth has no plugins"},
		{"GET", "/containers/web/checkpoints", "", 501, "cannot checkpoint"},
		{"POST", "/v1.47/containers/web/exec", `{"Cmd":[]}`, 400, "No exec command specified"},
		{"POST", "/v1.47/containers/nope/exec", `{"Cmd":["true"]}`, 404, "No such container: nope"},
		{"POST", "/v1.47/containers/web/exec", `{"Cmd":["true"],"Privileged":true}`, 400, "privileged exec"},
		{"GET", "/v1.47/exec/nope/json", "", 404, `{"message":"No such exec instance: nope"}`},
		{"POST", "/v1.47/exec/nope/start", "{}", 404, "No such exec instance: nope"},
		{"POST", "/v1.47/exec/nope/resize?h=1&w=2", "", 404, "No such exec instance: nope"},
		{"GET", "/v1.47/images/json", "", 200, `"RepoTags":["berth/demo:latest"]`},
		{"GET", "/v1.47/images/berth/demo/json", "", 200, `"Id":"sha256:abc"`},
		{"GET", "/v1.47/images/nope/json", "", 404, `{"message":"No such image: nope"}`},
		{"GET", "/v1.47/images/berth/demo/history", "", 501, "is not supported by Berth yet"},
		{"DELETE", "/v1.47/images/berth/demo", "", 200, `[{"Untagged":"berth/demo:latest"},{"Deleted":"sha256:abc"}]`},
		{"POST", "/v1.47/containers/web/wait?condition=bogus", "", 400, "wait condition"},
		{"DELETE", "/v1.47/containers/nope", "", 404, "No such container: nope"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			status, body, _ := do(t, srv, tc.method, tc.path, tc.body)
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("got %d %s, want %d with %q", status, body, tc.status, tc.want)
			}
		})
	}
}

func TestPingHeaders(t *testing.T) {
	srv := testServer(t, newFake())
	for _, m := range []string{"GET", "HEAD"} {
		status, body, h := do(t, srv, m, "/_ping", "")
		if status != 200 || h.Get("API-Version") != "1.47" || h.Get("OSType") != "linux" || h.Get("Docker-Experimental") != "false" {
			t.Errorf("%s /_ping: %d %v", m, status, h)
		}
		if (m == "GET") != (body == "OK") {
			t.Errorf("%s /_ping body %q", m, body)
		}
	}
}

func TestStripVersion(t *testing.T) {
	for in, want := range map[string]string{
		"/v1.41/containers/json": "/containers/json", "/v1.47/_ping": "/_ping", "/containers/json": "/containers/json",
		"/v1.40/x": "", "/v2.0/x": "", "/v1.9/x": "",
	} {
		got, err := stripVersion(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("stripVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestContainerList(t *testing.T) {
	stopped := api.Container{ID: strings.Repeat("b", 64), Name: "old", State: api.StateExited, ExitCode: 2,
		Created: time.Now().Add(-time.Hour), Finished: time.Now().Add(-10 * time.Minute)}
	srv := testServer(t, newFake(running(), stopped))
	names := func(q string) []string {
		status, body, _ := do(t, srv, "GET", "/v1.47/containers/json"+q, "")
		if status != 200 {
			t.Fatalf("%s: %d %s", q, status, body)
		}
		var rows []containerSummary
		if err := json.Unmarshal([]byte(body), &rows); err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, r := range rows {
			out = append(out, r.Names[0]+" "+r.State+" "+r.Status)
		}
		return out
	}
	for q, want := range map[string][]string{
		"":                                    {"/web running Up 30 seconds"},
		"?all=1":                              {"/web running Up 30 seconds", "/old exited Exited (2) 10 minutes ago"},
		"?limit=1":                            {"/web running Up 30 seconds"},
		`?filters={"status":{"exited":true}}`: {"/old exited Exited (2) 10 minutes ago"},
		`?all=1&filters={"name":["ol"]}`:      {"/old exited Exited (2) 10 minutes ago"},
		`?all=1&filters={"name":["^/web$"]}`:  {"/web running Up 30 seconds"},
		`?all=1&filters={"label":["tier=front"]}`: {"/web running Up 30 seconds"},
		`?all=1&filters={"label":["tier=back"]}`:  {},
		`?all=1&filters={"id":["bbb"]}`:           {"/old exited Exited (2) 10 minutes ago"},
	} {
		if got := names(q); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q, want %q", q, got, want)
		}
	}
	if status, body, _ := do(t, srv, "GET", `/containers/json?filters={"ancestor":["x"]}`, ""); status != 400 || !strings.Contains(body, "invalid filter 'ancestor'") {
		t.Errorf("unknown filter: %d %s", status, body)
	}
}

// frames reads docker's multiplexed stream into "stream:payload" items.
func frames(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	for {
		var h [8]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return out
		}
		p := make([]byte, binary.BigEndian.Uint32(h[4:]))
		if _, err := io.ReadFull(r, p); err != nil {
			t.Fatalf("short frame: %v", err)
		}
		out = append(out, fmt.Sprintf("%d:%s", h[0], p))
	}
}

func TestLogs(t *testing.T) {
	f := newFake(running())
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.logs = []runtime.LogEntry{{Log: "out\n", Stream: "stdout", Time: t0}, {Log: "err\n", Stream: "stderr", Time: t0.Add(time.Second)}}
	srv := testServer(t, f)
	for q, want := range map[string][]string{
		"stdout=1&stderr=1":              {"1:out\n", "2:err\n"},
		"stderr=1":                       {"2:err\n"},
		"stdout=1&stderr=1&timestamps=1": {"1:2026-01-02T03:04:05Z out\n", "2:2026-01-02T03:04:06Z err\n"},
		fmt.Sprintf("stdout=1&stderr=1&since=%d.5", t0.Unix()): {"2:err\n"},
	} {
		status, body, h := do(t, srv, "GET", "/v1.47/containers/web/logs?"+q, "")
		if status != 200 || h.Get("Content-Type") != "application/vnd.docker.multiplexed-stream" {
			t.Fatalf("%s: %d %v", q, status, h)
		}
		if got := frames(t, strings.NewReader(body)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q, want %q", q, got, want)
		}
	}
	if status, body, _ := do(t, srv, "GET", "/containers/web/logs", ""); status != 400 || !strings.Contains(body, "at least one stream") {
		t.Errorf("no stream: %d %s", status, body)
	}
}

// TestWaitSendsHeadersFirst: docker run reads wait's status line before it
// starts the container, so the headers cannot wait for the exit.
func TestWaitSendsHeadersFirst(t *testing.T) {
	f := newFake(running())
	srv := testServer(t, f)
	resp, err := srv.Client().Post(srv.URL+"/v1.47/containers/web/wait?condition=next-exit", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	close(f.ended)
	var body waitBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.StatusCode != 3 || body.Error != nil {
		t.Errorf("wait body %+v, %v", body, err)
	}
}

// TestWaitRemovedOnEvent: docker run --rm ends on wait?condition=removed,
// which answers on the runtime's destroy event rather than on a poll's
// next tick, and without looking at the container in between.
func TestWaitRemovedOnEvent(t *testing.T) {
	ct := running()
	ct.Spec.AutoRemove = true
	f := newFake(ct)
	bus := events.NewBus(16)
	srv := httptest.NewServer(New(Config{Containers: f, Images: fakeImages{}, Events: bus}))
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+"/v1.47/containers/web/wait?condition=removed", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	close(f.ended) // the run ends; the container stays a while, as a VM's teardown takes
	time.Sleep(400 * time.Millisecond)
	looks := f.looks.Load()
	f.Remove(context.Background(), "web", api.RemoveOptions{})
	bus.Publish(api.Event{Type: api.EventContainer, Action: "destroy", ID: ct.ID, Name: ct.Name})
	var body waitBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.StatusCode != 3 || body.Error != nil {
		t.Errorf("wait body %+v, %v", body, err)
	}
	// The handler's look and waitRemoved's first: no poll in between.
	if looks > 2 {
		t.Errorf("%d looks at the container in 400ms before its removal: a poll", looks)
	}
}

// DELETE /containers/{id} passes force and v (docker rm -f -v) to the
// runtime; without v the anonymous volumes stay.
func TestContainerRemoveOptions(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  api.RemoveOptions
	}{
		{"", api.RemoveOptions{}},
		{"?force=1", api.RemoveOptions{Force: true}},
		{"?v=1", api.RemoveOptions{Volumes: true}},
		{"?force=true&v=true", api.RemoveOptions{Force: true, Volumes: true}},
		{"?v=0&force=0", api.RemoveOptions{}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			f := newFake(running())
			srv := testServer(t, f)
			if code, body, _ := do(t, srv, "DELETE", "/v1.47/containers/web"+tc.query, ""); code != http.StatusNoContent {
				t.Fatalf("status %d: %s", code, body)
			}
			if want := []api.RemoveOptions{tc.want}; !reflect.DeepEqual(f.removes, want) {
				t.Errorf("removes %+v, want %+v", f.removes, want)
			}
		})
	}
}

func TestAttachUpgrade(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"stream=1&stdout=1&stderr=1", []string{"1:hi\n"}},
		// logs=1: the log so far first, as docker replays it.
		{"logs=1&stream=1&stdout=1&stderr=1", []string{"1:old-out\n", "2:old-err\n", "1:hi\n"}},
		{"logs=1&stream=1&stdout=1", []string{"1:old-out\n", "1:hi\n"}},
		{"logs=1&stderr=1", []string{"2:old-err\n"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			f := newFake(running())
			f.output = "hi\n"
			f.logs = []runtime.LogEntry{{Log: "old-out\n", Stream: "stdout"}, {Log: "old-err\n", Stream: "stderr"}}
			srv := testServer(t, f)
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /v1.47/containers/web/attach?%s HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", tc.query)
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "tcp" {
				t.Fatalf("attach: %s %v", resp.Status, resp.Header)
			}
			close(f.ended)
			if got := frames(t, br); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("attach frames %q, want %q", got, tc.want)
			}
		})
	}
	srv := testServer(t, newFake(running()))
	if status, body, _ := do(t, srv, "POST", "/containers/web/attach?stdout=1", ""); status != 400 || !strings.Contains(body, "nothing to send") {
		t.Errorf("attach without stream or logs: %d %s", status, body)
	}
}

func TestImageCreateStream(t *testing.T) {
	srv := testServer(t, newFake())
	status, body, _ := do(t, srv, "POST", "/v1.47/images/create?fromImage=alpine&tag=3", "")
	want := `{"status":"Pulling from library/alpine","id":"3"}
{"status":"Pulling fs layer","id":"0123456789ab","progressDetail":{}}
{"status":"Downloading","id":"0123456789ab","progressDetail":{"current":5,"total":10}}
{"status":"Pull complete","id":"0123456789ab","progressDetail":{}}
{"status":"Digest: sha256:def"}
{"status":"Status: Downloaded newer image for alpine:3"}
`
	if status != 200 || body != want {
		t.Errorf("pull: %d\n%s", status, body)
	}
	status, body, _ = do(t, srv, "POST", "/v1.47/images/create?fromImage=nope", "")
	if status != 200 || !strings.Contains(body, `"errorDetail":{"message":"pull nope: registry down: unavailable"}`) {
		t.Errorf("failed pull: %d %s", status, body)
	}
}

func TestNoRuntime(t *testing.T) {
	srv := httptest.NewServer(New(Config{Images: fakeImages{}, ContainersErr: fmt.Errorf("no VM backend on this OS: %w", api.ErrUnsupported)}))
	defer srv.Close()
	if status, body, _ := do(t, srv, "GET", "/containers/json", ""); status != 501 || !strings.Contains(body, "no VM backend") {
		t.Errorf("no runtime: %d %s", status, body)
	}
}
