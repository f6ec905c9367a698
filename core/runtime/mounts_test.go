package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

func TestResolveMounts(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "app.conf")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	names := func() func() string {
		n := 0
		return func() string { n++; return fmt.Sprintf("anon%d", n) }
	}
	for _, c := range []struct {
		name     string
		mounts   []api.Mount
		image    []string
		want     []api.Mount
		wantAnon []string
		err      string
	}{
		{
			name: "binds, volumes and tmpfs, parents first",
			mounts: []api.Mount{
				{Type: api.MountTmpfs, Target: "/srv/app/tmp/"},
				{Type: api.MountBind, Source: dir + "/", Target: "/srv/app", ReadOnly: true},
				{Type: api.MountBind, Source: file, Target: "/etc/app.conf"},
				{Type: api.MountVolume, Source: "db", Target: "/var/lib/db"},
				{Type: api.MountVolume, Target: "/cache"},
			},
			want: []api.Mount{
				{Type: api.MountVolume, Source: "anon1", Target: "/cache"},
				{Type: api.MountBind, Source: dir, Target: "/srv/app", ReadOnly: true},
				{Type: api.MountBind, Source: file, Target: "/etc/app.conf"},
				{Type: api.MountTmpfs, Target: "/srv/app/tmp"},
				{Type: api.MountVolume, Source: "db", Target: "/var/lib/db"},
			},
			wantAnon: []string{"anon1"},
		},
		{
			name:   "the image's VOLUMEs not covered get anonymous volumes",
			mounts: []api.Mount{{Type: api.MountVolume, Source: "data", Target: "/data"}},
			image:  []string{"/data", "/logs/", "/"},
			want: []api.Mount{
				{Type: api.MountVolume, Source: "data", Target: "/data"},
				{Type: api.MountVolume, Source: "anon1", Target: "/logs"},
			},
			wantAnon: []string{"anon1"},
		},
		{name: "relative bind", mounts: []api.Mount{{Type: api.MountBind, Source: "src", Target: "/src"}}, err: `"src" mount path must be absolute`},
		{name: "missing bind source", mounts: []api.Mount{{Type: api.MountBind, Source: dir + "/nope", Target: "/src"}}, err: "bind source path does not exist: " + dir + "/nope"},
		{name: "duplicate target", mounts: []api.Mount{{Type: api.MountTmpfs, Target: "/x"}, {Type: api.MountVolume, Source: "v1", Target: "/x/"}}, err: "duplicate mount point: /x"},
		{name: "bad volume name", mounts: []api.Mount{{Type: api.MountVolume, Source: "no/slash", Target: "/x"}}, err: "invalid volume name"},
		{name: "relative target", mounts: []api.Mount{{Type: api.MountTmpfs, Target: "x"}}, err: "must be absolute"},
		{name: "unknown type", mounts: []api.Mount{{Type: "nfs", Target: "/x"}}, err: `unknown type "nfs"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, anon, err := resolveMounts(api.ContainerSpec{Mounts: c.mounts}, c.image, os.Stat, names())
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, api.ErrInvalidArgument) {
					t.Fatalf("err = %v, want an invalid-argument error with %q", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) || !reflect.DeepEqual(anon, c.wantAnon) {
				t.Fatalf("got %+v %v, %v\nwant %+v %v", got, anon, err, c.want, c.wantAnon)
			}
		})
	}
	// A stat failure other than "does not exist" is passed on.
	denied := func(string) (fs.FileInfo, error) { return nil, fs.ErrPermission }
	_, _, err := resolveMounts(api.ContainerSpec{Mounts: []api.Mount{{Type: api.MountBind, Source: "/x", Target: "/x"}}}, nil, denied, names())
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("err = %v", err)
	}
}

func TestTmpfsOptions(t *testing.T) {
	for _, c := range []struct {
		m    api.Mount
		want string
	}{
		{api.Mount{}, "nosuid,nodev,mode=1777,noexec"},
		{api.Mount{TmpfsSize: 64 << 20, TmpfsMode: 0o750, TmpfsExec: true}, "nosuid,nodev,mode=750,size=67108864"},
	} {
		if got := tmpfsOptions(c.m); got != c.want {
			t.Errorf("tmpfsOptions(%+v) = %q, want %q", c.m, got, c.want)
		}
	}
}
