package viewmodel

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

var update = flag.Bool("update", false, "rewrite the golden menus in testdata")

var now = time.Date(2026, 11, 29, 15, 0, 0, 0, time.UTC)

func linuxInfo() api.SystemInfo {
	return api.SystemInfo{
		Daemon: api.DaemonInfo{Home: "/home/me/.local/share/berth", Socket: "/home/me/.local/share/berth/berth.sock", PID: 4242},
		Host: api.Capabilities{OS: "linux", OSName: "Debian GNU/Linux", OSVersion: "12", Arch: "amd64", CPUModel: "AMD EPYC 7B13",
			CPUs: 2, MemoryMiB: 24 << 10, KVM: "pvm", Hypervisor: "qemu", Accelerator: "tcg",
			NestedVirtualizationReason: "needs hardware KVM (VT-x or AMD-V); this host has PVM, which cannot nest",
			RosettaReason:              "Rosetta is a macOS feature"},
		Defaults: api.Defaults{CPUs: 1, MemoryMiB: 512},
		Network:  api.NetworkInfo{Mode: "user", Engine: "user-mode (gvisor-tap-vsock)", Reason: "Linux: user-mode networks, no privileges needed"},
	}
}

func macInfo() api.SystemInfo {
	return api.SystemInfo{
		Daemon: api.DaemonInfo{Home: "/Users/me/Library/Application Support/Berth", PID: 501},
		Host: api.Capabilities{OS: "darwin", OSName: "macOS", OSVersion: "15.1", Arch: "arm64", CPUModel: "Apple M3 Pro",
			AppleChip: "M3 Pro", AppleChipGeneration: 3, CPUs: 12, MemoryMiB: 36 << 10, Hypervisor: "vz", Accelerator: "hvf",
			NestedVirtualization: true, NestedVirtualizationReason: "supported on an Apple M3 Pro with macOS 15.1",
			RosettaReason: "Rosetta is not installed; install it with: softwareupdate --install-rosetta --agree-to-license"},
		Defaults: api.Defaults{CPUs: 2, MemoryMiB: 1024},
		Network:  api.NetworkInfo{Mode: "user", Engine: "user-mode (gvisor-tap-vsock)", Reason: "vmnet needs root before macOS 26"},
	}
}

func demoImage() api.Image {
	return api.Image{ID: "sha256:aa11", Digest: "sha256:d1", Names: []string{"berth/demo:latest"}, Platform: "linux/amd64", Size: 1 << 20}
}

func ctr(id, name, image string, st api.ContainerState, started, finished time.Duration, code int) api.Container {
	c := api.Container{ID: id, Name: name, Image: image, State: st, ExitCode: code, Created: now.Add(-time.Hour)}
	if started > 0 {
		c.Started = now.Add(-started)
	}
	if finished > 0 {
		c.Finished = now.Add(-finished)
	}
	return c
}

func three() []api.Container {
	web := ctr("c1web", "web", "nginx:latest", api.StateRunning, 5*time.Minute, 0, 0)
	web.IPAddress = "10.89.0.2"
	failed := ctr("c2job", "migrate", "app:1.2", api.StateExited, 10*time.Minute, 2*time.Minute, 3)
	dead := ctr("c3db", "db", "postgres:16", api.StateDead, 3*time.Hour, 90*time.Second, 255)
	dead.Error = "guest kernel panic"
	return []api.Container{failed, dead, web}
}

func threeNetworks() []api.Network {
	return []api.Network{
		{ID: "n1default", Name: "default", Driver: "user", Subnet: "10.89.0.0/24", Gateway: "10.89.0.1", Default: true, State: api.NetworkRunning,
			Members: []api.NetworkMember{{ContainerID: "c1web", Name: "web", IP: "10.89.0.2", Running: true}, {ContainerID: "c2job", Name: "migrate", IP: "10.89.0.3"}},
			Ports:   []api.PortMapping{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "tcp", Container: "c1web"}}},
		{ID: "n2data", Name: "data", Driver: "user", Subnet: "10.89.1.0/24", Gateway: "10.89.1.1", Internal: true, State: api.NetworkStopped,
			Members: []api.NetworkMember{{ContainerID: "c3db", Name: "db", IP: "10.89.1.2"}}},
		{ID: "n3dev", Name: "dev", Driver: "user", Subnet: "10.89.2.0/24", Gateway: "10.89.2.1", HostAccess: true, State: api.NetworkStopped,
			WayOut: "vmnet"},
	}
}

