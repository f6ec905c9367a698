package vz

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/capabilities"
	"github.com/berthvm/berth/core/hypervisor"
)

// An M3 Mac on macOS 15 with Rosetta, and the framework's limits as a
// 10-core, 16 GiB Mac reports them.
func m3Host() Host {
	return Host{Arch: hypervisor.ARM64,
		Limits: Limits{MinCPUs: 1, MaxCPUs: 10, MinMemory: 128 << 20, MaxMemory: 16 << 30},
		Caps:   api.Capabilities{NestedVirtualization: true, Rosetta: true}}
}

func baseConfig() hypervisor.VMConfig {
	return hypervisor.VMConfig{ID: "c1", Arch: hypervisor.ARM64, CPUs: 2, MemoryMiB: 1024,
		Kernel: "/k/Image", Initrd: "/k/initrd", RunDir: "/run/berth/c1"}
}

func TestBuildPlan(t *testing.T) {
	cases := []struct {
		name string
		cfg  func(c *hypervisor.VMConfig)
		want Plan
	}{
		{
			name: "minimal",
			want: Plan{ID: "c1", RunDir: "/run/berth/c1", Kernel: "/k/Image", Initrd: "/k/initrd", Cmdline: "console=hvc0 panic=-1 quiet",
				CPUs: 2, MemoryBytes: 1 << 30, Console: "/run/berth/c1/console.log", AgentPort: 1024,
				Devices: []Device{
					{Kind: DevConsole, Path: "/run/berth/c1/console.log", Append: true},
					{Kind: DevVsock}, {Kind: DevEntropy}, {Kind: DevBalloon},
				}},
		},
		{
			name: "container with disks, networks, Rosetta and nested virtualization",
			cfg: func(c *hypervisor.VMConfig) {
				c.Disks = []hypervisor.Disk{{ID: "base", Path: "/d/base.ext4", ReadOnly: true}, {ID: "upper", Path: "/d/upper.ext4", Format: hypervisor.Raw}}
				c.Networks = []hypervisor.Network{{Mode: hypervisor.NetworkNAT},
					{Mode: hypervisor.NetworkSocket, MAC: "52:54:00:00:00:02", Socket: "/n/net.sock", MTU: 9000}}
				c.ConsoleLog = "/logs/c1.console"
				c.Cmdline = []string{"berth.debug"}
				c.Rosetta, c.Nested = true, true
			},
			want: Plan{ID: "c1", RunDir: "/run/berth/c1", Kernel: "/k/Image", Initrd: "/k/initrd",
				Cmdline: "console=hvc0 panic=-1 quiet berth.rosetta=rosetta berth.debug",
				CPUs:    2, MemoryBytes: 1 << 30, Console: "/logs/c1.console", AgentPort: 1024, Nested: true,
				Devices: []Device{
					{Kind: DevConsole, Path: "/logs/c1.console", Append: true},
					{Kind: DevBlock, ID: "base", Path: "/d/base.ext4", ReadOnly: true, Caching: CachingCached, Sync: SyncNone},
					{Kind: DevBlock, ID: "upper", Path: "/d/upper.ext4", Caching: CachingCached, Sync: SyncFull},
					{Kind: DevVsock}, {Kind: DevEntropy}, {Kind: DevBalloon},
					{Kind: DevNet, Attachment: AttachNAT, MAC: DeriveMAC("c1", 0)},
					{Kind: DevNet, Attachment: AttachDatagram, MAC: "52:54:00:00:00:02", Socket: "/n/net.sock", Local: "/run/berth/c1/net1.sock", MTU: 9000},
					{Kind: DevRosetta, Tag: "rosetta"},
				}},
		},
		{
			name: "shared folders, after the NICs and before Rosetta",
			cfg: func(c *hypervisor.VMConfig) {
				c.Shares = []hypervisor.Share{{Tag: "src", Path: "/"}, {Tag: "conf", Path: "/usr", ReadOnly: true}}
				c.Rosetta = true
			},
			want: Plan{ID: "c1", RunDir: "/run/berth/c1", Kernel: "/k/Image", Initrd: "/k/initrd", Cmdline: "console=hvc0 panic=-1 quiet berth.rosetta=rosetta",
				CPUs: 2, MemoryBytes: 1 << 30, Console: "/run/berth/c1/console.log", AgentPort: 1024,
				Devices: []Device{
					{Kind: DevConsole, Path: "/run/berth/c1/console.log", Append: true},
					{Kind: DevVsock}, {Kind: DevEntropy}, {Kind: DevBalloon},
					{Kind: DevShare, Tag: "src", Path: "/"},
					{Kind: DevShare, Tag: "conf", Path: "/usr", ReadOnly: true},
					{Kind: DevRosetta, Tag: "rosetta"},
				}},
		},
		{
			name: "limits are inclusive",
			cfg:  func(c *hypervisor.VMConfig) { c.CPUs, c.MemoryMiB = 10, 16<<10 },
			want: Plan{ID: "c1", RunDir: "/run/berth/c1", Kernel: "/k/Image", Initrd: "/k/initrd", Cmdline: "console=hvc0 panic=-1 quiet",
				CPUs: 10, MemoryBytes: 16 << 30, Console: "/run/berth/c1/console.log", AgentPort: 1024,
				Devices: []Device{
					{Kind: DevConsole, Path: "/run/berth/c1/console.log", Append: true},
					{Kind: DevVsock}, {Kind: DevEntropy}, {Kind: DevBalloon},
				}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			got, err := BuildPlan(cfg, m3Host())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("plan\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	olderMac := func(chip string, gen int, os string, vzSays bool) api.Capabilities {
		v, _ := capabilities.ParseVersion(os)
		c := api.Capabilities{Rosetta: true}
		c.NestedVirtualization, c.NestedVirtualizationReason = capabilities.MacNested(capabilities.MacFacts{
			Chip: chip, Generation: gen, OSVersion: v, VZSupported: vzSays})
		return c
	}
	cases := []struct {
		name string
		cfg  func(c *hypervisor.VMConfig)
		host func(h *Host)
		err  error
		msg  string
	}{
		{name: "no kernel", cfg: func(c *hypervisor.VMConfig) { c.Kernel = "" }, err: api.ErrInvalidArgument, msg: "no kernel"},
		{name: "amd64 guest on Apple silicon", cfg: func(c *hypervisor.VMConfig) { c.Arch = hypervisor.AMD64 },
			err: api.ErrUnsupported, msg: "a amd64 guest cannot run on this arm64 Mac: Apple's Virtualization framework runs guests of the Mac's own architecture only (use an arm64 image, with --rosetta for x86_64 binaries)"},
		{name: "too many CPUs", cfg: func(c *hypervisor.VMConfig) { c.CPUs = 12 },
			err: api.ErrInvalidArgument, msg: `VM "c1": 12 CPUs: this Mac allows 1 to 10 per VM`},
		{name: "too little memory", cfg: func(c *hypervisor.VMConfig) { c.MemoryMiB = 64 },
			err: api.ErrInvalidArgument, msg: "64 MiB of memory: this Mac allows 128 to 16384 MiB per VM"},
		{name: "too much memory", cfg: func(c *hypervisor.VMConfig) { c.MemoryMiB = 16<<10 + 1 },
			err: api.ErrInvalidArgument, msg: "16385 MiB of memory: this Mac allows 128 to 16384 MiB per VM"},
		{name: "odd minimum rounds up", host: func(h *Host) { h.Limits.MinMemory = 100<<20 + 1 }, cfg: func(c *hypervisor.VMConfig) { c.MemoryMiB = 100 },
			err: api.ErrInvalidArgument, msg: "allows 101 to"},
		{name: "qcow2 disk", cfg: func(c *hypervisor.VMConfig) {
			c.Disks = []hypervisor.Disk{{ID: "d", Path: "/d.qcow2", Format: hypervisor.QCOW2}}
		}, err: api.ErrUnsupported, msg: `disk "d" is qcow2: Apple's Virtualization framework takes raw disk images only`},
		{name: "nested on an M2", cfg: func(c *hypervisor.VMConfig) { c.Nested = true },
			host: func(h *Host) { h.Caps = olderMac("M2 Pro", 2, "15.1", false) }, err: api.ErrUnsupported,
			msg: "nested virtualization (--virtualization) is not available: needs an Apple M3 or later chip and macOS 15 or later; this Mac has an Apple M2 Pro with macOS 15.1"},
		{name: "nested on macOS 14", cfg: func(c *hypervisor.VMConfig) { c.Nested = true },
			host: func(h *Host) { h.Caps = olderMac("M3", 3, "14.6", false) }, err: api.ErrUnsupported,
			msg: "this Mac has an Apple M3 with macOS 14.6"},
		{name: "nested refused by the framework", cfg: func(c *hypervisor.VMConfig) { c.Nested = true },
			host: func(h *Host) { h.Caps = olderMac("M4", 4, "15.0", false) }, err: api.ErrUnsupported,
			msg: "the Virtualization framework reports it unsupported on an Apple M4 with macOS 15.0"},
		{name: "a share tagged as Rosetta's", cfg: func(c *hypervisor.VMConfig) {
			c.Rosetta, c.Shares = true, []hypervisor.Share{{Tag: "rosetta", Path: "/"}}
		}, err: api.ErrInvalidArgument, msg: `share tag "rosetta" is Rosetta's`},
		{name: "a share of a missing folder", cfg: func(c *hypervisor.VMConfig) {
			c.Shares = []hypervisor.Share{{Tag: "src", Path: "/no/such/folder"}}
		}, err: api.ErrInvalidArgument, msg: `share "src"`},
		{name: "Rosetta not installed", cfg: func(c *hypervisor.VMConfig) { c.Rosetta = true },
			host: func(h *Host) {
				h.Caps.Rosetta, h.Caps.RosettaReason = capabilities.MacRosetta("arm64", capabilities.RosettaNotInstalled)
			}, err: api.ErrUnsupported, msg: "install it with: softwareupdate --install-rosetta --agree-to-license"},
		{name: "Rosetta on an Intel Mac", cfg: func(c *hypervisor.VMConfig) { c.Rosetta, c.Arch = true, hypervisor.AMD64 },
			host: func(h *Host) { h.Arch = hypervisor.AMD64 }, err: api.ErrUnsupported, msg: "Rosetta runs x86_64 binaries in arm64 guests only"},
		{name: "socket path too long", cfg: func(c *hypervisor.VMConfig) { c.RunDir = "/" + strings.Repeat("r", 100) },
			err: api.ErrInvalidArgument, msg: "is longer than 103 bytes: use a shorter run directory"},
		{name: "not a Mac", host: func(h *Host) { h.Limits = Limits{} }, err: api.ErrUnavailable,
			msg: "limits are unknown (it is available on macOS only)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, h := baseConfig(), m3Host()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			if tc.host != nil {
				tc.host(&h)
			}
			_, err := BuildPlan(cfg, h)
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v\nwant %v containing %q", err, tc.err, tc.msg)
			}
		})
	}
}

