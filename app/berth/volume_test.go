package main

// End-to-end tests of the volume commands: the berth binary and a daemon
// it starts. No VM boots: a volume is a disk image, and a container that
// mounts one only needs to be created, not started.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
)

func TestVolumeCommandsEndToEnd(t *testing.T) {
	home := newHome(t)

	// Create: the name back; again, the same volume; docker's refusals.
	if out := mustRun(t, home, "volume", "create", "-o", "size=16m", "--label", "env=prod", "data"); out != "data\n" {
		t.Fatalf("volume create: %q", out)
	}
	if out := mustRun(t, home, "volume", "create", "data"); out != "data\n" {
		t.Fatalf("volume create of an existing volume: %q", out)
	}
	refused := []struct {
		args []string
		want string
	}{
		{[]string{"volume", "create", "-o", "size=32m", "data"}, "Error: volume data already exists with other options (size 16 MiB)"},
		{[]string{"volume", "create", "my vol"}, `Error: invalid volume name "my vol": a name is 2 to 255 characters [a-zA-Z0-9][a-zA-Z0-9_.-]+`},
		{[]string{"volume", "create", "-o", "type=nfs", "nfs"}, `Error: invalid volume option "type": Berth's volumes take only size (e.g. --opt size=10g)`},
		{[]string{"volume", "create", "-o", "size=lots", "big"}, `Error: invalid volume option: size "lots"`},
		{[]string{"volume", "inspect", "nope"}, "Error: no such volume: nope"},
		{[]string{"volume", "rm", "nope"}, "Error: no such volume: nope"},
		{[]string{"volume", "ls", "--filter", "colour=red"}, `Error: invalid filter "colour"`},
	}
	for _, tc := range refused {
		r := berth(t, home, tc.args...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, tc.want) {
			t.Errorf("berth %s: exit %d, stderr %q; want 1 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
	anon := strings.TrimSpace(mustRun(t, home, "volume", "create", "-o", "size=16m"))
	if len(anon) != 64 {
		t.Fatalf("volume create without a name: %q", anon)
	}

	// List: docker's table, names, filters.
	if out := mustRun(t, home, "volume", "ls"); !strings.HasPrefix(out, "DRIVER    VOLUME NAME\n") ||
		!strings.Contains(out, "local     data\n") || !strings.Contains(out, "local     "+anon+"\n") {
		t.Fatalf("volume ls:\n%s", out)
	}
	if out := mustRun(t, home, "volume", "ls", "-q", "--filter", "label=env=prod"); out != "data\n" {
		t.Fatalf("volume ls -q --filter label=env=prod: %q", out)
	}
	if out := mustRun(t, home, "volume", "ls", "--format", "{{.Name}} {{.SizeBytes}}", "-f", "name=dat"); out != "data 16777216\n" {
		t.Fatalf("volume ls --format: %q", out)
	}

	// Inspect: a JSON array, the found ones even when some are missing.
	var vols []api.Volume
	if err := json.Unmarshal([]byte(mustRun(t, home, "volume", "inspect", "data")), &vols); err != nil || len(vols) != 1 {
		t.Fatalf("volume inspect: %v %+v", err, vols)
	}
	v := vols[0]
	if v.Name != "data" || v.Driver != "local" || v.Labels["env"] != "prod" || v.Mountpoint != filepath.Join(home, "volumes", "data", "disk.ext4") {
		t.Fatalf("volume inspect data: %+v", v)
	}
	if st, err := os.Stat(v.Mountpoint); err != nil || st.Size() != 16<<20 {
		t.Fatalf("the disk: %v, %v", st, err)
	}
	r := berth(t, home, "volume", "inspect", "data", "nope")
	if r.code != 1 || !strings.Contains(r.stdout, `"name": "data"`) || !strings.Contains(r.stderr, "no such volume: nope") {
		t.Fatalf("volume inspect data nope: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// In use: a container that mounts it (created, never started).
	t.Run("in use", func(t *testing.T) {
		c := client.New(filepath.Join(home, "berth.sock"))
		defer c.Close()
		_, err := c.CreateContainer(context.Background(), api.ContainerSpec{Name: "web", Image: "berth/demo",
			Mounts: []api.Mount{{Type: api.MountVolume, Source: "data", Target: "/data"}}})
		if errors.Is(err, api.ErrUnsupported) {
			t.Skipf("no containers on this host: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"volume", "rm", "data"}, {"volume", "rm", "-f", "data"}} {
			r := berth(t, home, args...)
			if r.code != 1 || r.stderr != "Error: remove data: volume is in use - [web]\n" {
				t.Fatalf("berth %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
			}
		}
		if out := mustRun(t, home, "volume", "ls", "-q", "--filter", "dangling=false"); out != "data\n" {
			t.Fatalf("volume ls --filter dangling=false: %q", out)
		}
		if out := mustRun(t, home, "volume", "prune", "-a", "-f"); out != "Deleted Volumes:\n"+anon+"\n" {
			t.Fatalf("volume prune -a with data in use: %q", out)
		}
		mustRun(t, home, "rm", "web")
	})

	// Remove and prune.
	if out := mustRun(t, home, "volume", "rm", "-f", "nope"); out != "nope\n" {
		t.Fatalf("volume rm -f of a missing volume: %q", out)
	}
	if out := mustRun(t, home, "volume", "prune", "-f"); out != "" {
		t.Fatalf("volume prune with named volumes only: %q", out)
	}
	out := mustRun(t, home, "volume", "prune", "--all", "--force")
	if !strings.HasPrefix(out, "Deleted Volumes:\n") || !strings.Contains(out, "data\n") {
		t.Fatalf("volume prune -a: %q", out)
	}
	mustRun(t, home, "volume", "create", "-o", "size=16m", "last")
	if out := mustRun(t, home, "volume", "rm", "last"); out != "last\n" {
		t.Fatalf("volume rm: %q", out)
	}
	if out := mustRun(t, home, "volume", "ls", "-q"); out != "" {
		t.Fatalf("volumes left: %q", out)
	}
	if entries, _ := os.ReadDir(filepath.Join(home, "volumes")); len(entries) != 0 {
		t.Fatalf("volume files left: %v", entries)
	}
}
