package types

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/berthvm/berth/core/api"
)

// execJSON runs a template on v, else on v's JSON as docker inspect does:
// the keys are the JSON's ("Id"), numbers stay exact.
func execJSON(tmpl string, v any) (string, error) {
	var sb strings.Builder
	if err := template.Must(template.New("").Parse(tmpl)).Execute(&sb, v); err == nil {
		return sb.String(), nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return "", err
	}
	var b strings.Builder
	err = template.Must(template.New("").Parse(tmpl)).Execute(&b, m)
	return b.String(), err
}

func sample() (api.Container, api.ImageConfig) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := api.Container{
		ID: strings.Repeat("ab", 32), Name: "web", Image: "nginx", ImageID: "sha256:cfg", State: api.StateRunning,
		Created: t0, Started: t0.Add(time.Second), CPUs: 2, MemoryMiB: 512, PID: 42, IPAddress: "10.89.0.2",
		Spec: api.ContainerSpec{Image: "nginx", Cmd: []string{"nginx", "-g", "daemon off;"}, Env: []string{"A=2", "B=1"},
			Labels: map[string]string{"tier": "front"}, Ports: []api.PortBinding{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
			Mounts: []api.Mount{{Type: api.MountVolume, Source: "data", Target: "/data"}, {Type: api.MountBind, Source: "/src", Target: "/src", ReadOnly: true}}},
		Networks: []api.ContainerNetwork{{NetworkID: "n1", Network: "default", IP: "10.89.0.2", Prefix: 24, Gateway: "10.89.0.1", MAC: "02:00:00:00:00:02"},
			{NetworkID: "n2", Network: "app", IP: "10.89.1.2", Prefix: 24, Gateway: "10.89.1.1", MAC: "02:00:00:00:01:02", Aliases: []string{"svc", "abababababab"}}},
		Ports: []api.PortMapping{{HostIP: "0.0.0.0", HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
	}
	img := api.ImageConfig{Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"nginx"}, Env: []string{"PATH=/bin", "A=1"},
		Labels: map[string]string{"maintainer": "x"}, ExposedPorts: []string{"80/tcp"}, StopSignal: "SIGQUIT"}
	return c, img
}

// TestContainerTemplates runs the templates docker users write against
// inspect's object.
func TestContainerTemplates(t *testing.T) {
	c, img := sample()
	v := Container(c, api.ImageDetail{Image: api.Image{ID: "sha256:img"}, Config: img})
	for tmpl, want := range map[string]string{
		"{{.State.Status}}":                  "running",
		"{{.State.Running}}":                 "true",
		"{{.State.Pid}}":                     "42",
		"{{.Config.Image}}":                  "nginx",
		"{{.Config.Env}}":                    "[PATH=/bin A=2 B=1]",
		"{{.Name}}":                          "/web",
		"{{.Id}}":                            c.ID,
		"{{.Created}}":                       "2026-11-27T12:00:00Z",
		"{{.RestartCount}}":                  "0",
		"{{.Path}} {{.Args}}":                "/docker-entrypoint.sh [nginx -g daemon off;]",
		"{{.NetworkSettings.IPAddress}}":     "10.89.0.2",
		"{{.HostConfig.Memory}}":             "536870912",
		"{{.HostConfig.RestartPolicy.Name}}": "no",
		"{{.HostConfig.Binds}}":              "[/src:/src:ro]",
		"{{(index .NetworkSettings.Ports \"80/tcp\" 0).HostPort}}":              "8080",
		"{{range .Mounts}}{{.Type}}:{{.Name}}:{{.Destination}}:{{.RW}} {{end}}": "volume:data:/data:true bind::/src:false ",
		"{{.NetworkSettings.Networks.default.IPAddress}}":                       "10.89.0.2",
		"{{.NetworkSettings.Networks.default.Aliases}}":                         "[]",
		"{{.NetworkSettings.Networks.app.Aliases}}":                             "[svc abababababab]",
		"{{.NetworkSettings.Networks.app.DNSNames}}":                            "[web abababababab svc]",
		"{{.Config.Labels.tier}} {{.Config.Labels.maintainer}}":                 "front x",
		"{{.Berth.CPUs}} {{.Berth.State}}":                                      "2 running",
		"{{.State.FinishedAt}}":                                                 "0001-01-01T00:00:00Z",
	} {
		if got, err := execJSON(tmpl, v); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", tmpl, got, err, want)
		}
	}
	// The JSON keys are docker's.
	raw, _ := json.Marshal(v)
	var m map[string]any
	json.Unmarshal(raw, &m)
	for _, k := range []string{"Id", "Created", "Path", "Args", "State", "Image", "Name", "RestartCount", "HostConfig", "Mounts", "Config", "NetworkSettings"} {
		if _, ok := m[k]; !ok {
			t.Errorf("inspect JSON lacks %q", k)
		}
	}
	if !strings.Contains(string(raw), `"Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]}`) {
		t.Errorf("NetworkSettings.Ports not docker's: %s", raw)
	}
}

