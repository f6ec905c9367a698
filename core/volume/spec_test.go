package volume

import (
	"errors"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

func TestParseVolume(t *testing.T) {
	for _, c := range []struct {
		in   string
		want api.Mount
		err  string
	}{
		{in: "/data", want: api.Mount{Type: api.MountVolume, Target: "/data"}},
		{in: "cache:/data", want: api.Mount{Type: api.MountVolume, Source: "cache", Target: "/data"}},
		{in: "cache:/data:ro,nocopy", want: api.Mount{Type: api.MountVolume, Source: "cache", Target: "/data", ReadOnly: true, NoCopy: true}},
		{in: "/src:/src", want: api.Mount{Type: api.MountBind, Source: "/src", Target: "/src"}},
		{in: "/src:/src:ro", want: api.Mount{Type: api.MountBind, Source: "/src", Target: "/src", ReadOnly: true}},
		{in: "/src:/src:rw,z,cached", want: api.Mount{Type: api.MountBind, Source: "/src", Target: "/src"}},
		{in: "src:/src", want: api.Mount{Type: api.MountVolume, Source: "src", Target: "/src"}},
		{in: "./src:/src", err: "use an absolute path"},
		{in: "my/vol:/src", err: "invalid characters for a volume name"},
		{in: "a:/x", err: "invalid characters for a volume name"}, // docker: at least two characters
		{in: "/src:/src:nocopy", err: "nocopy applies to volumes"},
		{in: "/src:/src:rx", err: `unknown option "rx"`},
		{in: ":/src", err: "empty source"},
		{in: "/a:/b:ro:x", err: "want [SOURCE:]CONTAINER_PATH"},
		{in: "vol:data", err: "must be absolute"},
		{in: "vol:/", err: "container's root"},
		{in: "", err: "needs a container path"},
	} {
		got, err := ParseVolume(c.in)
		check(t, "ParseVolume", c.in, got, err, c.want, c.err)
	}
}

func TestParseMount(t *testing.T) {
	for _, c := range []struct {
		in   string
		want api.Mount
		err  string
	}{
		{in: "type=bind,source=/src,target=/app", want: api.Mount{Type: api.MountBind, Source: "/src", Target: "/app"}},
		{in: "type=bind,src=/src,dst=/app,readonly", want: api.Mount{Type: api.MountBind, Source: "/src", Target: "/app", ReadOnly: true}},
		{in: "type=bind,src=/src,destination=/app,ro=false", want: api.Mount{Type: api.MountBind, Source: "/src", Target: "/app"}},
		{in: "source=db,target=/var/lib/db", want: api.Mount{Type: api.MountVolume, Source: "db", Target: "/var/lib/db"}},
		{in: "type=volume,target=/cache,volume-nocopy", want: api.Mount{Type: api.MountVolume, Target: "/cache", NoCopy: true}},
		{in: "type=tmpfs,target=/run/x,tmpfs-size=64m,tmpfs-mode=1770", want: api.Mount{Type: api.MountTmpfs, Target: "/run/x", TmpfsSize: 64 << 20, TmpfsMode: 0o1770}},
		{in: "type=bind,source=src,target=/app", err: "must be an absolute path"},
		{in: "type=bind,target=/app", err: "source is required"},
		{in: "type=volume,source=bad/name,target=/x", err: "invalid volume name"},
		{in: "type=tmpfs,source=x,target=/x", err: "has no source"},
		{in: "type=nfs,target=/x", err: `type "nfs"`},
		{in: "type=bind,source=/a", err: "target is required"},
		{in: "type=bind,source=/a,target=/b,readonly=maybe", err: "want true or false"},
		{in: "type=tmpfs,target=/x,tmpfs-size=lots", err: "tmpfs-size"},
		{in: "type=tmpfs,target=/x,tmpfs-mode=999", err: "tmpfs-mode"},
		{in: "type=bind,source=/a,target=/b,color=red", err: `unknown field "color"`},
		{in: "type=bind,source=/a,target=/b,volume-nocopy", err: "do not apply to a bind"},
	} {
		got, err := ParseMount(c.in)
		check(t, "ParseMount", c.in, got, err, c.want, c.err)
	}
}

func TestParseTmpfs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want api.Mount
		err  string
	}{
		{in: "/tmp", want: api.Mount{Type: api.MountTmpfs, Target: "/tmp"}},
		{in: "/tmp:size=64m,mode=1777", want: api.Mount{Type: api.MountTmpfs, Target: "/tmp", TmpfsSize: 64 << 20, TmpfsMode: 0o1777}},
		{in: "/run:rw,noexec,nosuid,exec,ro", want: api.Mount{Type: api.MountTmpfs, Target: "/run", TmpfsExec: true, ReadOnly: true}},
		{in: "/tmp:size=big", err: "invalid --tmpfs"},
		{in: "/tmp:uid=5", err: `unknown option "uid=5"`},
		{in: "tmp", err: "must be absolute"},
	} {
		got, err := ParseTmpfs(c.in)
		check(t, "ParseTmpfs", c.in, got, err, c.want, c.err)
	}
}

func check(t *testing.T, fn, in string, got api.Mount, err error, want api.Mount, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) || !errors.Is(err, api.ErrInvalidArgument) {
			t.Errorf("%s(%q) = %+v, %v; want an invalid-argument error with %q", fn, in, got, err, wantErr)
		}
		return
	}
	if err != nil || got != want {
		t.Errorf("%s(%q) = %+v, %v; want %+v", fn, in, got, err, want)
	}
}
