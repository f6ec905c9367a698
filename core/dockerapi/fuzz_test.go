package dockerapi

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/volume"
)

// checkSpec checks what Spec promises the runtime: sizes that are not
// negative, mounts at valid targets, ports in range.
func checkSpec(t *testing.T, body string, spec api.ContainerSpec) {
	t.Helper()
	if spec.MemoryMiB < 0 || spec.CPUs < 0 {
		t.Fatalf("%s: %d MiB, %d CPUs", body, spec.MemoryMiB, spec.CPUs)
	}
	for _, m := range spec.Mounts {
		if err := volume.CheckTarget(m.Target); err != nil {
			t.Fatalf("%s: mount %+v: %v", body, m, err)
		}
		if m.Type != api.MountBind && m.Type != api.MountVolume && m.Type != api.MountTmpfs {
			t.Fatalf("%s: mount type %q", body, m.Type)
		}
	}
	for _, p := range spec.Ports {
		if p.ContainerPort < 1 || p.ContainerPort > 65535 || p.HostPort < 0 || p.HostPort > 65535 || (p.Proto != "tcp" && p.Proto != "udp") {
			t.Fatalf("%s: port %+v", body, p)
		}
	}
	if spec.RestartPolicy.Name != "" {
		if err := spec.RestartPolicy.Validate(); err != nil {
			t.Fatalf("%s: restart policy %+v: %v", body, spec.RestartPolicy, err)
		}
	}
}

// FuzzCreateSpec maps any docker create body onto a container spec, as
// POST /containers/create does.
func FuzzCreateSpec(f *testing.F) {
	for _, b := range []string{
		`{"Image":"alpine","Cmd":"sh","Entrypoint":[""],"Env":["A=b"],"ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}}}`,
		`{"Image":"a","HostConfig":{"Binds":["/h:/c:ro","v:/d"],"Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576,"Mode":1023}}],` +
			`"PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}],"53/udp":[]},"Memory":536870912,"NanoCpus":1500000000,` +
			`"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3},"Tmpfs":{"/run":"size=64m"},"NetworkMode":"app"}}`,
		`{"Image":"a","NetworkingConfig":{"EndpointsConfig":{"app":{"Aliases":["db"]},"bridge":{}}}}`,
		`{"Image":"a","HostConfig":{"Memory":9223372036854775807,"NanoCpus":9223372036854775807}}`,
		`{"Image":"a","HostConfig":{"Links":["x:y"],"LogConfig":{"Type":"syslog"}}}`,
		`{"Image":"a","HostConfig":{"NetworkMode":"container:x","PortBindings":{"0/sctp":null}}}`,
		`{}`,
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req CreateRequest
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		spec, err := req.Spec("fuzz")
		if err != nil {
			if api.CodeOf(err) != api.CodeInvalidArgument {
				t.Fatalf("Spec(%s): %v is not an invalid argument", body, err)
			}
			return
		}
		checkSpec(t, body, spec)
	})
}

// FuzzParseUpdate reads any docker update body: what it asks for is
// positive.
func FuzzParseUpdate(f *testing.F) {
	for _, b := range []string{`{"Memory":536870912,"NanoCpus":1500000000,"RestartPolicy":{"Name":"always"}}`,
		`{"CpuCount":2,"CpuShares":0,"BlkioWeight":0,"Devices":[],"Ulimits":null}`, `{"Memory":9223372036854775807}`,
		`{"NanoCpus":9223372036854775807}`, `{"CpuCount":9223372036854775807}`, `{"Memory":-1}`, `{"KernelMemory":1}`, `[]`} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		u, err := parseUpdate([]byte(body))
		if err != nil {
			if api.CodeOf(err) != api.CodeInvalidArgument {
				t.Fatalf("parseUpdate(%s): %v is not an invalid argument", body, err)
			}
			return
		}
		if u.MemoryMiB != nil && *u.MemoryMiB < 1 || u.CPUs != nil && *u.CPUs < 1 {
			t.Fatalf("parseUpdate(%s) = %+v: %v MiB, %v CPUs", body, u, u.MemoryMiB, u.CPUs)
		}
		if u.RestartPolicy != nil && u.RestartPolicy.Validate() != nil {
			t.Fatalf("parseUpdate(%s): restart policy %+v", body, *u.RestartPolicy)
		}
	})
}

