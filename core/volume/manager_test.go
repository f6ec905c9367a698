package volume

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/events"
	"github.com/berthvm/berth/core/paths"
	"github.com/berthvm/berth/core/state"
)

// testSize keeps the tests' disks and templates small (formatting one
// takes milliseconds).
const testSize = 32 << 20

type fixture struct {
	m    *Manager
	db   *state.DB
	home string
	bus  *events.Bus
}

func newFixture(t *testing.T, edit func(*Config)) fixture {
	t.Helper()
	home := t.TempDir()
	db, err := state.Open(filepath.Join(home, "berth.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	bus := events.NewBus(100)
	cfg := Config{DB: db, Home: home, Templates: filepath.Join(home, "templates"), Bus: bus,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DefaultSize: testSize,
		Now: func() time.Time { return time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) }}
	if edit != nil {
		edit(&cfg)
	}
	m, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{m: m, db: db, home: home, bus: bus}
}

// addContainer stores a container that mounts the named volumes, as the
// runtime will.
func (f fixture) addContainer(t *testing.T, name string, volumes ...string) {
	t.Helper()
	rec := state.ContainerRecord{Container: api.Container{ID: "id-" + name, Name: name, Created: time.Now()}}
	for i, v := range volumes {
		rec.Spec.Mounts = append(rec.Spec.Mounts, api.Mount{Type: api.MountVolume, Source: v, Target: "/mnt/" + string(rune('a'+i))})
	}
	if err := f.db.Update(func(tx *state.Tx) error { return tx.CreateContainer(rec) }); err != nil {
		t.Fatal(err)
	}
}

func (f fixture) removeContainer(t *testing.T, name string) {
	t.Helper()
	if err := f.db.Update(func(tx *state.Tx) error { return tx.DeleteContainer("id-" + name) }); err != nil {
		t.Fatal(err)
	}
}

// events returns the volume events published so far, as "action name".
func (f fixture) events(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := f.bus.Subscribe(ctx, time.Unix(1, 0), func(e api.Event) bool { return e.Type == api.EventVolume })
	var out []string
	for {
		select {
		case e := <-ch:
			out = append(out, e.Action+" "+e.Name)
		default:
			return out
		}
	}
}

func (f fixture) names(t *testing.T, filters map[string][]string) []string {
	t.Helper()
	list, err := f.m.List(context.Background(), filters)
	if err != nil {
		t.Fatalf("List(%v): %v", filters, err)
	}
	names := []string{}
	for _, v := range list {
		names = append(names, v.Name)
	}
	return names
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestCheckName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"ab", true}, {"data", true}, {"my-vol_1.2", true}, {"0x", true}, {"A1", true}, {strings.Repeat("a", 255), true},
		{"", false}, {"a", false}, {"-a", false}, {".a", false}, {"_a", false}, {"..", false}, {"a/b", false},
		{"a b", false}, {"/data", false}, {"./data", false}, {"vol:ro", false}, {"é1", false}, {strings.Repeat("a", 256), false},
	}
	for _, tc := range cases {
		err := CheckName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("CheckName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && (!errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), "[a-zA-Z0-9][a-zA-Z0-9_.-]+")) {
			t.Errorf("CheckName(%q) = %v: want an invalid-argument error that states the rule", tc.name, err)
		}
	}
}

