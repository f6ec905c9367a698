package vzqemu

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/guestabi"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/hypervisor/vz"
)

var tcg = qemu.HostFrom(api.Capabilities{Arch: "amd64", KVM: "pvm", Accelerator: "tcg"})

func macConfig() hypervisor.VMConfig {
	return hypervisor.VMConfig{ID: "web", Arch: hypervisor.ARM64, CPUs: 2, MemoryMiB: 512,
		Kernel: "/k/Image", Initrd: "/k/initrd", RunDir: "/run/vm/web", Cmdline: []string{"berth.debug"},
		Disks: []hypervisor.Disk{{ID: "base", Path: "/d/base.ext4", ReadOnly: true}, {ID: "upper", Path: "/d/upper.ext4"}},
		Networks: []hypervisor.Network{{Mode: hypervisor.NetworkNAT, MAC: "02:00:00:00:00:01"},
			{Mode: hypervisor.NetworkSocket, Socket: "/run/net/app.sock", MAC: "02:00:00:00:00:02"}}}
}

// The translation walks the plan in order: the same kernel, initramfs
// and command line as the Mac's, then each device as its QEMU
// counterpart, and no UART anywhere.
func TestArgs(t *testing.T) {
	cfg := macConfig()
	p, err := vz.BuildPlan(cfg, Mac())
	if err != nil {
		t.Fatal(err)
	}
	args, err := Args(p, tcg, qemu.FilesFor(cfg))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"-name", "berth-web", "-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-monitor", "none",
		"-machine", "virt", "-accel", "tcg,thread=multi,tb-size=256", "-cpu", "cortex-a72",
		"-smp", "2", "-m", "512", "-kernel", "/k/Image", "-initrd", "/k/initrd",
		"-append", "console=hvc0 panic=-1 quiet berth.debug",
		"-chardev", "socket,id=console,path=/run/vm/web/console.sock,server=on,wait=on",
		"-device", "virtio-serial-pci,id=console-bus,max_ports=1",
		"-device", "virtconsole,chardev=console,bus=console-bus.0",
		"-drive", "if=none,id=disk-base,file=/d/base.ext4,format=raw,cache=writeback,werror=report,rerror=report,readonly=on",
		"-device", "virtio-blk-pci,drive=disk-base,serial=base",
		"-drive", "if=none,id=disk-upper,file=/d/upper.ext4,format=raw,cache=writeback,werror=report,rerror=report",
		"-device", "virtio-blk-pci,drive=disk-upper,serial=upper",
		"-chardev", "socket,id=agent,path=/run/vm/web/agent.sock,server=on,wait=off",
		"-device", "virtio-serial-pci,id=agent-bus",
		"-device", "virtserialport,chardev=agent,name=agent,bus=agent-bus.0",
		"-device", "virtio-rng-pci",
		"-device", "virtio-balloon-pci",
		"-netdev", "user,id=net6", "-device", "virtio-net-pci,netdev=net6,mac=02:00:00:00:00:01",
		"-netdev", "dgram,id=net7,local.type=unix,local.path=/run/vm/web/net1.sock,remote.type=unix,remote.path=/run/net/app.sock",
		"-device", "virtio-net-pci,netdev=net7,mac=02:00:00:00:00:02",
		"-qmp", "unix:/run/vm/web/qmp.sock,server=on,wait=off",
	}
	if !reflect.DeepEqual(args, want) {
		t.Fatalf("args:\n%s\nwant:\n%s", strings.Join(args, " "), strings.Join(want, " "))
	}
	for _, a := range args {
		if strings.Contains(a, "serial") && strings.HasPrefix(a, "-serial") || strings.Contains(a, "ttyAMA") || strings.Contains(a, "pl011") {
			t.Errorf("a UART in the Mac's device model: %q", a)
		}
	}
}

// Shared folders become vhost-user-fs-pci devices on the driver's
// virtiofsd sockets, in the plan's order, with the guest's RAM shared.
func TestArgsShares(t *testing.T) {
	cfg := macConfig()
	cfg.Disks, cfg.Networks, cfg.Cmdline = nil, nil, nil
	cfg.Shares = []hypervisor.Share{{Tag: "src", Path: "/"}, {Tag: "conf", Path: "/usr", ReadOnly: true}}
	p, err := vz.BuildPlan(cfg, Mac())
	if err != nil {
		t.Fatal(err)
	}
	args, err := Args(p, tcg, qemu.FilesFor(cfg))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(args, " ")
	for _, want := range []string{
		"-machine virt,memory-backend=mem -object memory-backend-memfd,id=mem,size=512M,share=on ",
		"-device virtio-balloon-pci -chardev socket,id=fs0,path=/run/vm/web/fs0.sock -device vhost-user-fs-pci,chardev=fs0,tag=src " +
			"-chardev socket,id=fs1,path=/run/vm/web/fs1.sock -device vhost-user-fs-pci,chardev=fs1,tag=conf -qmp",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("args:\n%s\nwant within:\n%s", got, want)
		}
	}
	f := qemu.FilesFor(cfg)
	f.Shares = f.Shares[:1]
	if _, err := Args(p, tcg, f); !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("a share without a socket: %v", err)
	}
}

func TestArgsRefuses(t *testing.T) {
	cfg := macConfig()
	p, err := vz.BuildPlan(cfg, Mac())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		mod  func(*vz.Plan, *qemu.Files)
		want string
	}{
		{"Rosetta exists only on a Mac", func(p *vz.Plan, _ *qemu.Files) {
			p.Devices = append(p.Devices, vz.Device{Kind: vz.DevRosetta, Tag: guestabi.RosettaTag})
		}, "only on a Mac"},
		{"another console than the driver's", func(_ *vz.Plan, f *qemu.Files) { f.Console = "/elsewhere" }, "not the driver's"},
		{"unknown device", func(p *vz.Plan, _ *qemu.Files) { p.Devices = append(p.Devices, vz.Device{Kind: "gpu"}) }, "gpu"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := p
			p.Devices = append([]vz.Device(nil), p.Devices...)
			f := qemu.FilesFor(cfg)
			tc.mod(&p, &f)
			_, err := Args(p, tcg, f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if !errors.Is(err, api.ErrUnsupported) && !errors.Is(err, api.ErrInvalidArgument) {
				t.Fatalf("err = %v: not a sentinel", err)
			}
		})
	}
}
