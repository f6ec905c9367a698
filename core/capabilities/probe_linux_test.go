package capabilities

import (
	"os"
	"path/filepath"
	"testing"
)

// TestProbeLinuxFakeRoot runs the Linux probe over a planted tree shaped like
// this CI machine (PVM) and checks what it concludes.
func TestProbeLinuxFakeRoot(t *testing.T) {
	root := t.TempDir()
	plant := func(p, content string) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plant("proc/cpuinfo", cpuinfoEPYC)
	plant("proc/meminfo", "MemTotal:       24576000 kB\nMemFree: 1 kB\n")
	plant("etc/os-release", "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n")
	plant("sys/module/kvm/refcnt", "1")
	plant("sys/module/kvm_pvm/refcnt", "1")
	plant("dev/kvm", "")

	c := probeLinux(root, "amd64")
	if c.CPUMHz != 2096.018 || c.CPUModel != "AMD EPYC" || c.CPUs != 2 || c.MemoryMiB != 24000 {
		t.Errorf("cpu/mem: %+v", c)
	}
	if c.OSName != "Debian GNU/Linux" || c.OSVersion != "12" {
		t.Errorf("os: %q %q", c.OSName, c.OSVersion)
	}
	if c.KVM != KVMPVM || c.Accelerator != AccelTCG || c.NestedVirtualization || c.Hypervisor != "qemu" {
		t.Errorf("virtualization: %+v", c)
	}
	if c.Rosetta || c.RosettaReason == "" {
		t.Errorf("rosetta: %v %q", c.Rosetta, c.RosettaReason)
	}
	if len(c.Problems) != 0 {
		t.Errorf("problems: %v", c.Problems)
	}
}
