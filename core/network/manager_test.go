package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/network/nethost"
	"github.com/berthvm/berth/core/state"
)

// fakeEngine records what the manager asks of a network's process.
type fakeEngine struct {
	mu      sync.Mutex
	plan    nethost.Plan
	runDir  string
	calls   []string
	records []nethost.Record
	taken   map[int]bool // host ports in use by "someone else"
	stopped bool
	desired *nethost.State
}

func (e *fakeEngine) log(s string) { e.mu.Lock(); e.calls = append(e.calls, s); e.mu.Unlock() }
func (e *fakeEngine) Attach(_ context.Context, a nethost.Attachment) error {
	e.log("attach " + a.VM + " " + a.IP + " " + filepath.Base(a.Socket) + " " + a.Peer)
	return nil
}
func (e *fakeEngine) Detach(_ context.Context, vm string) error { e.log("detach " + vm); return nil }
func (e *fakeEngine) SetRecords(_ context.Context, r []nethost.Record) error {
	e.mu.Lock()
	e.records = r
	e.mu.Unlock()
	return nil
}
func (e *fakeEngine) Expose(_ context.Context, f nethost.Forward) (nethost.Forward, error) {
	if e.taken[int(f.HostPort)] {
		return f, fmt.Errorf("port %d/%s is already in use by pid 42 (nginx): %w", f.HostPort, f.Proto, api.ErrConflict)
	}
	if f.HostPort == 0 {
		f.HostPort = uint16(49152 + len(e.calls))
	}
	e.log(fmt.Sprintf("expose %s:%d->%s:%d/%s", f.HostIP, f.HostPort, f.GuestIP, f.GuestPort, f.Proto))
	return f, nil
}
func (e *fakeEngine) Unexpose(_ context.Context, k nethost.ForwardKey) error {
	e.log(fmt.Sprintf("unexpose %d", k.HostPort))
	return nil
}
func (e *fakeEngine) Sync(_ context.Context, d nethost.State) (nethost.SyncResult, nethost.Status, error) {
	e.mu.Lock()
	e.desired = &d
	e.mu.Unlock()
	return nethost.SyncResult{}, nethost.Status{}, nil
}
func (e *fakeEngine) Stop(context.Context) error { e.stopped = true; return nil }

type fakeEngines struct {
	mu      sync.Mutex
	started []*fakeEngine
	alive   map[string]*fakeEngine // by handle
	taken   map[int]bool
}

func (f *fakeEngines) Start(_ context.Context, runDir string, p nethost.Plan) (Engine, json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := &fakeEngine{plan: p, runDir: runDir, taken: f.taken}
	f.started = append(f.started, e)
	h, _ := json.Marshal(p.ID)
	if f.alive == nil {
		f.alive = map[string]*fakeEngine{}
	}
	f.alive[string(h)] = e
	return e, h, nil
}

func (f *fakeEngines) Adopt(_ context.Context, h json.RawMessage) (Engine, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e := f.alive[string(h)]; e != nil && !e.stopped {
		return e, nil
	}
	return nil, fmt.Errorf("gone: %w", api.ErrNotFound)
}

func newManager(t *testing.T, engines *fakeEngines) (*Manager, *state.DB) {
	t.Helper()
	return newManagerWith(t, engines, func(*Config) {})
}

