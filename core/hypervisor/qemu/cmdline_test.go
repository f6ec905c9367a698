package qemu

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
)

// Hosts as core/capabilities describes them, decisions included.
var tcgHost = HostFrom(api.Capabilities{Arch: "amd64", KVM: "pvm", CPUMHz: 2800,
	Accelerator: "tcg", AcceleratorReason: "/dev/kvm is PVM, which stock guest kernels cannot use",
	NestedVirtualizationReason: "needs hardware KVM (VT-x or AMD-V); this host has PVM, which cannot nest",
	RosettaReason:              "Rosetta is a macOS feature"})
var kvmHost = HostFrom(api.Capabilities{Arch: "amd64", KVM: "vmx", CPUMHz: 2800,
	Accelerator: "kvm", AcceleratorReason: "hardware KVM (vmx)", NestedVirtualization: true,
	RosettaReason: "Rosetta is a macOS feature"})

func baseConfig() hypervisor.VMConfig {
	return hypervisor.VMConfig{ID: "web", Arch: hypervisor.AMD64, CPUs: 2, MemoryMiB: 512,
		Kernel: "/k/vmlinuz", Initrd: "/k/initrd", RunDir: "/run/vm/web",
		Disks: []hypervisor.Disk{{ID: "base", Path: "/d/base.ext4", ReadOnly: true}, {ID: "upper", Path: "/d/upper.qcow2", Format: hypervisor.QCOW2}},
		Networks: []hypervisor.Network{{Mode: hypervisor.NetworkNAT, MAC: "52:54:00:00:00:01"},
			{Mode: hypervisor.NetworkSocket, Socket: "/run/net.sock"}},
		Cmdline: []string{"berth.debug=1"},
	}
}

// argValue returns the value after each occurrence of flag.
func argValues(args []string, flag string) []string {
	var out []string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			out = append(out, args[i+1])
		}
	}
	return out
}