// Nested virtualization and Rosetta are decided from the capability
// facts: the same table core/capabilities probes on a Mac.
func TestNestedAndRosettaFromFacts(t *testing.T) {
	cases := []struct {
		chip                  string
		gen                   int
		os                    string
		vz                    bool
		rosetta               capabilities.RosettaState
		wantNested, wantRosie bool
	}{
		{"M3", 3, "15.0", true, capabilities.RosettaInstalled, true, true},
		{"M4 Max", 4, "26.1", true, capabilities.RosettaInstalled, true, true},
		{"M1", 1, "15.2", false, capabilities.RosettaInstalled, false, true},
		{"M3 Pro", 3, "14.7.1", false, capabilities.RosettaNotInstalled, false, false},
		{"M3", 3, "15.0", false, capabilities.RosettaNotSupported, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.chip+" macOS "+tc.os, func(t *testing.T) {
			v, err := capabilities.ParseVersion(tc.os)
			if err != nil {
				t.Fatal(err)
			}
			h := m3Host()
			h.Caps.NestedVirtualization, h.Caps.NestedVirtualizationReason = capabilities.MacNested(capabilities.MacFacts{
				Chip: tc.chip, Generation: tc.gen, OSVersion: v, VZSupported: tc.vz})
			h.Caps.Rosetta, h.Caps.RosettaReason = capabilities.MacRosetta("arm64", tc.rosetta)
			cfg := baseConfig()
			cfg.Nested = true
			p, err := BuildPlan(cfg, h)
			if tc.wantNested != (err == nil) || (err == nil && !p.Nested) {
				t.Errorf("nested: plan %v, err %v; want allowed=%v", p.Nested, err, tc.wantNested)
			}
			if err != nil && !strings.Contains(err.Error(), "macOS "+v.String()) {
				t.Errorf("the refusal does not name the macOS version found: %v", err)
			}
			cfg = baseConfig()
			cfg.Rosetta = true
			p, err = BuildPlan(cfg, h)
			if tc.wantRosie != (err == nil) || (err == nil && p.Count(DevRosetta) != 1) {
				t.Errorf("rosetta: %d shares, err %v; want allowed=%v", p.Count(DevRosetta), err, tc.wantRosie)
			}
		})
	}
}