func newManagerWith(t *testing.T, engines *fakeEngines, edit func(*Config)) (*Manager, *state.DB) {
	t.Helper()
	db, err := state.Open(filepath.Join(t.TempDir(), "berth.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := Config{DB: db, Home: "/h", Engines: engines,
		HostPrefixes: func() []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")} }}
	edit(&cfg)
	m, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, db
}

// createContainer stores a container whose networks Assign chose.
func createContainer(t *testing.T, m *Manager, db *state.DB, id, name string, nets ...string) state.ContainerRecord {
	t.Helper()
	rec := state.ContainerRecord{Container: api.Container{ID: id, Name: name, State: api.StateCreated,
		Spec: api.ContainerSpec{Networks: nets}, Created: time.Now()}}
	err := db.Update(func(tx *state.Tx) error {
		if err := m.Assign(tx, &rec); err != nil {
			return err
		}
		return tx.CreateContainer(rec)
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func setState(t *testing.T, db *state.DB, id string, st api.ContainerState) state.ContainerRecord {
	var rec state.ContainerRecord
	if err := db.Update(func(tx *state.Tx) (err error) {
		if rec, err = tx.Container(id); err != nil {
			return err
		}
		rec.State = st
		return tx.UpdateContainer(rec)
	}); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestNetworksLifecycle(t *testing.T) {
	engines := &fakeEngines{}
	m, db := newManager(t, engines)
	ctx := context.Background()
	list, _ := m.List(ctx)
	if len(list) != 1 || list[0].Name != "default" || !list[0].Default || list[0].Subnet != "10.89.0.0/24" || list[0].Gateway != "10.89.0.1" {
		t.Fatalf("the default network: %+v", list)
	}
	app, err := m.Create(ctx, api.NetworkCreateRequest{Name: "app", HostAccess: true})
	if err != nil || app.Subnet != "10.89.1.0/24" {
		t.Fatalf("create app: %+v, %v", app, err)
	}
	for _, tc := range []struct {
		req  api.NetworkCreateRequest
		want string
	}{
		{api.NetworkCreateRequest{Name: "app"}, "already exists"},
		{api.NetworkCreateRequest{Name: "bad name"}, "invalid network name"},
		{api.NetworkCreateRequest{Name: "none"}, "reserved"},
		{api.NetworkCreateRequest{Name: "x", Subnet: "10.89.1.0/25"}, "overlaps network subnet 10.89.1.0/24"},
		{api.NetworkCreateRequest{Name: "x", Subnet: "192.168.1.0/26"}, "overlaps this host's network"},
		{api.NetworkCreateRequest{Name: "x", Subnet: "nonsense"}, "invalid subnet"},
	} {
		if _, err := m.Create(ctx, tc.req); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("create %+v: %v, want %q", tc.req, err, tc.want)
		}
	}

	web := createContainer(t, m, db, "c1web", "web", "app")
	db2 := createContainer(t, m, db, "c2db", "db", "app")
	lone := createContainer(t, m, db, "c3lone", "lone")
	none := createContainer(t, m, db, "c4none", "none", "none")
	if web.Networks[0].IP != "10.89.1.2" || db2.Networks[0].IP != "10.89.1.3" || lone.Networks[0].Network != "default" ||
		lone.Networks[0].IP != "10.89.0.2" || len(none.Networks) != 0 || web.Networks[0].Gateway != "10.89.1.1" ||
		web.Networks[0].MAC != MAC("c1web", app.ID) {
		t.Fatalf("addresses: web %+v db %+v lone %+v none %+v", web.Networks, db2.Networks, lone.Networks, none.Networks)
	}
	rec := state.ContainerRecord{Container: api.Container{ID: "c9", Name: "x", Spec: api.ContainerSpec{Networks: []string{"nope"}}}}
	if err := db.Update(func(tx *state.Tx) error { return m.Assign(tx, &rec) }); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "berth network create nope") {
		t.Fatalf("an unknown network: %v", err)
	}

	if err := m.Remove(ctx, "app"); !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "in use by containers db, web") {
		t.Fatalf("remove a network in use: %v", err)
	}
	if err := m.Remove(ctx, "default"); !errors.Is(err, api.ErrConflict) {
		t.Fatalf("remove the default network: %v", err)
	}
	if _, err := m.Disconnect(ctx, "app", "db"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Connect(ctx, "app", "lone", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Connect(ctx, "app", "lone", nil); !errors.Is(err, api.ErrAlreadyExists) {
		t.Fatalf("connect twice: %v", err)
	}
	got, _ := m.Inspect(ctx, "app")
	names := []string{}
	for _, mb := range got.Members {
		names = append(names, mb.Name+"="+mb.IP)
	}
	if strings.Join(names, ",") != "web=10.89.1.2,lone=10.89.1.3" {
		t.Fatalf("members after disconnect db, connect lone: %v (db's address is free again)", names)
	}
	empty, _ := m.Create(ctx, api.NetworkCreateRequest{Name: "empty"})
	if removed, err := m.Prune(ctx); err != nil || strings.Join(removed, ",") != "empty" {
		t.Fatalf("prune: %v, %v", removed, err)
	}
	if _, err := m.Inspect(ctx, empty.ID); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("pruned network still there: %v", err)
	}
}

func TestUpPublishDown(t *testing.T) {
	engines := &fakeEngines{taken: map[int]bool{8081: true}}
	m, db := newManager(t, engines)
	ctx := context.Background()
	app, _ := m.Create(ctx, api.NetworkCreateRequest{Name: "app"})
	createContainer(t, m, db, "c1web", "web", "app", "default")
	web := setState(t, db, "c1web", api.StateRunning)
	nics, err := m.Up(ctx, web, "c1web", "/h/run/c1web")
	if err != nil || len(nics) != 2 || nics[0].Mode != hypervisor.NetworkSocket || nics[0].Socket != "/h/networks/"+api.ShortID(app.ID)+"/c1web.sock" ||
		nics[0].MTU != JumboMTU {
		t.Fatalf("Up = %+v, %v", nics, err)
	}
	if len(engines.started) != 2 {
		t.Fatalf("%d engines started, want 2", len(engines.started))
	}
	appE := engines.started[0]
	if appE.plan.Name != "app" || appE.plan.HostIP != "" || appE.plan.Uplink != "" || appE.plan.UplinkIP != "" || strings.Join(appE.plan.Blocked, ",") != "10.89.0.0/24" || appE.runDir != "/h/networks/"+api.ShortID(app.ID) {
		t.Fatalf("plan %+v", appE.plan)
	}
	if appE.calls[0] != "attach c1web 10.89.1.2 c1web.sock /h/run/c1web/net0.sock" {
		t.Fatalf("attach %v", appE.calls)
	}
	// A taken port fails clearly and leaves nothing published.
	_, err = m.Publish(ctx, web, []api.PortBinding{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}, {HostPort: 8081, ContainerPort: 81, Proto: "tcp"}})
	if !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "port 8081/tcp is already in use by pid 42 (nginx)") {
		t.Fatalf("publish onto a taken port: %v", err)
	}
	if last := appE.calls[len(appE.calls)-1]; last != "unexpose 8080" {
		t.Fatalf("the first port was not released: %v", appE.calls)
	}
	ports, err := m.Publish(ctx, web, []api.PortBinding{{HostIP: "127.0.0.1", ContainerPort: 80, Proto: "tcp"}})
	if err != nil || len(ports) != 1 || ports[0].HostPort == 0 || ports[0].HostIP != "127.0.0.1" {
		t.Fatalf("publish on a free port: %+v, %v", ports, err)
	}
	if len(appE.records) != 0 {
		t.Fatalf("a name before the container runs: %+v", appE.records)
	}
	m.Announce(ctx, web)
	if r := appE.records; len(r) != 1 || r[0] != (nethost.Record{Name: "web", IP: "10.89.1.2"}) {
		t.Fatalf("records %+v", r)
	}
	web.Ports = ports
	if err := db.Update(func(tx *state.Tx) error { return tx.UpdateContainer(web) }); err != nil {
		t.Fatal(err)
	}
	got, _ := m.Inspect(ctx, "app")
	if got.State != api.NetworkRunning || len(got.Ports) != 1 || got.Ports[0].Container != "c1web" || got.MTU != JumboMTU || got.WayOut != "nat" {
		t.Fatalf("inspect: %+v", got)
	}

	// The daemon restarts: the processes are adopted and told everything.
	m.Close()
	m2, err := New(ctx, Config{DB: db, Home: "/h", Engines: engines, HostPrefixes: func() []netip.Prefix { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	m2.Sync(ctx, map[string][2]string{"c1web": {"c1web", "/h/run/c1web"}})
	if d := appE.desired; d == nil || len(d.Attachments) != 1 || len(d.Forwards) != 1 || d.Forwards[0].GuestIP != "10.89.1.2" || len(d.Records) != 1 {
		t.Fatalf("sync after a restart: %+v", d)
	}

	// The host rebooted the network's process away, not the VM: the
	// next daemon starts it again and tells it everything.
	m2.Close()
	engines.mu.Lock()
	engines.alive = nil
	engines.mu.Unlock()
	m3, err := New(ctx, Config{DB: db, Home: "/h", Engines: engines, HostPrefixes: func() []netip.Prefix { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	before := len(engines.started)
	m3.Sync(ctx, map[string][2]string{"c1web": {"c1web", "/h/run/c1web"}})
	if len(engines.started) != before+2 {
		t.Fatalf("sync started %d network processes, want 2 (app and default)", len(engines.started)-before)
	}
	for _, e := range engines.started[before:] {
		if e.desired == nil || len(e.desired.Attachments) != 1 {
			t.Fatalf("restarted network %s was not told its member: %+v", e.plan.Name, e.desired)
		}
	}
	m2, appE = m3, engines.started[before]
	if appE.plan.Name != "app" {
		appE = engines.started[before+1]
	}

	// A second member joins; the first stops: its port, NIC and name go,
	// the network's process stays for the second.
	createContainer(t, m2, db, "c2db", "db", "app")
	dbRec := setState(t, db, "c2db", api.StateRunning)
	if _, err := m2.Up(ctx, dbRec, "c2db", "/h/run/c2db"); err != nil {
		t.Fatal(err)
	}
	stopped := setState(t, db, "c1web", api.StateExited)
	stopped.Ports = ports
	m2.Down(ctx, stopped, "c1web")
	if calls := strings.Join(appE.calls, "|"); !strings.Contains(calls, fmt.Sprintf("unexpose %d|detach c1web", ports[0].HostPort)) || appE.stopped {
		t.Fatalf("down: %s (stopped: %v)", calls, appE.stopped)
	}
	if r := appE.records; len(r) != 1 || r[0].Name != "db" {
		t.Fatalf("a stopped container still has a name: %+v", appE.records)
	}
	if err := m2.Remove(ctx, "app"); !errors.Is(err, api.ErrConflict) {
		t.Fatalf("remove with a stopped member: %v", err)
	}
	// The last member stops: so does the network's process.
	m2.Down(ctx, setState(t, db, "c2db", api.StateExited), "c2db")
	if got, _ := m2.Inspect(ctx, "app"); !appE.stopped || got.State != api.NetworkStopped {
		t.Fatalf("an idle network's process still runs: %+v", got)
	}
}

func TestGuest(t *testing.T) {
	m, db := newManager(t, &fakeEngines{})
	ctx := context.Background()
	m.Create(ctx, api.NetworkCreateRequest{Name: "open", HostAccess: true})
	m.Create(ctx, api.NetworkCreateRequest{Name: "shut"})
	assign := func(rec *state.ContainerRecord) error {
		return db.Update(func(tx *state.Tx) error { return m.Assign(tx, rec) })
	}
	rec := state.ContainerRecord{Container: api.Container{ID: "c1", Name: "web", Spec: api.ContainerSpec{Networks: []string{"open"},
		AddHosts: []string{"db:10.0.0.5", "host.docker.internal:host-gateway"}}}}
	if err := assign(&rec); err != nil {
		t.Fatal(err)
	}
	g, err := m.Guest(rec)
	if err != nil || len(g.Hosts) != 2 || g.Hosts[1] != [2]string{"10.89.1.254", "host.docker.internal"} ||
		strings.Join(g.DNS, ",") != "10.89.1.1" || strings.Join(g.Search, ",") != Domain {
		t.Fatalf("Guest = %+v, %v", g, err)
	}
	for _, tc := range []struct {
		name  string
		spec  api.ContainerSpec
		isErr error
		want  string
	}{
		{"host-gateway on a private network", api.ContainerSpec{Networks: []string{"shut"}, AddHosts: []string{"h:host-gateway"}}, api.ErrConflict, "--host-access"},
		{"host-gateway with no network", api.ContainerSpec{Networks: []string{"none"}, AddHosts: []string{"h:host-gateway"}}, api.ErrConflict, "--host-access"},
		{"no colon", api.ContainerSpec{AddHosts: []string{"nocolon"}}, api.ErrInvalidArgument, "NAME:IP"},
		{"not an address", api.ContainerSpec{AddHosts: []string{"db:db.example"}}, api.ErrInvalidArgument, "not an IP address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := state.ContainerRecord{Container: api.Container{ID: "c2", Name: "sealed", Spec: tc.spec}}
			if err := assign(&bad); !errors.Is(err, tc.isErr) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("create: %v, want %v naming %q", err, tc.isErr, tc.want)
			}
		})
	}
	none := state.ContainerRecord{Container: api.Container{ID: "c3", Name: "alone", Spec: api.ContainerSpec{Networks: []string{"none"}}}}
	if err := assign(&none); err != nil {
		t.Fatal(err)
	}
	if g, err := m.Guest(none); err != nil || len(g.DNS) != 0 {
		t.Fatalf("a container on no network keeps its image's resolver: %+v, %v", g, err)
	}
}

// TestVmnetModePlans: a manager in vmnet mode gives every network's
// process a vmnet uplink at the subnet's uplink address, and never an
// internal network's; every plan is one nethost takes.
func TestVmnetModePlans(t *testing.T) {
	mode := DecideMode(api.Capabilities{OS: "darwin", OSVersion: "26.1"}, false)
	if mode.Mode != ModeVmnet || Uplink(mode) != nethost.UplinkVmnet {
		t.Fatalf("mode %+v, uplink %q", mode, Uplink(mode))
	}
	engines := &fakeEngines{}
	m, db := newManagerWith(t, engines, func(c *Config) { c.Uplink = Uplink(mode) })
	ctx := context.Background()
	for _, req := range []api.NetworkCreateRequest{{Name: "app", HostAccess: true}, {Name: "sealed", Internal: true},
		{Name: "sealed-host", Internal: true, HostAccess: true}, {Name: "small", Subnet: "10.90.0.8/29"}} {
		if _, err := m.Create(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	createContainer(t, m, db, "c1", "one", "default", "app", "sealed", "sealed-host", "small")
	rec := setState(t, db, "c1", api.StateRunning)
	if _, err := m.Up(ctx, rec, "c1", "/h/run/c1"); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"default":     {"vmnet", "10.89.0.253"},
		"app":         {"vmnet", "10.89.1.253"},
		"sealed":      {"", ""},
		"sealed-host": {"", ""},
		"small":       {"vmnet", "10.90.0.13"},
	}
	if len(engines.started) != len(want) {
		t.Fatalf("%d network processes started, want %d", len(engines.started), len(want))
	}
	for _, e := range engines.started {
		w, ok := want[e.plan.Name]
		if !ok || e.plan.Uplink != w[0] || e.plan.UplinkIP != w[1] {
			t.Errorf("network %s: uplink %q at %q; want %q at %q", e.plan.Name, e.plan.Uplink, e.plan.UplinkIP, w[0], w[1])
		}
		// Frames that go out as they are stay Ethernet's size.
		if wantMTU := map[bool]int{true: nethost.DefaultMTU, false: JumboMTU}[w[0] != ""]; e.plan.MTU != wantMTU {
			t.Errorf("network %s: MTU %d, want %d", e.plan.Name, e.plan.MTU, wantMTU)
		}
		if err := e.plan.Validate(); err != nil {
			t.Errorf("network %s: nethost refuses the plan: %v", e.plan.Name, err)
		}
	}
	// No member got an uplink's address: .253 of a /24, .5 of the /29
	// (whose members are .2 to .4).
	for _, cn := range rec.Networks {
		s := netip.MustParsePrefix(fmt.Sprintf("%s/%d", cn.IP, cn.Prefix)).Masked()
		if cn.IP == UplinkAddress(s).String() {
			t.Errorf("%s: the member has the uplink's address %s", cn.Network, cn.IP)
		}
	}
}

// Aliases are per network: a member's aliases are names on that network
// only, shared aliases answer with every member's address, and connect
// and disconnect carry them.
func TestNetworkAliases(t *testing.T) {
	m, db := newManager(t, &fakeEngines{})
	ctx := context.Background()
	app, _ := m.Create(ctx, api.NetworkCreateRequest{Name: "app"})
	other, _ := m.Create(ctx, api.NetworkCreateRequest{Name: "other"})
	assign := func(id, name string, nets []string, aliases map[string][]string) (state.ContainerRecord, error) {
		rec := state.ContainerRecord{Container: api.Container{ID: id, Name: name, State: api.StateRunning, Created: time.Now(),
			Spec: api.ContainerSpec{Networks: nets, NetworkAliases: aliases}}}
		err := db.Update(func(tx *state.Tx) error {
			if err := m.Assign(tx, &rec); err != nil {
				return err
			}
			return tx.CreateContainer(rec)
		})
		return rec, err
	}
	web1, err := assign("c1", "p_web_1", []string{"app", "other"}, map[string][]string{"app": {"web", "1abc", "web"}})
	if err != nil || strings.Join(web1.Networks[0].Aliases, ",") != "web,1abc" || web1.Networks[1].Aliases != nil ||
		strings.Join(web1.Spec.NetworkAliases["app"], ",") != "web,1abc" || len(web1.Spec.NetworkAliases) != 1 {
		t.Fatalf("assign with aliases: %+v, %v", web1, err)
	}
	// By id, as docker's clients may name the network: kept by name.
	web2, err := assign("c2", "p_web_2", []string{app.ID}, map[string][]string{app.ID: {"web"}})
	if err != nil || strings.Join(web2.Spec.NetworkAliases["app"], ",") != "web" {
		t.Fatalf("assign by network id: %+v, %v", web2, err)
	}
	for _, tc := range []struct {
		nets    []string
		aliases map[string][]string
		want    string
	}{
		{[]string{"app"}, map[string][]string{"app": {"bad name"}}, `invalid network alias "bad name"`},
		{[]string{"app"}, map[string][]string{"other": {"x"}}, "network aliases for other, which container x does not join"},
		{nil, map[string][]string{"app": {"x"}}, "network aliases for app, which container x does not join"},
	} {
		if _, err := assign("c9", "x", tc.nets, tc.aliases); !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("assign %v %v: %v, want %q", tc.nets, tc.aliases, err, tc.want)
		}
	}

	var cs []state.ContainerRecord
	load := func() {
		t.Helper()
		if err := db.View(func(tx *state.Tx) (err error) { cs, err = tx.Containers(); return err }); err != nil {
			t.Fatal(err)
		}
	}
	show := func(rs []nethost.Record) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.Name+"="+r.IP)
		}
		return strings.Join(s, " ")
	}
	load()
	if got, want := show(records(app.ID, cs)), "1abc=10.89.1.2 p_web_1=10.89.1.2 p_web_2=10.89.1.3 web=10.89.1.2 web=10.89.1.3"; got != want {
		t.Errorf("app's names: %s, want %s", got, want)
	}
	if got, want := show(records(other.ID, cs)), "p_web_1=10.89.2.2"; got != want {
		t.Errorf("other's names (app's aliases are not its): %s, want %s", got, want)
	}

	// Compose's way: disconnect, then connect again with the aliases.
	if _, err := m.Disconnect(ctx, "app", "p_web_2"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Connect(ctx, "app", "p_web_2", []string{"bad/name"}); !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("connect with a bad alias: %v", err)
	}
	if _, err := m.Connect(ctx, "app", "p_web_2", []string{"c2short", "web"}); err != nil {
		t.Fatal(err)
	}
	load()
	for _, c := range cs {
		if c.ID == "c2" && (strings.Join(c.Networks[0].Aliases, ",") != "c2short,web" || strings.Join(c.Spec.NetworkAliases["app"], ",") != "c2short,web") {
			t.Errorf("aliases after connect: %+v", c)
		}
	}
	if got, want := show(records(app.ID, cs)), "1abc=10.89.1.2 c2short=10.89.1.3 p_web_1=10.89.1.2 p_web_2=10.89.1.3 web=10.89.1.2 web=10.89.1.3"; got != want {
		t.Errorf("app's names after connect: %s, want %s", got, want)
	}
	if _, err := m.Disconnect(ctx, "app", "p_web_1"); err != nil {
		t.Fatal(err)
	}
	load()
	for _, c := range cs {
		if c.ID == "c1" && c.Spec.NetworkAliases != nil {
			t.Errorf("aliases kept after disconnect: %+v", c.Spec.NetworkAliases)
		}
	}
	if got, want := show(records(app.ID, cs)), "c2short=10.89.1.3 p_web_2=10.89.1.3 web=10.89.1.3"; got != want {
		t.Errorf("app's names after disconnect: %s, want %s", got, want)
	}
}
