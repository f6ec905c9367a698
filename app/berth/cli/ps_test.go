package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

// psNow is the fixed clock of the ps and images tests.
var psNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// psFixture: web runs (newest), job exited 3 minutes ago, db was created
// and never started (oldest).
func psFixture() []api.Container {
	web := api.Container{
		ID: strings.Repeat("a1", 32), Name: "web", Image: "docker.io/library/nginx:latest", ImageID: "sha256:" + strings.Repeat("9", 64),
		State: api.StateRunning, Created: psNow.Add(-2 * time.Hour), Started: psNow.Add(-3 * time.Minute),
		Spec: api.ContainerSpec{Labels: map[string]string{"tier": "front", "env": "prod"},
			Mounts: []api.Mount{{Type: api.MountVolume, Source: "a-very-long-volume-name", Target: "/data"}}},
		Networks: []api.ContainerNetwork{{NetworkID: "n1abcdef", Network: "default"}, {NetworkID: "n2abcdef", Network: "app"}},
		Ports: []api.PortMapping{{HostIP: "0.0.0.0", HostPort: 8081, ContainerPort: 81, Proto: "tcp"},
			{HostIP: "0.0.0.0", HostPort: 8080, ContainerPort: 80, Proto: "tcp"}, {HostIP: "::", HostPort: 53, ContainerPort: 53, Proto: "udp"}},
	}
	job := api.Container{
		ID: strings.Repeat("b2", 32), Name: "job", Image: "alpine", ImageID: "sha256:" + strings.Repeat("8", 64),
		State: api.StateExited, ExitCode: 0, Created: psNow.Add(-5 * time.Hour), Finished: psNow.Add(-3 * time.Minute),
		Spec: api.ContainerSpec{Cmd: []string{"sh", "-c", "echo hello world"}, Labels: map[string]string{"tier": "batch"}},
	}
	db := api.Container{
		ID: strings.Repeat("c3", 32), Name: "db", Image: "ghcr.io/o/pg:16", ImageID: "sha256:" + strings.Repeat("7", 64),
		State: api.StateCreated, Created: psNow.Add(-30 * time.Second),
		Spec: api.ContainerSpec{Entrypoint: []string{"postgres"}, Networks: []string{"app"}},
	}
	db.Created = psNow.Add(-26 * time.Hour)
	return []api.Container{web, job, db}
}

// fixClock makes ago count from psNow for the test.
func fixClock(t *testing.T) {
	clock = func() time.Time { return psNow }
	t.Cleanup(func() { clock = time.Now })
}