func TestDeriveMAC(t *testing.T) {
	seen := map[string]string{}
	for _, id := range []string{"c1", "c2", "3f2a9c1b7e4d", "a", "b"} {
		for i := 0; i < 3; i++ {
			mac := DeriveMAC(id, i)
			if mac != DeriveMAC(id, i) {
				t.Fatalf("%s/%d: not stable", id, i)
			}
			hw, err := parseMAC(mac)
			if err != nil {
				t.Fatal(err)
			}
			if hw[0]&0x02 == 0 || hw[0]&0x01 != 0 {
				t.Errorf("%s: not a locally administered unicast address", mac)
			}
			key := id + "/" + string(rune('0'+i))
			if other, dup := seen[mac]; dup {
				t.Errorf("%s and %s share %s", key, other, mac)
			}
			seen[mac] = key
		}
	}
	// Pinned: a change would move every existing container's address.
	const pinnedMAC = "2a:8a:e0:62:26:3a"
	if got := DeriveMAC("c1", 0); got != pinnedMAC {
		t.Errorf("DeriveMAC(c1, 0) = %s, was %s: existing containers would change address", got, pinnedMAC)
	}
}

func TestMapState(t *testing.T) {
	cases := []struct {
		s       VMState
		started bool
		want    Mapped
	}{
		{StateStopped, false, Mapped{State: hypervisor.Running}},
		{StateStarting, false, Mapped{State: hypervisor.Running}},
		{StateRunning, true, Mapped{State: hypervisor.Running}},
		{StatePausing, true, Mapped{State: hypervisor.Running}},
		{StatePaused, true, Mapped{State: hypervisor.Running}},
		{StateResuming, true, Mapped{State: hypervisor.Running}},
		{StateSaving, true, Mapped{State: hypervisor.Running}},
		{StateRestoring, true, Mapped{State: hypervisor.Running}},
		{StateStopping, true, Mapped{State: hypervisor.Running}},
		{StateStopped, true, Mapped{State: hypervisor.Stopped, Ended: true}},
		{StateError, false, Mapped{State: hypervisor.Stopped, Ended: true, Crash: true}},
		{StateError, true, Mapped{State: hypervisor.Stopped, Ended: true, Crash: true}},
	}
	for _, tc := range cases {
		if got := MapState(tc.s, tc.started); got != tc.want {
			t.Errorf("MapState(%s, started=%v) = %+v, want %+v", tc.s, tc.started, got, tc.want)
		}
	}
	if StateRestoring.String() != "restoring" || VMState(42).String() != "state(42)" {
		t.Error("state names")
	}
}

