package volume

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

// formatMount writes m as a --mount value.
func formatMount(m api.Mount) string {
	f := []string{"type=" + string(m.Type), "target=" + m.Target}
	if m.Source != "" {
		f = append(f, "source="+m.Source)
	}
	if m.ReadOnly {
		f = append(f, "readonly")
	}
	if m.NoCopy {
		f = append(f, "volume-nocopy=true")
	}
	if m.TmpfsSize != 0 {
		f = append(f, fmt.Sprintf("tmpfs-size=%d", m.TmpfsSize))
	}
	if m.TmpfsMode != 0 {
		f = append(f, fmt.Sprintf("tmpfs-mode=%o", m.TmpfsMode))
	}
	return strings.Join(f, ",")
}

// FuzzParseMount reads the three mount flags (kind picks -v, --mount or
// --tmpfs). What parses has an absolute target other than the root, a
// source that fits its type, and, written back as a --mount value (when
// its fields can be: no commas), parses to itself.
func FuzzParseMount(f *testing.F) {
	for _, s := range []string{"/data", "vol:/data", "/host:/data:ro,z", "vol:/data:nocopy", "/h:/d:nocopy", ":/d", "a:b:c:d"} {
		f.Add(uint8(0), s)
	}
	for _, s := range []string{"type=bind,src=/h,dst=/d,readonly", "type=volume,source=v1,target=/d,volume-nocopy",
		"type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770", "target=/d,ro=maybe", "type=tmpfs,dst=/,tmpfs-size=1e3", "TYPE=bind"} {
		f.Add(uint8(1), s)
	}
	for _, s := range []string{"/run", "/run:size=64m,mode=1777,exec", "/run:ro,noexec,nosuid", "/t:size=0", "/t:mode=77777"} {
		f.Add(uint8(2), s)
	}
	parsers := []func(string) (api.Mount, error){ParseVolume, ParseMount, ParseTmpfs}
	f.Fuzz(func(t *testing.T, kind uint8, s string) {
		m, err := parsers[int(kind)%len(parsers)](s)
		if err != nil {
			if !errors.Is(err, api.ErrInvalidArgument) {
				t.Fatalf("parse %q: %v", s, err)
			}
			return
		}
		if err := CheckTarget(m.Target); err != nil {
			t.Fatalf("parse %q: target: %v", s, err)
		}
		switch m.Type {
		case api.MountBind:
			if !strings.HasPrefix(m.Source, "/") {
				t.Fatalf("parse %q: bind of %q", s, m.Source)
			}
		case api.MountVolume:
			if m.Source != "" && CheckName(m.Source) != nil {
				t.Fatalf("parse %q: volume named %q", s, m.Source)
			}
		case api.MountTmpfs:
			if m.Source != "" || m.TmpfsSize < 0 || m.TmpfsMode > 0o7777 {
				t.Fatalf("parse %q: tmpfs %+v", s, m)
			}
		default:
			t.Fatalf("parse %q: type %q", s, m.Type)
		}
		if m.TmpfsExec || strings.ContainsAny(m.Source+m.Target, ",") {
			return // --mount has no field for these
		}
		again, err := ParseMount(formatMount(m))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("parse %q = %+v; as --mount %q it parses to %+v, %v", s, m, formatMount(m), again, err)
		}
	})
}

// FuzzVolumeOptions checks a volume create's name and options as the API
// receives them: a size that is accepted is whole MiB between MinSize
// and MaxSize.
func FuzzVolumeOptions(f *testing.F) {
	for _, s := range []string{"10g", "16m", "15m", "1t", "1025g", "1.5", "0", ""} {
		f.Add("data", "size", s)
	}
	f.Add("x", "type", "nfs")
	f.Fuzz(func(t *testing.T, name, key, value string) {
		if err := CheckName(name); err == nil && (len(name) < 2 || len(name) > maxNameLen || strings.ContainsAny(name, "/\\\x00 ")) {
			t.Fatalf("CheckName(%q) accepts it", name)
		}
		size, err := parseOptions(map[string]string{key: value}, DefaultSize)
		if err != nil {
			if !errors.Is(err, api.ErrInvalidArgument) {
				t.Fatalf("parseOptions(%q=%q): %v", key, value, err)
			}
			return
		}
		if size%(1<<20) != 0 || size < MinSize || size > MaxSize {
			t.Fatalf("parseOptions(%q=%q) = %d", key, value, size)
		}
	})
}