func psOutput(t *testing.T, list []api.Container, format string, trunc bool) string {
	t.Helper()
	fixClock(t)
	lf, err := parseListFormat(format, psDefaultTable)
	if err != nil {
		t.Fatal(err)
	}
	var rows []listRow
	for _, c := range list {
		img := api.ImageConfig{Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"nginx", "-g", "daemon off;"}}
		rows = append(rows, containerRow{c: c, img: img, now: psNow, loc: time.UTC, trunc: trunc})
	}
	var b strings.Builder
	if err := lf.write(&b, containerRow{header: true}, rows); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestPSFormats(t *testing.T) {
	list := psFixture()
	cases := []struct {
		name, format string
		noTrunc      bool
		want         string
	}{
		{"default table", "", false, "" +
			"CONTAINER ID   IMAGE             COMMAND                  CREATED        STATUS                     PORTS                                           NAMES\n" +
			"a1a1a1a1a1a1   nginx:latest      \"/docker-entrypoint.…\"   2 hours ago    Up 3 minutes               0.0.0.0:8080-8081->80-81/tcp, [::]:53->53/udp   web\n" +
			"b2b2b2b2b2b2   alpine            \"/docker-entrypoint.…\"   5 hours ago    Exited (0) 3 minutes ago                                                   job\n" +
			"c3c3c3c3c3c3   ghcr.io/o/pg:16   \"postgres\"               26 hours ago   Created                                                                    db\n"},
		{"per-row template", "{{.Names}}: {{.Status}} {{.State}}", false,
			"web: Up 3 minutes running\njob: Exited (0) 3 minutes ago exited\ndb: Created created\n"},
		{"table directive", "table {{.Names}}\\t{{.Label \"tier\"}}\\t{{.Networks}}", false, "" +
			"NAMES     LABEL     NETWORKS\n" +
			"web       front     app,default\n" +
			"job       batch     \n" +
			"db                  \n"},
		{"labels, mounts, volumes", "{{.Labels}}|{{.Mounts}}|{{.LocalVolumes}}|{{.CreatedAt}}", false, "" +
			"env=prod,tier=front|a-very-long-vo…|1|2026-11-27 10:00:00 +0000 UTC\n" +
			"tier=batch||0|2026-11-27 07:00:00 +0000 UTC\n" +
			"||0|2026-11-26 10:00:00 +0000 UTC\n"},
		{"no-trunc", "{{.ID}} {{.Command}}", true, "" +
			strings.Repeat("a1", 32) + " \"/docker-entrypoint.sh nginx -g 'daemon off;'\"\n" +
			strings.Repeat("b2", 32) + " \"/docker-entrypoint.sh sh -c 'echo hello world'\"\n" +
			strings.Repeat("c3", 32) + " \"postgres\"\n"},
		{"json lines", "json", false, "" +
			`{"Command":"\"/docker-entrypoint.…\"","CreatedAt":"2026-11-27 10:00:00 +0000 UTC","ID":"a1a1a1a1a1a1","Image":"nginx:latest","Labels":"env=prod,tier=front","LocalVolumes":"1","Mounts":"a-very-long-vo…","Names":"web","Networks":"app,default","Ports":"0.0.0.0:8080-8081->80-81/tcp, [::]:53->53/udp","RunningFor":"2 hours ago","Size":"0B","State":"running","Status":"Up 3 minutes"}` + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := list
			if tc.format == "json" {
				l = list[:1]
			}
			if got := psOutput(t, l, tc.format, !tc.noTrunc); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestPSTemplateErrorListsFields(t *testing.T) {
	lf, err := parseListFormat("{{.Nmes}}", psDefaultTable)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	err = lf.write(&b, containerRow{header: true}, []listRow{containerRow{c: psFixture()[0], now: psNow, loc: time.UTC}})
	want := `template: :1:2: executing "" at <.Nmes>: can't evaluate field Nmes in type cli.containerRow` + "\n" +
		`Fields: .Command .CreatedAt .ID .Image .Label "KEY" .Labels .LocalVolumes .Mounts .Names .Networks .Ports .RunningFor .Size .State .Status`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v\nwant %s", err, want)
	}
	// With no container to list, as docker's would be, the field is still checked.
	if err := lf.write(&b, containerRow{header: true}, nil); err == nil || !strings.Contains(err.Error(), "Fields: .Command") {
		t.Fatalf("no rows: error = %v", err)
	}
}

func TestPSFilters(t *testing.T) {
	list := psFixture()
	cases := []struct {
		filters []string
		all     bool
		last    int
		want    string // names, or the error's text
	}{
		{nil, false, -1, "web"},
		{nil, true, -1, "web job db"},
		{nil, false, 2, "web job"},
		{[]string{"status=exited"}, false, -1, "job"},
		{[]string{"status=exited", "status=created"}, false, -1, "job db"},
		{[]string{"status=running", "label=tier=batch"}, true, -1, ""},
		{[]string{"label=tier"}, true, -1, "web job"},
		{[]string{"label=tier=front", "label=env"}, true, -1, "web"},
		{[]string{"name=^/w"}, true, -1, "web"},
		{[]string{"name=o"}, true, -1, "job"},
		{[]string{"id=c3c3"}, true, -1, "db"},
		{[]string{"ancestor=nginx"}, true, -1, "web"},
		{[]string{"ancestor=nginx:latest"}, true, -1, "web"},
		{[]string{"ancestor=88888888"}, true, -1, "job"},
		{[]string{"ancestor=ghcr.io/o/pg:16"}, true, -1, "db"},
		{[]string{"before=web"}, true, -1, "job db"},
		{[]string{"since=db"}, true, -1, "web job"},
		{[]string{"exited=0"}, true, -1, "job"},
		{[]string{"exited=1"}, true, -1, ""},
		{[]string{"network=app"}, true, -1, "web"},
		{[]string{"volume=a-very-long-volume-name"}, true, -1, "web"},
		{[]string{"volume=/data"}, true, -1, "web"},
		{[]string{"publish=8080"}, true, -1, ""},
		{[]string{"publish=80"}, true, -1, "web"},
		{[]string{"publish=53/udp"}, true, -1, "web"},
		{[]string{"publish=79-80/tcp"}, true, -1, "web"},
		{[]string{"health=healthy"}, true, -1, "invalid filter 'health'"},
		{[]string{"bogus=1"}, true, -1, "invalid filter 'bogus'"},
		{[]string{"status=sleeping"}, true, -1, "invalid filter 'status=sleeping'"},
		{[]string{"exited=x"}, true, -1, "invalid filter 'exited=x'"},
		{[]string{"before=nope"}, true, -1, "no such container: nope"},
		{[]string{"status"}, true, -1, `--filter "status": want KEY=VALUE`},
	}
	for _, tc := range cases {
		got, err := func() (string, error) {
			f, err := parseKnownFilters(tc.filters, psFilterKeys...)
			if err != nil {
				return "", err
			}
			kept, err := selectContainers(list, f, tc.all, tc.last)
			var names []string
			for _, c := range kept {
				names = append(names, c.Name)
			}
			return strings.Join(names, " "), err
		}()
		if err != nil {
			got = err.Error()
			if !strings.HasPrefix(tc.want, "--filter") && !errors.Is(err, api.ErrInvalidArgument) && !errors.Is(err, api.ErrNotFound) {
				t.Errorf("%v: error %v is not a sentinel", tc.filters, err)
			}
		}
		if !strings.HasPrefix(got, tc.want) || (err == nil && got != tc.want) {
			t.Errorf("filters %v all=%v last=%d: got %q, want %q", tc.filters, tc.all, tc.last, got, tc.want)
		}
	}
}