func TestClassifyEnd(t *testing.T) {
	cases := []struct {
		name            string
		s               VMState
		killed, stopReq bool
		console         string
		want            string
	}{
		{"agent powered off", StateStopped, false, false, "berth agent: ready\nberth agent: powering off\n", ""},
		{"kernel powered off", StateStopped, false, false, "berth agent: ready\nreboot: Power down\n", ""},
		{"killed on purpose", StateStopped, true, false, "Kernel panic - not syncing", ""},
		{"framework error", StateError, false, false, "reboot: Power down", "the Virtualization framework stopped the VM with an internal error"},
		{"kernel panic", StateStopped, false, false, "Kernel panic - not syncing: VFS", "guest kernel panic"},
		{"panic after a stop request", StateStopped, false, true, "Kernel panic - not syncing", "guest kernel panic"},
		{"reboot", StateStopped, false, false, "reboot: Restarting system", "guest rebooted (Berth VMs do not reboot)"},
		{"stopped after the power key", StateStopped, false, true, "", ""},
		{"silent end", StateStopped, false, false, "berth agent: ready\n", "VM ended without powering off"},
		{"died before its console", StateStopped, false, false, "", "VM ended without powering off, before its console started"},
	}
	for _, tc := range cases {
		if got := classifyEnd(tc.s, tc.killed, tc.stopReq, tc.console); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func parseMAC(s string) (net.HardwareAddr, error) { return net.ParseMAC(s) }

func TestHelperFor(t *testing.T) {
	have := map[string]bool{"/Applications/Berth.app/Contents/Helpers/berth": true}
	exists := func(p string) bool { return have[p] }
	cases := map[string]string{
		// The app's main executable is berth; its VM hosts run through the
		// bundle's link to it.
		"/Applications/Berth.app/Contents/MacOS/Berth":   "/Applications/Berth.app/Contents/Helpers/berth",
		"/Applications/Berth.app/Contents/Helpers/berth": "/Applications/Berth.app/Contents/Helpers/berth",
		"/usr/local/bin/berth":                           "/usr/local/bin/berth",
		"/tmp/Other.app/Contents/MacOS/Other":            "/tmp/Other.app/Contents/MacOS/Other",
		"/tmp/Old.app/Contents/Resources/bin/berth":      "/tmp/Old.app/Contents/Resources/bin/berth",
		// No link there: the main executable itself, which is berth too.
		"/Volumes/Berth/Berth.app/Contents/MacOS/Berth": "/Volumes/Berth/Berth.app/Contents/MacOS/Berth",
	}
	for exe, want := range cases {
		if got := helperFor(exe, exists); got != want {
			t.Errorf("helperFor(%s) = %s, want %s", exe, got, want)
		}
	}
}

// The bundle's real layout: Helpers/berth is a relative symlink to
// ../MacOS/Berth, which fileExists follows.
func TestHelperForBundleLink(t *testing.T) {
	app := filepath.Join(t.TempDir(), "Berth.app", "Contents")
	exe := filepath.Join(app, "MacOS", "Berth")
	link := filepath.Join(app, "Helpers", "berth")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, []byte("berth"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := helperFor(exe, fileExists); got != exe {
		t.Errorf("without the link: helperFor = %s, want %s", got, exe)
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../MacOS/Berth", link); err != nil {
		t.Fatal(err)
	}
	if got := helperFor(exe, fileExists); got != link {
		t.Errorf("with the link: helperFor = %s, want %s", got, link)
	}
	if err := os.Remove(exe); err != nil {
		t.Fatal(err)
	}
	if got := helperFor(exe, fileExists); got != exe {
		t.Errorf("with a dangling link: helperFor = %s, want %s", got, exe)
	}
}