func TestParseOptions(t *testing.T) {
	cases := []struct {
		name    string
		opts    map[string]string
		want    int64
		wantErr string
	}{
		{"none: the default", nil, testSize, ""},
		{"empty: the default", map[string]string{}, testSize, ""},
		{"mebibytes", map[string]string{"size": "64m"}, 64 << 20, ""},
		{"gibibytes", map[string]string{"size": "10G"}, 10 << 30, ""},
		{"bytes, rounded up to a MiB", map[string]string{"size": "20971521"}, 21 << 20, ""},
		{"fraction", map[string]string{"size": "1.5g"}, 1536 << 20, ""},
		{"smallest", map[string]string{"size": "16m"}, 16 << 20, ""},
		{"too small", map[string]string{"size": "8m"}, 0, "under the smallest volume, 16 MiB"},
		{"too large", map[string]string{"size": "2t"}, 0, "over the largest volume Berth makes, 1 TiB"},
		{"not a size", map[string]string{"size": "big"}, 0, `size "big": want a number of bytes`},
		{"unknown options", map[string]string{"type": "nfs", "device": ":/x", "size": "1g"}, 0, `invalid volume option "device", "type": Berth's volumes take only size`},
		{"option names are exact", map[string]string{"Size": "1g"}, 0, `invalid volume option "Size"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseOptions(tc.opts, testSize)
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseOptions(%v) = %d, %v; want an invalid-argument error with %q", tc.opts, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseOptions(%v) = %d, %v; want %d", tc.opts, got, err, tc.want)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	req := api.VolumeCreateRequest{Name: "data", Labels: map[string]string{"env": "prod"}, Options: map[string]string{"size": "64m"}}
	v, err := f.m.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	disk := paths.VolumeDisk(f.home, "data")
	want := api.Volume{Name: "data", Driver: "local", Mountpoint: disk, SizeBytes: 64 << 20, Labels: req.Labels,
		Options: req.Options, Created: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("Create = %+v\nwant     %+v", v, want)
	}
	st, err := os.Stat(disk)
	if err != nil || st.Size() != 64<<20 {
		t.Fatalf("disk: %v, %v", st, err)
	}
	if used := st.Sys().(*syscall.Stat_t).Blocks * 512; used > 8<<20 {
		t.Errorf("disk occupies %d bytes: not sparse", used)
	}
	if got, err := f.m.Inspect(ctx, "data"); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Inspect = %+v, %v", got, err)
	}

	// docker's rules for a name that exists.
	again := []struct {
		name    string
		req     api.VolumeCreateRequest
		wantErr error
	}{
		{"no options: the volume as it is", api.VolumeCreateRequest{Name: "data"}, nil},
		{"other labels: the volume as it is", api.VolumeCreateRequest{Name: "data", Labels: map[string]string{"x": "y"}}, nil},
		{"the same size, spelt otherwise", api.VolumeCreateRequest{Name: "data", Options: map[string]string{"size": "67108864"}}, nil},
		{"another size", api.VolumeCreateRequest{Name: "data", Options: map[string]string{"size": "128m"}}, api.ErrAlreadyExists},
		{"the name in other case", api.VolumeCreateRequest{Name: "DATA"}, api.ErrAlreadyExists},
	}
	for _, tc := range again {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.m.Create(ctx, tc.req)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Create(%+v) = %v, want %v", tc.req, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("Create(%+v) = %+v, %v; want the volume unchanged", tc.req, got, err)
			}
		})
	}
	if st, err := os.Stat(disk); err != nil || st.Size() != 64<<20 {
		t.Fatalf("the refused creates touched the existing volume's disk: %v, %v", st, err)
	}

	refused := []struct {
		name string
		req  api.VolumeCreateRequest
		want string
	}{
		{"bad name", api.VolumeCreateRequest{Name: "my vol"}, `invalid volume name "my vol"`},
		{"path as name", api.VolumeCreateRequest{Name: "../x"}, `invalid volume name "../x"`},
		{"bad size", api.VolumeCreateRequest{Name: "sized", Options: map[string]string{"size": "10x"}}, `size "10x"`},
		{"unknown option", api.VolumeCreateRequest{Name: "nfs", Options: map[string]string{"type": "nfs"}}, `invalid volume option "type"`},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.m.Create(ctx, tc.req)
			if !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Create(%+v) = %v, want an invalid-argument error with %q", tc.req, err, tc.want)
			}
		})
	}
	if got := f.names(t, nil); !reflect.DeepEqual(got, []string{"data"}) {
		t.Fatalf("after refused creates: %v", got)
	}
	entries, _ := os.ReadDir(paths.VolumesDir(f.home))
	if len(entries) != 1 {
		t.Fatalf("volumes folder holds %d entries, want data's only", len(entries))
	}

	// No name: 64 hex digits, a named volume all the same.
	v, err = f.m.Create(ctx, api.VolumeCreateRequest{})
	if err != nil || len(v.Name) != 64 || strings.Trim(v.Name, "0123456789abcdef") != "" || v.Anonymous || v.SizeBytes != testSize {
		t.Fatalf("Create without a name = %+v, %v", v, err)
	}
	if got := f.events(t); !reflect.DeepEqual(got, []string{"create data", "create " + v.Name}) {
		t.Fatalf("events %v", got)
	}
}

func TestEnsure(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	anon, created, err := f.m.Ensure(ctx, "", true)
	if err != nil || !created || !anon.Anonymous || len(anon.Name) != 64 || !exists(anon.Mountpoint) {
		t.Fatalf("Ensure anonymous = %+v, %v, %v", anon, created, err)
	}
	again, created, err := f.m.Ensure(ctx, anon.Name, true)
	if err != nil || created || !reflect.DeepEqual(again, anon) {
		t.Fatalf("Ensure again = %+v, %v, %v", again, created, err)
	}
	if _, err := f.m.Create(ctx, api.VolumeCreateRequest{Name: "named", Options: map[string]string{"size": "16m"}}); err != nil {
		t.Fatal(err)
	}
	named, created, err := f.m.Ensure(ctx, "named", false)
	if err != nil || created || named.SizeBytes != 16<<20 {
		t.Fatalf("Ensure of an existing volume = %+v, %v, %v", named, created, err)
	}
	if _, _, err := f.m.Ensure(ctx, "/host/path", false); !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("Ensure of a path: %v", err)
	}
	for name, want := range map[string]bool{"named": true, anon.Name: true, "nope": false} {
		if ok, err := f.m.Exists(ctx, name); err != nil || ok != want {
			t.Errorf("Exists(%s) = %v, %v; want %v", name, ok, err, want)
		}
	}
}

// Many creates of one name at once: one disk made, one volume for all.
func TestConcurrentEnsure(t *testing.T) {
	f := newFixture(t, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	made := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, created, err := f.m.Ensure(context.Background(), "shared", false)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			if created {
				made++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if made != 1 || len(f.events(t)) != 1 {
		t.Fatalf("%d creates and events %v, want one", made, f.events(t))
	}
	if len(f.m.locks.m) != 0 {
		t.Fatalf("%d name locks kept after use", len(f.m.locks.m))
	}
}

func TestListFilters(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, req := range []api.VolumeCreateRequest{
		{Name: "app-data", Labels: map[string]string{"env": "prod", "tier": "db"}},
		{Name: "app-cache", Labels: map[string]string{"env": "dev"}},
		{Name: "logs"},
	} {
		if _, err := f.m.Create(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	f.addContainer(t, "web", "app-cache")
	cases := []struct {
		name    string
		filters map[string][]string
		want    []string
	}{
		{"none", nil, []string{"app-cache", "app-data", "logs"}},
		{"dangling", map[string][]string{"dangling": {"true"}}, []string{"app-data", "logs"}},
		{"not dangling", map[string][]string{"dangling": {"false"}}, []string{"app-cache"}},
		{"dangling either", map[string][]string{"dangling": {"1", "0"}}, []string{"app-cache", "app-data", "logs"}},
		{"name part", map[string][]string{"name": {"app"}}, []string{"app-cache", "app-data"}},
		{"names ORed", map[string][]string{"name": {"data", "logs"}}, []string{"app-data", "logs"}},
		{"label key", map[string][]string{"label": {"env"}}, []string{"app-cache", "app-data"}},
		{"label value", map[string][]string{"label": {"env=prod"}}, []string{"app-data"}},
		{"labels ANDed", map[string][]string{"label": {"env=prod", "tier=db"}}, []string{"app-data"}},
		{"labels ANDed, none", map[string][]string{"label": {"env=dev", "tier=db"}}, []string{}},
		{"keys ANDed", map[string][]string{"name": {"app"}, "dangling": {"true"}}, []string{"app-data"}},
		{"driver", map[string][]string{"driver": {"local"}}, []string{"app-cache", "app-data", "logs"}},
		{"other driver", map[string][]string{"driver": {"nfs"}}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.names(t, tc.filters); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("List(%v) = %v, want %v", tc.filters, got, tc.want)
			}
		})
	}
	for _, bad := range []map[string][]string{{"colour": {"red"}}, {"dangling": {"maybe"}}} {
		if _, err := f.m.List(ctx, bad); !errors.Is(err, api.ErrInvalidArgument) {
			t.Errorf("List(%v) = %v, want invalid argument", bad, err)
		}
	}
	list, _ := f.m.List(ctx, map[string][]string{"name": {"cache"}})
	if len(list) != 1 || !reflect.DeepEqual(list[0].UsedBy, []string{"web"}) {
		t.Fatalf("app-cache's users: %+v", list)
	}
}

func TestRemove(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, err := f.m.Create(ctx, api.VolumeCreateRequest{Name: "data"}); err != nil {
		t.Fatal(err)
	}
	f.addContainer(t, "worker", "data")
	f.addContainer(t, "web", "data")
	disk := paths.VolumeDisk(f.home, "data")

	for _, force := range []bool{false, true} {
		err := f.m.Remove(ctx, "data", force)
		if !errors.Is(err, api.ErrConflict) || err.Error() != "remove data: volume is in use - [web, worker]" {
			t.Fatalf("Remove(data, force=%v) in use = %v", force, err)
		}
		var inUse *state.VolumeInUseError
		if !errors.As(err, &inUse) || len(inUse.Containers) != 2 {
			t.Fatalf("in-use error does not carry the containers: %#v", err)
		}
	}
	if !exists(disk) {
		t.Fatal("a refused remove deleted the disk")
	}
	if err := f.m.Remove(ctx, "nope", false); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "no such volume: nope") {
		t.Fatalf("Remove(nope) = %v", err)
	}
	if err := f.m.Remove(ctx, "nope", true); err != nil {
		t.Fatalf("Remove(nope, force) = %v, want nil as docker", err)
	}

	f.removeContainer(t, "web")
	if err := f.m.Remove(ctx, "data", false); err == nil || err.Error() != "remove data: volume is in use - [worker]" {
		t.Fatalf("Remove with one user left = %v", err)
	}
	f.removeContainer(t, "worker")
	if err := f.m.Remove(ctx, "data", false); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Dir(disk)) {
		t.Fatal("volume folder left after remove")
	}
	if _, err := f.m.Inspect(ctx, "data"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("Inspect after remove: %v", err)
	}
	if got := f.events(t); !reflect.DeepEqual(got, []string{"create data", "destroy data"}) {
		t.Fatalf("events %v", got)
	}
}

func TestPrune(t *testing.T) {
	cases := []struct {
		all  bool
		want []string // removed
		left []string
	}{
		{false, []string{"anon-free"}, []string{"anon-used", "named-free", "named-used"}},
		{true, []string{"anon-free", "named-free"}, []string{"anon-used", "named-used"}},
	}
	for _, tc := range cases {
		t.Run(map[bool]string{false: "anonymous", true: "all"}[tc.all], func(t *testing.T) {
			f := newFixture(t, nil)
			ctx := context.Background()
			for _, name := range []string{"anon-free", "anon-used"} {
				if _, _, err := f.m.Ensure(ctx, name, true); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range []string{"named-free", "named-used"} {
				if _, err := f.m.Create(ctx, api.VolumeCreateRequest{Name: name}); err != nil {
					t.Fatal(err)
				}
			}
			f.addContainer(t, "web", "anon-used", "named-used")
			report, err := f.m.Prune(ctx, tc.all)
			if err != nil || !reflect.DeepEqual(report.Removed, tc.want) {
				t.Fatalf("Prune(all=%v) = %v, %v; want %v", tc.all, report.Removed, err, tc.want)
			}
			if got := f.names(t, nil); !reflect.DeepEqual(got, tc.left) {
				t.Fatalf("left %v, want %v", got, tc.left)
			}
			for _, name := range tc.want {
				if exists(filepath.Dir(paths.VolumeDisk(f.home, name))) {
					t.Errorf("pruned volume %s left its folder", name)
				}
			}
		})
	}
}

// A create that fails leaves neither a record nor files.
func TestCreateFailureLeavesNothing(t *testing.T) {
	cases := []struct {
		name     string
		makeDisk func(db *state.DB) func(ctx context.Context, path string, size int64) error
	}{
		{"disk fails half-way", func(*state.DB) func(context.Context, string, int64) error {
			return func(_ context.Context, path string, _ int64) error {
				// What a clone that dies mid-copy leaves: a temp file.
				os.WriteFile(filepath.Join(filepath.Dir(path), ".tmp-disk.ext4"), []byte("half"), 0o600)
				return errors.New("no space left on device")
			}
		}},
		{"record fails after the disk", func(db *state.DB) func(context.Context, string, int64) error {
			return func(_ context.Context, path string, _ int64) error {
				if err := os.WriteFile(path, []byte("a disk"), 0o600); err != nil {
					return err
				}
				return db.Close() // the record's transaction cannot happen now
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var db *state.DB
			f := newFixture(t, func(c *Config) {
				db = c.DB
				c.MakeDisk = tc.makeDisk(db)
			})
			_, err := f.m.Create(context.Background(), api.VolumeCreateRequest{Name: "data"})
			if err == nil || !strings.HasPrefix(err.Error(), "create volume data: ") {
				t.Fatalf("Create = %v, want a failure", err)
			}
			if entries, _ := os.ReadDir(paths.VolumesDir(f.home)); len(entries) != 0 {
				t.Fatalf("a failed create left %v", entries)
			}
		})
	}
}

// What a crash leaves in the volumes folder is swept when a Manager
// opens, and a create over a leftover folder starts clean.
func TestSweepAfterCrash(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, err := f.m.Create(ctx, api.VolumeCreateRequest{Name: "kept"}); err != nil {
		t.Fatal(err)
	}
	kept := paths.VolumeDisk(f.home, "kept")
	halfWritten := filepath.Join(filepath.Dir(kept), ".tmp-disk.ext4")
	orphan := paths.VolumeDisk(f.home, "orphan") // made, then a crash before its record
	for _, p := range []string{halfWritten, orphan} {
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte("leftover"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m, err := New(ctx, f.m.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if exists(halfWritten) || exists(filepath.Dir(orphan)) || !exists(kept) {
		t.Fatalf("after the sweep: temp file %v, orphan %v, kept disk %v", exists(halfWritten), exists(filepath.Dir(orphan)), exists(kept))
	}

	// A leftover that appears later (a remove whose file deletion failed,
	// then a create of the same name) is cleared by the create.
	os.MkdirAll(filepath.Dir(orphan), 0o700)
	os.WriteFile(orphan, []byte("leftover"), 0o600)
	v, err := m.Create(ctx, api.VolumeCreateRequest{Name: "orphan"})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(v.Mountpoint); err != nil || st.Size() != testSize {
		t.Fatalf("disk over a leftover: %v, %v", st, err)
	}
}

func TestClaim(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.m.Create(context.Background(), api.VolumeCreateRequest{Name: "data"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		mounts []api.Mount
		want   error
	}{
		{"existing volume and a bind", []api.Mount{{Type: api.MountVolume, Source: "data", Target: "/d"},
			{Type: api.MountBind, Source: "/nope", Target: "/b"}}, nil},
		{"removed volume", []api.Mount{{Type: api.MountVolume, Source: "gone", Target: "/g"}}, api.ErrNotFound},
		{"unnamed volume", []api.Mount{{Type: api.MountVolume, Target: "/a"}}, api.ErrInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := f.db.View(func(tx *state.Tx) error { return f.m.Claim(tx, tc.mounts) })
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Claim = %v, want %v", err, tc.want)
			}
		})
	}
}
