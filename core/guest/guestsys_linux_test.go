package guest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSys builds a sysfs tree under a temp dir from path -> content.
func fakeSys(t *testing.T, files map[string]string) string {
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFindChannel(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  Channel
		found bool
	}{
		{"QEMU: the agent port", map[string]string{
			"class/virtio-ports/vport0p0/name":  "org.qemu.guest_agent.0\n",
			"class/virtio-ports/vport1p1/name":  "agent\n",
			"bus/virtio/devices/virtio0/device": "0x0003\n",
		}, Channel{Port: "/dev/vport1p1"}, true},
		{"vz: a vsock device, a console without ports", map[string]string{
			"bus/virtio/devices/virtio0/device": "0x0003\n",
			"bus/virtio/devices/virtio1/device": "0x0002\n",
			"bus/virtio/devices/virtio2/device": "0x0013\n",
		}, Channel{Vsock: true}, true},
		{"nothing probed yet", map[string]string{
			"bus/virtio/devices/virtio0/device": "0x0003\n",
		}, Channel{}, false},
		{"another port only", map[string]string{
			"class/virtio-ports/vport0p1/name": "other\n",
		}, Channel{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := findChannel(fakeSys(t, tc.files), "agent")
			if got != tc.want || ok != tc.found {
				t.Fatalf("findChannel = %+v, %v; want %+v, %v", got, ok, tc.want, tc.found)
			}
		})
	}
}

func TestPowerButton(t *testing.T) {
	cases := []struct {
		name, devName, keys string
		want                bool
	}{
		{"ACPI button (QEMU x86)", "Power Button\n", "10000000000000 0\n", true},
		{"ACPI button without capabilities", "Power Button\n", "", true},
		{"gpio-keys power key (QEMU virt, vz's PL061)", "gpio-keys\n", "10000000000000 0\n", true},
		{"a keyboard without a power key", "AT Keyboard\n", "402000000 3803078f800d001 feefffdfffefffff fffffffffffffffe\n", false},
		{"a keyboard with one", "AT Keyboard\n", "402000000 3803078f800d001 fff0ffdfffefffff fffffffffffffffe\n", true},
		{"sleep button", "Sleep Button\n", "4000 0 0\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"event0/device/name": tc.devName}
			if tc.keys != "" {
				files["event0/device/capabilities/key"] = tc.keys
			}
			if got := isPowerButton(filepath.Join(fakeSys(t, files), "event0")); got != tc.want {
				t.Fatalf("isPowerButton = %v, want %v", got, tc.want)
			}
		})
	}
	if hasKey("", keyPower) || hasKey("zz 0", keyPower) || !hasKey("1 0 0", 128) {
		t.Error("hasKey edge cases")
	}
}

func TestX86Setup(t *testing.T) {
	x := ParseX86Setup("console=hvc0 panic=-1 quiet berth.rosetta=rosetta berth.debug\n")
	if x.RosettaTag != "rosetta" || x.Interpreter != "" || !x.Wanted() {
		t.Fatalf("%+v", x)
	}
	if x := ParseX86Setup("console=ttyAMA0 berth.x86-interpreter=/berth/x86/echo"); x.Interpreter != "/berth/x86/echo" || x.RosettaTag != "" {
		t.Fatalf("%+v", x)
	}
	if ParseX86Setup("console=hvc0 rosetta=1").Wanted() {
		t.Fatal("wanted without the berth. prefix")
	}
	// Apple's documented rule for Rosetta (update-binfmts --magic/--mask,
	// credentials yes, fix-binary yes), byte for byte.
	want := `:rosetta:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00:` +
		`\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/run/rosetta/rosetta:CF`
	if got := binfmtRule("rosetta", "/run/rosetta/rosetta"); got != want {
		t.Fatalf("rule\n got %s\nwant %s", got, want)
	}
	unescaped := func(s string) int { return len(s) - 3*strings.Count(s, `\x`) }
	if unescaped(x86Magic) != 20 || unescaped(x86Mask) != 20 {
		t.Fatalf("magic and mask are %d and %d bytes, want 20 each", unescaped(x86Magic), unescaped(x86Mask))
	}
}
