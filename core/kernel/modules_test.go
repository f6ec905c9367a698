package kernel

import (
	"strings"
	"testing"
	"time"
)

func names(ms []Module) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Name)
	}
	return strings.Join(s, " ")
}

// Against the real Debian kernels in the cache (make deps).
func TestResolveModulesDebian(t *testing.T) {
	for _, tc := range []struct {
		arch   string
		wanted []string
		want   string
	}{
		// cloud-amd64: ext4 is built in; virtio is modular.
		{"amd64", allGroups(), "virtio_ring virtio virtio_mmio virtio_console virtio_blk overlay fuse virtiofs failover net_failover virtio_net button evdev virtio_balloon"},
		// arm64: virtio core built in, ext4 modular with crc32c as a soft dependency.
		{"arm64", []string{"virtio_mmio", "ext4"}, "virtio_mmio crc32c_generic jbd2 mbcache crc16 ext4"},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			k := cachedKernel(t, tc.arch)
			start := time.Now()
			ms, err := ResolveModules(k.ModulesDir, tc.wanted)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("resolved in %v", time.Since(start))
			if got := names(ms); got != tc.want {
				t.Fatalf("order:\n got  %s\n want %s", got, tc.want)
			}
		})
	}
	t.Run("missing module", func(t *testing.T) {
		k := cachedKernel(t, "amd64")
		_, err := ResolveModules(k.ModulesDir, []string{"no_such_module"})
		if err == nil || !strings.Contains(err.Error(), "no_such_module") {
			t.Fatalf("err = %v", err)
		}
	})
}

func allGroups() []string {
	var all []string
	for _, g := range DefaultModuleGroups {
		all = append(all, g.Modules...)
	}
	return all
}