func TestCmdline(t *testing.T) {
	cases := []struct {
		name  string
		mod   func(*hypervisor.VMConfig)
		host  Host
		check map[string][]string // flag -> values, in order
	}{
		{"x86 under TCG", nil, tcgHost, map[string][]string{
			"-machine": {"microvm"},
			"-accel":   {"tcg,thread=multi,tb-size=256"},
			"-cpu":     {"max"},
			"-smp":     {"2"},
			"-m":       {"512"},
			"-kernel":  {"/k/vmlinuz"},
			"-initrd":  {"/k/initrd"},
			"-append":  {"console=ttyS0 panic=-1 quiet pci=off reboot=t tsc_early_khz=2800000 berth.debug=1"},
			"-chardev": {"socket,id=console,path=/run/vm/web/console.sock,server=on,wait=on", "socket,id=agent,path=/run/vm/web/agent.sock,server=on,wait=off",
				"socket,id=events,path=/run/vm/web/events.sock,server=on,wait=off"},
			"-mon": {"chardev=events,mode=control"},
			"-qmp": {"unix:/run/vm/web/qmp.sock,server=on,wait=off"},
			"-drive": {"if=none,id=disk-base,file=/d/base.ext4,format=raw,werror=report,rerror=report,readonly=on",
				"if=none,id=disk-upper,file=/d/upper.qcow2,format=qcow2,werror=report,rerror=report"},
			"-netdev": {"user,id=net0", "dgram,id=net1,local.type=unix,local.path=/run/vm/web/net1.sock,remote.type=unix,remote.path=/run/net.sock"},
			"-device": {"virtio-serial-device", "virtserialport,chardev=agent,name=agent", "virtio-balloon-device,free-page-reporting=on",
				"virtio-blk-device,drive=disk-base,serial=base", "virtio-blk-device,drive=disk-upper,serial=upper",
				"virtio-net-device,netdev=net0,mac=52:54:00:00:00:01", "virtio-net-device,netdev=net1"},
		}},
		{"x86 with KVM: no TSC fix", nil, kvmHost, map[string][]string{
			"-accel":  {"kvm"},
			"-cpu":    {"host"},
			"-append": {"console=ttyS0 panic=-1 quiet pci=off reboot=t berth.debug=1"},
		}},
		{"arm64 guest on x86 is TCG cortex-a72", func(c *hypervisor.VMConfig) {
			c.Arch = hypervisor.ARM64
			c.Networks, c.Disks, c.Initrd, c.Cmdline = nil, nil, "", nil
		}, kvmHost, map[string][]string{
			"-machine": {"virt"},
			"-accel":   {"tcg,thread=multi,tb-size=256"},
			"-cpu":     {"cortex-a72"},
			"-append":  {"console=ttyAMA0 panic=-1 quiet"},
			"-initrd":  nil,
			"-drive":   nil,
		}},
		{"x86 with shares: shared memory, modern virtio-mmio, vhost-user-fs devices", func(c *hypervisor.VMConfig) {
			c.Shares = []hypervisor.Share{{Tag: "src", Path: "/"}, {Tag: "conf", Path: "/usr", ReadOnly: true}}
		}, tcgHost, map[string][]string{
			"-machine": {"microvm,memory-backend=mem"},
			"-object":  {"memory-backend-memfd,id=mem,size=512M,share=on"},
			"-global":  {"virtio-mmio.force-legacy=false"},
			"-chardev": {"socket,id=console,path=/run/vm/web/console.sock,server=on,wait=on", "socket,id=agent,path=/run/vm/web/agent.sock,server=on,wait=off",
				"socket,id=events,path=/run/vm/web/events.sock,server=on,wait=off", "socket,id=fs0,path=/run/vm/web/fs0.sock", "socket,id=fs1,path=/run/vm/web/fs1.sock"},
			"-device": {"virtio-serial-device", "virtserialport,chardev=agent,name=agent", "virtio-balloon-device,free-page-reporting=on",
				"virtio-blk-device,drive=disk-base,serial=base", "virtio-blk-device,drive=disk-upper,serial=upper",
				"virtio-net-device,netdev=net0,mac=52:54:00:00:00:01", "virtio-net-device,netdev=net1",
				"vhost-user-fs-device,chardev=fs0,tag=src", "vhost-user-fs-device,chardev=fs1,tag=conf"},
		}},
		{"no shares: private memory, QEMU's default transport", nil, tcgHost, map[string][]string{
			"-object": nil,
			"-global": nil,
		}},
		{"arm64 with a share", func(c *hypervisor.VMConfig) {
			c.Arch, c.Networks, c.Disks = hypervisor.ARM64, nil, nil
			c.Shares = []hypervisor.Share{{Tag: "src", Path: "/"}}
		}, kvmHost, map[string][]string{
			"-machine": {"virt,memory-backend=mem"},
			"-object":  {"memory-backend-memfd,id=mem,size=512M,share=on"},
			"-device": {"virtio-serial-device", "virtserialport,chardev=agent,name=agent", "virtio-balloon-device,free-page-reporting=on",
				"vhost-user-fs-device,chardev=fs0,tag=src"},
		}},
		{"arm64 on an arm64 KVM host", func(c *hypervisor.VMConfig) { c.Arch = hypervisor.ARM64 },
			HostFrom(api.Capabilities{Arch: "arm64", KVM: "arm", Accelerator: "kvm"}), map[string][]string{"-accel": {"kvm"}, "-cpu": {"host"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			if tc.mod != nil {
				tc.mod(&cfg)
			}
			args, err := Cmdline(cfg, tc.host)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"-nodefaults", "-no-user-config", "-nographic", "-no-reboot"} {
				if !contains(args, f) {
					t.Errorf("missing %s", f)
				}
			}
			if got := argValues(args, "-name"); !reflect.DeepEqual(got, []string{"berth-" + cfg.ID}) {
				t.Errorf("-name %v", got)
			}
			for flag, want := range tc.check {
				if got := argValues(args, flag); !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\n got  %q\n want %q", flag, got, want)
				}
			}
		})
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*hypervisor.VMConfig)
		host Host
		want error
		text string
	}{
		{"ok", func(*hypervisor.VMConfig) {}, tcgHost, nil, ""},
		{"bad id", func(c *hypervisor.VMConfig) { c.ID = "a/b" }, tcgHost, api.ErrInvalidArgument, "id"},
		{"no kernel", func(c *hypervisor.VMConfig) { c.Kernel = "" }, tcgHost, api.ErrInvalidArgument, "kernel"},
		{"zero cpus", func(c *hypervisor.VMConfig) { c.CPUs = 0 }, tcgHost, api.ErrInvalidArgument, "CPUs"},
		{"tiny memory", func(c *hypervisor.VMConfig) { c.MemoryMiB = 16 }, tcgHost, api.ErrInvalidArgument, "memory"},
		{"bad arch", func(c *hypervisor.VMConfig) { c.Arch = "riscv64" }, tcgHost, api.ErrInvalidArgument, "arch"},
		{"duplicate disk", func(c *hypervisor.VMConfig) { c.Disks[1].ID = "base" }, tcgHost, api.ErrInvalidArgument, "two disks"},
		{"long disk id", func(c *hypervisor.VMConfig) { c.Disks[0].ID = strings.Repeat("x", 21) }, tcgHost, api.ErrInvalidArgument, "disk id"},
		{"comma in path", func(c *hypervisor.VMConfig) { c.Disks[0].Path = "/a,b" }, tcgHost, api.ErrInvalidArgument, "comma"},
		{"bad MAC", func(c *hypervisor.VMConfig) { c.Networks[0].MAC = "zz" }, tcgHost, api.ErrInvalidArgument, "MAC"},
		{"socket without path", func(c *hypervisor.VMConfig) { c.Networks[1].Socket = "" }, tcgHost, api.ErrInvalidArgument, "socket"},
		{"long run dir", func(c *hypervisor.VMConfig) { c.RunDir = "/" + strings.Repeat("d", 100) }, tcgHost, api.ErrInvalidArgument, "shorter run directory"},
		{"bad share tag", func(c *hypervisor.VMConfig) { c.Shares = []hypervisor.Share{{Tag: "a b", Path: "/"}} }, tcgHost, api.ErrInvalidArgument, "tag"},
		{"rosetta", func(c *hypervisor.VMConfig) { c.Rosetta = true }, tcgHost, api.ErrUnsupported, "Rosetta"},
		{"nested under TCG", func(c *hypervisor.VMConfig) { c.Nested = true }, tcgHost, api.ErrUnsupported, "PVM"},
		{"nested with KVM", func(c *hypervisor.VMConfig) { c.Nested = true }, kvmHost, nil, ""},
		{"nested in an emulated guest", func(c *hypervisor.VMConfig) { c.Nested, c.Arch = true, hypervisor.ARM64 }, kvmHost, api.ErrUnsupported, "emulated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.mod(&cfg)
			err := Validate(cfg, tc.host)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.want, tc.text)
			}
		})
	}
}

