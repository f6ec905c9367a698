package capabilities

import (
	"errors"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

func TestParseAppleChip(t *testing.T) {
	cases := []struct {
		brand string
		name  string
		gen   int
	}{
		{"Apple M1", "M1", 1},
		{"Apple M1 Pro", "M1 Pro", 1},
		{"Apple M2 Max", "M2 Max", 2},
		{"Apple M2 Ultra", "M2 Ultra", 2},
		{"Apple M3", "M3", 3},
		{"Apple M3 Pro", "M3 Pro", 3},
		{"Apple M4 Max", "M4 Max", 4},
		{"Apple M5", "M5", 5},
		{"Apple M10", "M10", 10},
		{"  Apple M4\n", "M4", 4},
		{"Intel(R) Core(TM) i9-9980HK CPU @ 2.40GHz", "", 0},
		{"VirtualApple @ 2.50GHz processor", "", 0},
		{"Apple processor", "", 0},
		{"Apple M0", "", 0},
		{"", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.brand, func(t *testing.T) {
			name, gen := ParseAppleChip(tc.brand)
			if name != tc.name || gen != tc.gen {
				t.Fatalf("ParseAppleChip(%q) = %q, %d; want %q, %d", tc.brand, name, gen, tc.name, tc.gen)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	cases := []struct {
		in      string
		want    Version
		wantErr bool
	}{
		{"15", Version{15, 0, 0}, false},
		{"14.6", Version{14, 6, 0}, false},
		{"15.1.1", Version{15, 1, 1}, false},
		{"26.0\n", Version{26, 0, 0}, false},
		{"", Version{}, true},
		{"15.x", Version{}, true},
		{"1.2.3.4", Version{}, true},
	}
	for _, tc := range cases {
		got, err := ParseVersion(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

// Real /proc/cpuinfo excerpts: an EPYC under PVM, an Intel host, an arm64 board.
const (
	cpuinfoEPYC = `processor	: 0
vendor_id	: AuthenticAMD
cpu family	: 25
model name	: AMD EPYC
cpu MHz		: 2096.018
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov svm

processor	: 1
vendor_id	: AuthenticAMD
model name	: AMD EPYC
cpu MHz		: 2096.018
`
	cpuinfoIntel = `processor	: 0
vendor_id	: GenuineIntel
model name	: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
cpu MHz		: 2900.000
flags		: fpu vme vmx ept
`
	cpuinfoARM = `processor	: 0
BogoMIPS	: 48.00
Features	: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid
CPU implementer	: 0x41

processor	: 1
BogoMIPS	: 48.00

Hardware	: BCM2835
`
)

func TestParseCPUInfo(t *testing.T) {
	cases := []struct {
		name, text, model string
		mhz               float64
		flag              string
	}{
		{"epyc", cpuinfoEPYC, "AMD EPYC", 2096.018, "svm"},
		{"intel", cpuinfoIntel, "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 2900, "vmx"},
		{"arm", cpuinfoARM, "BCM2835", 0, "asimd"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseCPUInfo(tc.text)
			if got.Model != tc.model || got.MHz != tc.mhz || !got.Flags[tc.flag] {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestParseOSRelease(t *testing.T) {
	text := "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"
	name, ver := ParseOSRelease(text)
	if name != "Debian GNU/Linux" || ver != "12" {
		t.Fatalf("got %q %q", name, ver)
	}
}

func TestLinuxDecisions(t *testing.T) {
	mods := func(names ...string) map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	cases := []struct {
		name         string
		facts        LinuxKVMFacts
		kind, accel  string
		nested       bool
		reasonSubstr string
	}{
		{"pvm like this CI", LinuxKVMFacts{Modules: mods("kvm", "kvm_pvm"), DevKVM: true, DevKVMUsable: true},
			KVMPVM, AccelTCG, false, "PVM"},
		{"pvm beside kvm_intel", LinuxKVMFacts{Modules: mods("kvm", "kvm_intel", "kvm_pvm"), DevKVM: true, DevKVMUsable: true},
			KVMPVM, AccelTCG, false, "PVM"},
		{"intel vt-x", LinuxKVMFacts{Modules: mods("kvm", "kvm_intel"), DevKVM: true, DevKVMUsable: true},
			KVMVMX, AccelKVM, false, "nested"},
		{"intel nested", LinuxKVMFacts{Modules: mods("kvm", "kvm_intel"), DevKVM: true, DevKVMUsable: true, Nested: true},
			KVMVMX, AccelKVM, true, "vmx"},
		{"amd-v no access", LinuxKVMFacts{Modules: mods("kvm", "kvm_amd"), DevKVM: true},
			KVMSVM, AccelTCG, false, "kvm group"},
		{"module but no device", LinuxKVMFacts{Modules: mods("kvm", "kvm_amd")},
			KVMNone, AccelTCG, false, "no KVM"},
		{"nothing", LinuxKVMFacts{}, KVMNone, AccelTCG, false, "no KVM"},
		{"arm64 kvm", LinuxKVMFacts{Arch: "arm64", Modules: mods("kvm"), DevKVM: true, DevKVMUsable: true},
			KVMARM, AccelKVM, false, "arm64"},
		{"kvm module on amd64 alone", LinuxKVMFacts{Arch: "amd64", Modules: mods("kvm"), DevKVM: true, DevKVMUsable: true},
			KVMNone, AccelTCG, false, "no KVM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := KVMKind(tc.facts); got != tc.kind {
				t.Fatalf("kind %q, want %q", got, tc.kind)
			}
			accel, accelReason := LinuxAccelerator(tc.facts)
			if accel != tc.accel {
				t.Fatalf("accel %q (%s), want %q", accel, accelReason, tc.accel)
			}
			nested, reason := LinuxNested(tc.facts)
			if nested != tc.nested {
				t.Fatalf("nested %v (%s), want %v", nested, reason, tc.nested)
			}
			if !strings.Contains(accelReason+" "+reason, tc.reasonSubstr) {
				t.Fatalf("reasons %q / %q lack %q", accelReason, reason, tc.reasonSubstr)
			}
		})
	}
}

func TestMacNested(t *testing.T) {
	v := func(s string) Version { x, _ := ParseVersion(s); return x }
	cases := []struct {
		name  string
		facts MacFacts
		ok    bool
		want  string
	}{
		{"m3 on 15", MacFacts{"M3", 3, v("15.0"), true, v("15.0")}, true, "supported on an Apple M3 with macOS 15.0"},
		{"m4 pro on 26", MacFacts{"M4 Pro", 4, v("26.1"), true, v("26.0")}, true, "Apple M4 Pro"},
		{"m1 on 15", MacFacts{"M1", 1, v("15.1"), false, v("15.0")}, false,
			"needs an Apple M3 or later chip and macOS 15 or later; this Mac has an Apple M1 with macOS 15.1"},
		{"m3 on 14", MacFacts{"M3 Max", 3, v("14.6"), false, v("14.5")}, false, "this Mac has an Apple M3 Max with macOS 14.6"},
		{"intel", MacFacts{"", 0, v("15.2"), false, Version{}}, false, "this Mac has an Intel CPU with macOS 15.2"},
		{"framework says no", MacFacts{"M3", 3, v("15.0"), false, v("15.0")}, false, "reports it unsupported"},
		{"sdk unknown", MacFacts{"M3", 3, v("15.0"), false, Version{}}, false, "reports it unsupported"},
		{"built with the 14 sdk", MacFacts{"M4", 4, v("15.3"), false, v("14.5")}, false,
			"built with the macOS 14.5 SDK, which leaves it out (an Apple M4 with macOS 15.3 supports it); rebuild berth with the macOS 15 SDK"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason := MacNested(tc.facts)
			if ok != tc.ok || !strings.Contains(reason, tc.want) {
				t.Fatalf("MacNested = %v, %q; want %v containing %q", ok, reason, tc.ok, tc.want)
			}
		})
	}
}

func TestCheckNestedAndRosetta(t *testing.T) {
	_, reason := MacNested(MacFacts{"M2", 2, Version{14, 5, 0}, false, Version{}})
	err := CheckNested(api.Capabilities{NestedVirtualizationReason: reason})
	if !errors.Is(err, api.ErrUnsupported) {
		t.Fatalf("CheckNested: %v, want ErrUnsupported", err)
	}
	for _, want := range []string{"--virtualization", "Apple M2", "macOS 14.5", "M3 or later", "macOS 15 or later"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckNested message %q lacks %q", err, want)
		}
	}
	if err := CheckNested(api.Capabilities{NestedVirtualization: true}); err != nil {
		t.Fatalf("supported host: %v", err)
	}

	cases := []struct {
		arch  string
		state RosettaState
		ok    bool
		want  string
	}{
		{"arm64", RosettaInstalled, true, "installed"},
		{"arm64", RosettaNotInstalled, false, "softwareupdate --install-rosetta"},
		{"arm64", RosettaNotSupported, false, "macOS 13"},
		{"amd64", RosettaInstalled, false, "Apple silicon"},
	}
	for _, tc := range cases {
		ok, reason := MacRosetta(tc.arch, tc.state)
		if ok != tc.ok || !strings.Contains(reason, tc.want) {
			t.Errorf("MacRosetta(%s,%d) = %v %q", tc.arch, tc.state, ok, reason)
		}
		err := CheckRosetta(api.Capabilities{Rosetta: ok, RosettaReason: reason})
		if (err == nil) != ok || (err != nil && !errors.Is(err, api.ErrUnsupported)) {
			t.Errorf("CheckRosetta = %v", err)
		}
	}
}

func TestDefaultResources(t *testing.T) {
	cases := []struct {
		cpus, mem int
		want      api.Defaults
	}{
		{8, 16384, api.Defaults{CPUs: 2, MemoryMiB: 1024}},
		{1, 16384, api.Defaults{CPUs: 1, MemoryMiB: 1024}},
		{2, 2048, api.Defaults{CPUs: 2, MemoryMiB: 512}},
		{2, 512, api.Defaults{CPUs: 2, MemoryMiB: 256}},
	}
	for _, tc := range cases {
		if got := DefaultResources(api.Capabilities{CPUs: tc.cpus, MemoryMiB: tc.mem}); got != tc.want {
			t.Errorf("DefaultResources(%d, %d) = %+v, want %+v", tc.cpus, tc.mem, got, tc.want)
		}
	}
}

func TestGuestArch(t *testing.T) {
	mac := api.Capabilities{OS: "darwin", Arch: "arm64"}
	linux := api.Capabilities{OS: "linux", Arch: "amd64"}
	cases := []struct {
		name             string
		image            string
		host             api.Capabilities
		foreign, rosetta bool
		want, err        string
	}{
		{"QEMU emulates arm64 on x86_64", "arm64", linux, true, false, "arm64", ""},
		{"QEMU runs its own arch", "amd64", linux, true, false, "amd64", ""},
		{"vz runs the Mac's arch", "arm64", mac, false, false, "arm64", ""},
		{"vz with Rosetta runs amd64 images in arm64 VMs", "amd64", mac, false, true, "arm64", ""},
		{"vz without Rosetta refuses amd64", "amd64", mac, false, false, "", "--rosetta"},
		{"a backend without foreign arches on x86_64", "arm64", linux, false, false, "", "--platform linux/amd64"},
		{"unknown image arch", "riscv64", linux, true, false, "", "not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := GuestArch(tc.image, tc.host, tc.foreign, tc.rosetta)
			if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("GuestArch = %q, %v; want %q, %q", got, err, tc.want, tc.err)
			}
			if err != nil && !errors.Is(err, api.ErrUnsupported) {
				t.Fatalf("not ErrUnsupported: %v", err)
			}
		})
	}
}

func TestGuestAcceleratorAndNested(t *testing.T) {
	kvm := api.Capabilities{Arch: "amd64", Accelerator: AccelKVM, AcceleratorReason: "hardware KVM (vmx)",
		NestedVirtualization: true, NestedVirtualizationReason: "KVM (vmx) with nested virtualization"}
	pvm := api.Capabilities{Arch: "amd64", Accelerator: AccelTCG, AcceleratorReason: "/dev/kvm is PVM",
		NestedVirtualizationReason: "needs hardware KVM (VT-x or AMD-V); this host has PVM, which cannot nest"}
	mac := api.Capabilities{Arch: "arm64", Accelerator: AccelHVF, AcceleratorReason: "Apple Virtualization framework"}
	cases := []struct {
		name      string
		host      api.Capabilities
		guest     string
		accel     string
		nestedErr string // "" when nested virtualization is available
	}{
		{"KVM for the host's arch", kvm, "amd64", AccelKVM, ""},
		{"TCG for a foreign arch", kvm, "arm64", AccelTCG, "emulated"},
		{"TCG on PVM", pvm, "amd64", AccelTCG, "PVM"},
		{"the Mac's hypervisor", mac, "arm64", AccelHVF, "does not support it"},
		{"no decision recorded", api.Capabilities{Arch: "amd64"}, "amd64", AccelTCG, "does not support it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			accel, reason := GuestAccelerator(tc.host, tc.guest)
			if accel != tc.accel || reason == "" {
				t.Errorf("GuestAccelerator = %q (%q), want %q with a reason", accel, reason, tc.accel)
			}
			err := CheckNestedFor(tc.host, tc.guest)
			if (err == nil) != (tc.nestedErr == "") || (err != nil && (!strings.Contains(err.Error(), tc.nestedErr) || !errors.Is(err, api.ErrUnsupported))) {
				t.Errorf("CheckNestedFor = %v, want %q", err, tc.nestedErr)
			}
		})
	}
}