func TestProcessAndStates(t *testing.T) {
	img := api.ImageConfig{Entrypoint: []string{"/e"}, Cmd: []string{"c"}}
	cases := []struct {
		spec       api.ContainerSpec
		entry, cmd []string
	}{
		{api.ContainerSpec{}, []string{"/e"}, []string{"c"}},
		{api.ContainerSpec{Cmd: []string{"x"}}, []string{"/e"}, []string{"x"}},
		{api.ContainerSpec{Entrypoint: []string{"/f"}}, []string{"/f"}, nil},
		{api.ContainerSpec{Entrypoint: []string{}, Cmd: []string{"sh"}}, []string{}, []string{"sh"}},
	}
	for _, tc := range cases {
		e, c := Process(tc.spec, img)
		if !reflect.DeepEqual(e, tc.entry) || !reflect.DeepEqual(c, tc.cmd) {
			t.Errorf("Process(%+v) = %q %q; want %q %q", tc.spec, e, c, tc.entry, tc.cmd)
		}
	}
	for s, want := range map[api.ContainerState]string{api.StateCreated: "created", api.StateStarting: "created",
		api.StateRunning: "running", api.StateStopping: "running", api.StateExited: "exited", api.StateDead: "dead",
		api.StatePaused: "paused"} {
		if got := DockerStatus(s); got != want {
			t.Errorf("DockerStatus(%s) = %s, want %s", s, got, want)
		}
	}
}

func TestPausedState(t *testing.T) {
	c, img := sample()
	c.State = api.StatePaused
	st := Container(c, api.ImageDetail{Config: img}).State
	if st.Status != "paused" || !st.Running || !st.Paused || st.Restarting {
		t.Fatalf("paused: %+v", st)
	}
}

func TestImage(t *testing.T) {
	d := api.ImageDetail{
		Image: api.Image{ID: "sha256:cfg", Digest: "sha256:man", Names: []string{"docker.io/library/alpine:3", "ghcr.io/o/a:1"},
			RepoDigests: []string{"docker.io/library/alpine@sha256:man"}, Platform: "linux/arm64/v8", Size: 3_600_000,
			Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		Config: api.ImageConfig{Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/bin"}},
		Layers: []api.ImageLayer{{Digest: "sha256:l1", DiffID: "sha256:d1"}},
		RootFS: api.ImageDisk{Path: "/disk.ext4"},
	}
	v := Image(d)
	for tmpl, want := range map[string]string{
		"{{.Id}}": "sha256:cfg", "{{index .RepoTags 1}}": "ghcr.io/o/a:1", "{{index .RepoDigests 0}}": "alpine@sha256:man",
		"{{.Os}}/{{.Architecture}}/{{.Variant}}": "linux/arm64/v8", "{{.Created}}": "2026-01-02T03:04:05Z",
		"{{index .Config.Cmd 0}}": "/bin/sh", "{{.RootFS.Type}} {{index .RootFS.Layers 0}}": "layers sha256:d1", "{{.Size}}": "3600000",
		"{{.Berth.Disk.Path}}": "/disk.ext4", "{{.Berth.Digest}}": "sha256:man",
	} {
		if got, err := execJSON(tmpl, v); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", tmpl, got, err, want)
		}
	}
}