// QEMU applies capabilities' decisions: KVM for the host's own arch when
// the host decided on KVM, TCG otherwise, with the reason.
func TestChooseAccel(t *testing.T) {
	for _, tc := range []struct {
		host  Host
		guest hypervisor.Arch
		want  string
	}{
		{kvmHost, "amd64", "kvm"},
		{tcgHost, "amd64", "tcg"},
		{HostFrom(api.Capabilities{Arch: "amd64"}), "amd64", "tcg"},
		{kvmHost, "arm64", "tcg"},
		{HostFrom(api.Capabilities{Arch: "arm64", KVM: "arm", Accelerator: "kvm", AcceleratorReason: "hardware KVM (arm)"}), "arm64", "kvm"},
	} {
		if got := ChooseAccel(tc.host, tc.guest); got.Name != tc.want || got.Reason == "" {
			t.Errorf("ChooseAccel(%+v, %s) = %+v, want %s with a reason", tc.host, tc.guest, got, tc.want)
		}
	}
}

func TestVirtiofsdCommand(t *testing.T) {
	const bin = "/usr/lib/qemu/virtiofsd"
	cases := []struct {
		name     string
		share    hypervisor.Share
		cache    ShareCache
		root     bool
		wantPath string
		want     []string
		err      string
	}{
		{"writable, as root", hypervisor.Share{Tag: "a", Path: "/src"}, CacheAuto, true, bin,
			[]string{"--fd=3", "-o", "source=/src", "-o", "cache=auto", "-o", "sandbox=namespace"}, ""},
		{"writable, as a user: the open-files limit is left alone", hypervisor.Share{Tag: "a", Path: "/src"}, CacheAlways, false, bin,
			[]string{"--fd=3", "-o", "source=/src", "-o", "cache=always", "-o", "sandbox=namespace", "--rlimit-nofile=0"}, ""},
		{"read-only: a read-only binding first, then virtiofsd in the shell's place", hypervisor.Share{Tag: "a", Path: "/my src", ReadOnly: true}, CacheNone, true, "/bin/sh",
			[]string{"-c", readOnlyScript, "berth-virtiofsd", "/my src", bin, "--fd=3", "-o", "source=/my src", "-o", "cache=none", "-o", "sandbox=namespace"}, ""},
		{"commas and backslashes escaped for virtiofsd's option parser", hypervisor.Share{Tag: "a", Path: `/a,b\c`}, CacheAuto, true, bin,
			[]string{"--fd=3", "-o", `source=/a\,b\\c`, "-o", "cache=auto", "-o", "sandbox=namespace"}, ""},
		{"unknown cache mode", hypervisor.Share{Tag: "a", Path: "/src"}, "metadata", true, "", nil, "cache mode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, args, err := VirtiofsdCommand(bin, tc.share, tc.cache, tc.root)
			if tc.err != "" {
				if !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want ErrInvalidArgument about %q", err, tc.err)
				}
				return
			}
			if err != nil || path != tc.wantPath || !reflect.DeepEqual(args, tc.want) {
				t.Fatalf("VirtiofsdCommand = %s %q, %v; want %s %q", path, args, err, tc.wantPath, tc.want)
			}
		})
	}
}

func TestGuestPoweredOff(t *testing.T) {
	for _, tc := range []struct {
		log  string
		want bool
	}{
		{"", false},
		{"qemu_system_shutdown_request reason=2\n", false}, // the host's quit
		{"qemu_system_shutdown_request reason=6\n", true},
		{"1234@1.5:qemu_system_shutdown_request reason=6\n", true},
		{"qemu-system-x86_64: warning: x\nqemu_system_shutdown_request reason=60\n", false},
	} {
		if got := guestPoweredOff(tc.log); got != tc.want {
			t.Errorf("guestPoweredOff(%q) = %v, want %v", tc.log, got, tc.want)
		}
	}
	if got := withoutTrace("a\nqemu_system_shutdown_request reason=2\nb"); got != "a\nb" {
		t.Errorf("withoutTrace = %q", got)
	}
}
