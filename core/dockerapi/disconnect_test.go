package dockerapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/events"
	"github.com/berthvm/berth/core/image"
	"github.com/berthvm/berth/core/runtime"
)

// endlessFake is a running container whose streams never end by
// themselves: logs follow, the main process and execs keep writing, a
// pull keeps going, each until its context ends.
type endlessFake struct{ *fakeContainers }

// tick is how often the endless streams write.
const tick = 10 * time.Millisecond

func (f endlessFake) Logs(ctx context.Context, ref string, _ runtime.LogOptions, fn func(runtime.LogEntry) error) error {
	if _, err := f.get(ref); err != nil {
		return err
	}
	for {
		if err := fn(runtime.LogEntry{Stream: "stdout", Log: "line\n", Time: time.Now()}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(tick):
		}
	}
}

func (f endlessFake) Attach(ref string, opts runtime.AttachOptions) (func(context.Context) (api.Container, error), func(), error) {
	c, err := f.get(ref)
	if err != nil {
		return nil, nil, err
	}
	wait := func(ctx context.Context) (api.Container, error) {
		for {
			io.WriteString(opts.Stdout, "out\n") // the runtime's hub ignores a failed client
			select {
			case <-ctx.Done():
				return c, ctx.Err()
			case <-time.After(tick):
			}
		}
	}
	return wait, func() {}, nil
}

func (f endlessFake) Exec(ctx context.Context, ref string, _ api.ExecSpec, stdio runtime.ExecIO) (int, error) {
	if _, err := f.get(ref); err != nil {
		return 0, err
	}
	for {
		if _, err := io.WriteString(stdio.Stdout, "exec out\n"); err != nil {
			// The runtime's pump stops on a failed write; the process
			// runs on until the context ends.
			stdio.Stdout = io.Discard
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(tick):
		}
	}
}

// endlessPull reports progress until its context ends.
type endlessPull struct{ fakeImages }

func (endlessPull) Pull(ctx context.Context, _ string, opts image.PullOptions) (api.Image, error) {
	for i := int64(0); ; i++ {
		opts.Progress.Report(api.Progress{ID: "sha256:0123456789abcdef", Action: "download", Current: i, Total: 1 << 40})
		select {
		case <-ctx.Done():
			return api.Image{}, ctx.Err()
		case <-time.After(tick):
		}
	}
}

// A client that leaves a stream mid-way ends its handler, and leaves no
// goroutine behind: for each streaming endpoint, the client reads the
// response's start, closes the connection, and the handler must return.
func TestClientLeavesStream(t *testing.T) {
	defer func(d time.Duration) { statsInterval = d }(statsInterval)
	statsInterval = tick
	bus := events.NewBus(16)
	f := endlessFake{newFake(running())}
	f.stats = []api.ContainerStats{{}}
	returned := make(chan string, 1)
	h := New(Config{Containers: f, Images: endlessPull{}, Events: bus})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/exec") {
			returned <- r.Method + " " + r.URL.Path
		}
	}))
	defer srv.Close()

	_, body, _ := do(t, srv, "POST", "/v1.47/containers/web/exec", `{"Cmd":["yes"],"AttachStdout":true}`)
	execID := strings.TrimSuffix(strings.TrimPrefix(body, `{"Id":"`), "\"}\n")
	srv.Client().CloseIdleConnections()

	upgrade := "Connection: Upgrade\r\nUpgrade: tcp\r\n"
	start := `{"Detach":false,"Tty":false}`
	for _, tc := range []struct {
		name, request string
		want          string // in what the client reads before it leaves
	}{
		{"logs follow", "GET /v1.47/containers/web/logs?follow=1&stdout=1 HTTP/1.1\r\n\r\n", "line\n"},
		{"stats stream", "GET /v1.47/containers/web/stats HTTP/1.1\r\n\r\n", `"memory_stats"`},
		{"events", "GET /v1.47/events HTTP/1.1\r\n\r\n", "200 OK"},
		{"attach", "POST /v1.47/containers/web/attach?stream=1&stdout=1 HTTP/1.1\r\n" + upgrade + "\r\n", "out\n"},
		{"exec start", fmt.Sprintf("POST /v1.47/exec/%s/start HTTP/1.1\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			execID, upgrade, len(start), start), "exec out\n"},
		{"pull", "POST /v1.47/images/create?fromImage=alpine&tag=3 HTTP/1.1\r\n\r\n", `"Downloading"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := goruntime.NumGoroutine()
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			req := strings.Replace(tc.request, "\r\n", "\r\nHost: x\r\n", 1)
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang guard
			var got []byte
			buf := make([]byte, 512)
			for !strings.Contains(string(got), tc.want) {
				n, err := conn.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					t.Fatalf("before %q: %v; read %q", tc.want, err, got)
				}
			}
			conn.Close()
			select {
			case <-returned:
			case <-time.After(10 * time.Second): // a hang guard
				t.Fatalf("the handler still runs 10s after its client left")
			}
			// The server's goroutines for the connection end soon after.
			for i := 0; goruntime.NumGoroutine() > before; i++ {
				if i == 500 {
					buf := make([]byte, 1<<16)
					t.Fatalf("%d goroutines, %d before the request:\n%s", goruntime.NumGoroutine(), before, buf[:goruntime.Stack(buf, true)])
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// A malformed or oversized JSON body on any endpoint that takes one is a
// 400 that names the problem: never a 500, never a hang.
func TestBadJSONBodies(t *testing.T) {
	nets := &fakeNetworks{nets: map[string]api.Network{"app": {ID: strings.Repeat("d", 64), Name: "app", Driver: "user"}}}
	vols := &fakeVolumes{vols: map[string]api.Volume{}}
	srv := httptest.NewServer(New(Config{Containers: newFake(running()), Networks: nets, Volumes: vols, Images: fakeImages{}}))
	defer srv.Close()
	huge := `{"Labels":{"a":"` + strings.Repeat("x", 2<<20) + `"}}`
	for _, ep := range []struct {
		path      string
		wrongType string // a field of the wrong type
	}{
		{"/v1.47/containers/create", `{"Labels":42}`},
		{"/v1.47/containers/web/exec", `{"Cmd":42}`},
		{"/v1.47/containers/web/update", `{"Memory":"lots"}`},
		{"/v1.47/networks/create", `{"Labels":42}`},
		{"/v1.47/networks/app/connect", `{"Container":42}`},
		{"/v1.47/networks/app/disconnect", `{"Container":42}`},
		{"/v1.47/volumes/create", `{"Labels":42}`},
	} {
		for _, b := range []struct{ name, body, want string }{
			{"truncated", `{"Name":`, `unexpected (EOF|end of JSON input)`},
			{"not JSON", `Name=x`, `invalid character 'N' looking for beginning of value`},
			{"wrong type", ep.wrongType, `cannot unmarshal (number|string) into Go (struct field|value)`},
			{"oversized", huge, `request body too large`},
		} {
			t.Run(strings.TrimPrefix(ep.path, "/v1.47/")+" "+b.name, func(t *testing.T) {
				status, got, _ := do(t, srv, "POST", ep.path, b.body)
				if status != http.StatusBadRequest || !regexp.MustCompile(b.want).MatchString(got) {
					t.Errorf("%d %.300s, want 400 naming %q", status, got, b.want)
				}
			})
		}
	}
}
