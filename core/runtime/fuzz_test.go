package runtime

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/volume"
)

// FuzzResolveMounts resolves any mounts a container spec may carry (the
// API's JSON, docker's conversion or the CLI's flags) with any VOLUME
// lines an image may declare: what comes out has clean, absolute,
// distinct targets other than the root, parents before what they hold, a
// name for every volume, and an absolute source for every bind.
func FuzzResolveMounts(f *testing.F) {
	f.Add(`[{"type":"bind","source":"/h","target":"/a/b"},{"type":"volume","target":"/a"},{"type":"tmpfs","target":"/a/b/../c/"}]`, "/data\n/a\n..")
	f.Add(`[{"type":"volume","source":"v1","target":"/x"},{"type":"volume","source":"../../x","target":"/y"}]`, "")
	f.Add(`[{"type":"bind","source":"rel","target":"/x"},{"type":"nfs","target":"/y"}]`, "")
	f.Add(`[{"type":"tmpfs","target":"/t"},{"type":"tmpfs","target":"/t/"}]`, "/t\n/")
	f.Fuzz(func(t *testing.T, mountsJSON, imageVolumes string) {
		var ms []api.Mount
		if json.Unmarshal([]byte(mountsJSON), &ms) != nil {
			return
		}
		var vols []string
		if imageVolumes != "" {
			vols = strings.Split(imageVolumes, "\n")
		}
		n := 0
		newName := func() string { n++; return fmt.Sprintf("anon%d", n) }
		stat := func(string) (fs.FileInfo, error) { return nil, nil }
		got, anon, err := resolveMounts(api.ContainerSpec{Mounts: ms}, vols, stat, newName)
		if err != nil {
			if api.CodeOf(err) != api.CodeInvalidArgument {
				t.Fatalf("resolveMounts: %v", err)
			}
			return
		}
		if len(anon) != n {
			t.Fatalf("%d names made, %d anonymous volumes", n, len(anon))
		}
		seen := map[string]bool{}
		for i, m := range got {
			if err := volume.CheckTarget(m.Target); err != nil || path.Clean(m.Target) != m.Target || seen[m.Target] {
				t.Fatalf("mount %+v of %+v: target", m, got)
			}
			seen[m.Target] = true
			if i > 0 && depth(got[i-1].Target) > depth(m.Target) {
				t.Fatalf("mounts %+v: %s before its parent", got, got[i-1].Target)
			}
			switch m.Type {
			case api.MountBind:
				if !path.IsAbs(m.Source) {
					t.Fatalf("bind %+v", m)
				}
			case api.MountVolume:
				if volume.CheckName(m.Source) != nil && !strings.HasPrefix(m.Source, "anon") {
					t.Fatalf("volume %+v", m)
				}
			case api.MountTmpfs:
			default:
				t.Fatalf("mount %+v", m)
			}
		}
	})
}