// FuzzParseFilters reads ?filters= in both of docker's encodings: only
// allowed keys come out, each with sorted values.
func FuzzParseFilters(f *testing.F) {
	for _, s := range []string{`{"status":{"running":true,"exited":false}}`, `{"label":["a=b","c"]}`, `{"nope":["x"]}`, `{"status":null}`, `[]`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := parseFilters(raw, "status", "label", "name")
		if err != nil {
			if api.CodeOf(err) != api.CodeInvalidArgument {
				t.Fatalf("parseFilters(%s): %v", raw, err)
			}
			return
		}
		for k, vs := range got {
			if k != "status" && k != "label" && k != "name" {
				t.Fatalf("parseFilters(%s) lets %q through", raw, k)
			}
			if !slices.IsSorted(vs) {
				t.Fatalf("parseFilters(%s): %q not sorted", raw, vs)
			}
		}
	})
}

// FuzzRegistryAuth decodes any X-Registry-Auth header: credentials or
// none, else an invalid argument.
func FuzzRegistryAuth(f *testing.F) {
	for _, s := range []string{`{"username":"u","password":"p","serveraddress":"r"}`, `{}`, `{"identitytoken":"t"}`, `{"auth":"dTpw"}`, `[`} {
		f.Add(base64.URLEncoding.EncodeToString([]byte(s)))
		f.Add(base64.RawStdEncoding.EncodeToString([]byte(s)))
	}
	f.Add("e30=")
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("POST", "/images/create", nil)
		r.Header.Set("X-Registry-Auth", h)
		a, err := registryAuth(r)
		if err != nil {
			if api.CodeOf(err) != api.CodeInvalidArgument {
				t.Fatalf("registryAuth(%q): %v", h, err)
			}
			return
		}
		if a != nil {
			if _, err := a.Authorization(); err != nil && !strings.Contains(err.Error(), "auth") {
				t.Fatalf("registryAuth(%q): %v", h, err)
			}
		}
	})
}

// dockerRoutes are the requests whose bodies FuzzDockerRequest sends.
var dockerRoutes = []struct{ method, path string }{
	{"POST", "/v1.43/containers/create"},
	{"POST", "/containers/web/exec"},
	{"POST", "/containers/web/update"},
	{"POST", "/networks/create"},
	{"POST", "/networks/app/connect"},
	{"POST", "/networks/app/disconnect"},
	{"POST", "/volumes/create"},
	{"GET", "/containers/json?all=1&filters="},
	{"GET", "/volumes?filters="},
	{"GET", "/networks?filters="},
	{"POST", "/containers/prune?filters="},
}

// FuzzDockerRequest sends any body (or, for the routes that take none,
// any ?filters=) to the Docker API's handlers over in-memory backends:
// however bad the request, the answer is a client error or a success,
// never a server error, and errors come as docker's JSON.
func FuzzDockerRequest(f *testing.F) {
	bodies := []string{`{"Image":"alpine","Cmd":["sh"]}`, `{"Cmd":["ls"],"ConsoleSize":[24,80],"Privileged":false}`, `{"Memory":1073741824}`,
		`{"Name":"n","IPAM":{"Config":[{"Subnet":"10.9.0.0/24"}]}}`, `{"Container":"web","EndpointConfig":{"Aliases":["a"]}}`,
		`{"Container":"web"}`, `{"Name":"v","DriverOpts":{"size":"1g"},"Labels":{"a":"b"}}`, `{"status":{"running":true}}`,
		`{"dangling":["true"]}`, `{"label":["x"]}`, `{"until":["10m"]}`}
	for i, b := range bodies {
		f.Add(uint8(i), b)
		f.Add(uint8(i), "{")
	}
	nets := &fakeNetworks{nets: map[string]api.Network{"app": {ID: strings.Repeat("d", 64), Name: "app", Subnet: "10.89.1.0/24"}}}
	vols := &fakeVolumes{vols: map[string]api.Volume{}}
	srv := New(Config{Containers: newFake(running()), Images: fakeImages{}, Networks: nets, Volumes: vols,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := dockerRoutes[int(route)%len(dockerRoutes)]
		target := rt.path
		var r *http.Request
		if strings.HasSuffix(target, "filters=") {
			r = httptest.NewRequest(rt.method, target+url.QueryEscape(body), nil)
		} else {
			r = httptest.NewRequest(rt.method, target, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var e struct{ Message string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Message == "" {
				t.Fatalf("%s %s %q: %d with body %q", rt.method, rt.path, body, w.Code, w.Body)
			}
		}
	})
}