func goldenStates() map[string]State {
	base := func() State {
		return State{Now: now, OS: "linux", Daemon: DaemonRunning, Info: linuxInfo(), Login: LoginOff,
			Images: []api.Image{demoImage()}}
	}
	states := map[string]State{}

	s := State{Now: now, OS: "linux", Daemon: DaemonDown, Login: LoginOff,
		DaemonError: "dial unix /home/me/.local/share/berth/berth.sock: connect: no such file or directory"}
	states["no-daemon"] = s

	states["empty"] = base()

	s = base()
	s.OS, s.Info, s.Login = "darwin", macInfo(), LoginOn
	s.Containers = three()
	s.Stats = map[string]api.ContainerStats{"c1web": {MemoryUsed: 48 << 20, MemoryTotal: 1 << 30, HostRSS: 210 << 20}}
	s.NotesOff = map[NoteKind]bool{NoteImage: true}
	s.Networks = threeNetworks()
	states["three"] = s

	s = base()
	for i := range 30 {
		st, code := api.StateRunning, 0
		if i%3 == 1 {
			st = api.StateExited
		}
		if i%7 == 2 {
			st, code = api.StateExited, 1
		}
		c := ctr(fmt.Sprintf("c%02d", i), fmt.Sprintf("worker-%02d", i), "berth/demo", st, time.Duration(i+1)*time.Minute, time.Duration(i)*time.Second, code)
		s.Containers = append(s.Containers, c)
	}
	states["thirty"] = s

	s = base()
	s.Containers = three()[:1]
	s.Jobs = []Job{{ID: "import/app.tar", Title: "Importing app.tar", Progress: "45%"}}
	states["import"] = s

	s = base()
	s.Containers = three()[:1]
	s.Jobs = []Job{{ID: "start/c2job", Title: "Start migrate", Failed: "the guest agent did not answer within 3m0s"}}
	states["failed-action"] = s

	s = base()
	s.Daemon = DaemonStarting
	states["starting"] = s

	// Restart policies: one waiting to restart, one up again.
	s = base()
	flaky := ctr("c4flaky", "flaky", "berth/demo", api.StateRestarting, 20*time.Second, 3*time.Second, 1)
	flaky.RestartCount = 3
	api2 := ctr("c5api", "api", "berth/demo", api.StateRunning, 2*time.Second, 0, 0)
	api2.RestartCount = 1
	s.Containers = []api.Container{flaky, api2}
	states["restarting"] = s
	return states
}

// The menus of typical states, as `berth menu --ids` prints them. Run with
// -update after an intended change and read the diff.
func TestGoldenMenus(t *testing.T) {
	for name, s := range goldenStates() {
		t.Run(name, func(t *testing.T) {
			got := Build(s).Text(true)
			path := filepath.Join("testdata", name+".menu")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./ui/viewmodel -update)", err)
			}
			if got != string(want) {
				t.Errorf("menu for %s changed; got:\n%s\nwant:\n%s", name, got, want)
			}
		})
	}
}

// What the menu must offer, checked item by item (the golden files show
// the whole; these say what matters).
func TestBuildRules(t *testing.T) {
	states := goldenStates()
	m := Build(states["three"])
	web, _ := m.Find("container/c1web")
	if web.Title != "web" || web.Dot != DotGreen || !strings.Contains(web.Detail, "Up 5 minutes") {
		t.Errorf("running row: %+v", web)
	}
	for id, want := range map[string]bool{
		"container/c1web/stop": true, "container/c1web/kill": true, "container/c1web/remove": false,
		"container/c1web/shell": true, "container/c1web/copy-ip": true,
		"container/c2job/start": true, "container/c2job/remove": true, "container/c2job/shell": false,
		"container/c2job/copy-ip": false, "quit": true,
	} {
		it, ok := m.Find(id)
		if !ok || it.Enabled != want {
			t.Errorf("%s: found %v, enabled %v, want %v", id, ok, it.Enabled, want)
		}
	}
	if kill, _ := m.Find("container/c1web/kill"); !kill.Alternate || kill.Mods != ModOption {
		t.Errorf("Kill is not Stop's Option alternate: %+v", kill)
	}
	if it, _ := m.Find("container/c2job"); it.Dot != DotRed || !strings.Contains(it.Detail, "Exited (3) 2 minutes ago") {
		t.Errorf("failed row: %+v", it)
	}
	if it, _ := m.Find("container/c3db"); it.Dot != DotRed || it.Tooltip != "guest kernel panic" {
		t.Errorf("dead row: %+v", it)
	}
	if it, ok := m.Find("host/nested"); !ok || it.Detail != "supported on an Apple M3 Pro with macOS 15.1" {
		t.Errorf("nested virtualization: %+v", it)
	}
	if _, ok := m.Find("host/install-rosetta"); !ok {
		t.Error("no way to install Rosetta on a Mac without it")
	}
	if it, _ := m.Find("settings/notes/image"); it.Checked {
		t.Error("a kind turned off shows as on")
	}
	// Every clickable item carries an action, every id is unique.
	seen := map[string]bool{}
	m.Walk(func(it Item, _ int) {
		if seen[it.ID] {
			t.Errorf("duplicate id %s", it.ID)
		}
		seen[it.ID] = true
		if (it.Kind == KindAction || it.Kind == KindToggle) && it.Action == nil {
			t.Errorf("%s is clickable but does nothing", it.ID)
		}
	})

	thirty := Build(states["thirty"])
	inline := 0
	thirty.Walk(func(it Item, depth int) {
		if depth == 0 && strings.HasPrefix(it.ID, "container/") {
			inline++
		}
	})
	more, ok := thirty.Find("containers/more")
	if inline != MaxInline || !ok || len(more.Children) != 30-MaxInline {
		t.Errorf("30 containers: %d inline, more %v with %d", inline, ok, len(more.Children))
	}

	down := Build(states["no-daemon"])
	if it, ok := down.Find("start-daemon"); !ok || !it.Enabled || down.Icon != IconProblem {
		t.Errorf("no daemon: start %+v, icon %s", it, down.Icon)
	}
	if _, ok := down.Find("containers"); ok {
		t.Error("containers listed without a daemon")
	}
	empty := Build(states["empty"])
	if it, ok := empty.Find("run-demo"); !ok || it.Action.Verb != VerbRunDemo {
		t.Errorf("empty state offers no demo: %+v", it)
	}
	if Build(states["import"]).Icon != IconBusy {
		t.Error("an import in progress does not show as busy")
	}
}

func TestPausedContainerStatus(t *testing.T) {
	c := ctr("c9", "frozen", "nginx", api.StatePaused, 5*time.Minute, 0, 0)
	if got := containerStatus(State{Now: now}, c); got != "Up 5 minutes (Paused)" {
		t.Fatalf("containerStatus of a paused container = %q", got)
	}
}
