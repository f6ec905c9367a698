package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi/types"
)

func TestInspectFormats(t *testing.T) {
	c := psFixture()[0]
	c.IPAddress = "10.89.0.2"
	c.Spec.Env = []string{"A=1"}
	obj := types.Container(c, api.ImageDetail{Image: api.Image{ID: "sha256:img"}, Config: api.ImageConfig{Env: []string{"PATH=/bin"}}})
	find := func(ref string) (any, error) {
		if ref == "web" {
			return obj, nil
		}
		return nil, fmt.Errorf("no such container or image: %s: %w", ref, api.ErrNotFound)
	}
	cases := []struct {
		format string
		refs   []string
		want   string // stdout
		errOut string
		fails  bool
	}{
		{"{{.State.Status}} {{.State.Running}} {{.Name}} {{.Config.Image}}", []string{"web"}, "running true /web docker.io/library/nginx:latest\n", "", false},
		{"{{.Id}}", []string{"web"}, c.ID + "\n", "", false},
		{"{{.NetworkSettings.IPAddress}} {{join .Config.Env \",\"}}", []string{"web"}, "10.89.0.2 PATH=/bin,A=1\n", "", false},
		{"{{upper .State.Status}} {{lower .Name}} {{title .State.Status}} {{index .Config.Labels \"tier\"}}", []string{"web"}, "RUNNING /web Running front\n", "", false},
		{"{{split .Name \"w\"}}", []string{"web"}, "[/ eb]\n", "", false},
		{"{{.HostConfig.RestartPolicy.Name}} {{.RestartCount}} {{len .Mounts}}", []string{"web"}, "no 0 1\n", "", false},
		{"{{json .NetworkSettings.Ports}}", []string{"web"}, `{"53/udp":[{"HostIp":"::","HostPort":"53"}],"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}],"81/tcp":[{"HostIp":"0.0.0.0","HostPort":"8081"}]}` + "\n", "", false},
		{"{{.Name}}", []string{"web", "gone"}, "/web\n", "Error: no such container or image: gone", true},
	}
	for _, tc := range cases {
		var out, errOut bytes.Buffer
		a := &app{streams: Streams{Out: &out, Err: &errOut}}
		err := a.printInspect(tc.refs, tc.format, find)
		if out.String() != tc.want || (err != nil) != tc.fails || !strings.Contains(errOut.String(), tc.errOut) {
			t.Errorf("%s %v: out %q, err %v, stderr %q; want %q", tc.format, tc.refs, out.String(), err, errOut.String(), tc.want)
		}
	}

	// No format: docker's JSON array, 4-space indent.
	var out bytes.Buffer
	a := &app{streams: Streams{Out: &out, Err: &out}}
	if err := a.printInspect([]string{"web"}, "", find); err != nil {
		t.Fatal(err)
	}
	var arr []map[string]any
	if err := json.Unmarshal(out.Bytes(), &arr); err != nil || len(arr) != 1 || arr[0]["Id"] != c.ID || !strings.HasPrefix(out.String(), "[\n    {\n        \"Id\"") {
		t.Fatalf("inspect JSON: %v\n%s", err, out.String())
	}

	// One missing object alone is the command's error.
	if err := a.printInspect([]string{"gone"}, "", find); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}

	// A template that fails on the object and on its JSON lists the fields.
	err := a.printInspect([]string{"web"}, "{{index .Args 9}}", find)
	if err == nil || !strings.Contains(err.Error(), "index out of range") || !strings.Contains(err.Error(), "Fields: .AppArmorProfile .Args .Berth") {
		t.Fatalf("template error: %v", err)
	}
}
