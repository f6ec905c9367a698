package qemu

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
)

// BenchmarkShare measures sequential writes and reads of 64 MiB (dd,
// 1 MiB blocks) through a share, with virtiofsd's cache=auto (the
// default) and cache=always, against a tmpfs in the same guest. Each
// mode boots one VM. Run: go test -run '^$' -bench Share -benchtime 3x
// ./core/hypervisor/qemu/
func BenchmarkShare(b *testing.B) {
	f := hvtest.Get(b, hypervisor.AMD64)
	for _, cache := range []ShareCache{CacheAuto, CacheAlways} {
		d := New(WithShareCache(cache))
		cfg := hypervisor.VMConfig{ID: "bench", Arch: hypervisor.AMD64, CPUs: 1, MemoryMiB: 512, Kernel: f.Kernel.Path, Initrd: f.Initrd,
			Disks:  []hypervisor.Disk{{ID: "base", Path: f.BaseDisk, ReadOnly: true}},
			Shares: []hypervisor.Share{{Tag: "bench", Path: b.TempDir()}}, RunDir: filepath.Join(b.TempDir(), "run")}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		m, err := d.Start(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		c, err := hvtest.Connect(ctx, m)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		sh := func(id, script string) {
			n++
			id = fmt.Sprintf("%s-%d", id, n)
			p, err := c.Exec(ctx, "c", id, proto.ProcessSpec{Args: []string{"sh", "-c", script}, Env: []string{"PATH=/bin"}}, agent.Stdio{Stdout: true, Stderr: true})
			if err != nil {
				b.Fatal(err)
			}
			if r, err := hvtest.Collect(ctx, p, ""); err != nil || r.Exit.Code != 0 {
				b.Fatalf("%s: %+v, %v", script, r, err)
			}
		}
		if err := c.CreateContainer(ctx, proto.ContainerConfig{ID: "c", Base: proto.Device{Serial: "base"}}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Start(ctx, "c", "main", proto.ProcessSpec{Args: []string{"sleep", "3600"}}, agent.Stdio{}); err != nil {
			b.Fatal(err)
		}
		sh("mount", "mkdir -p /mnt/share /mnt/tmpfs && mount -t virtiofs bench /mnt/share && mount -t tmpfs -o size=200m tmpfs /mnt/tmpfs")
		targets := []string{"share"}
		if cache == CacheAuto {
			targets = append([]string{"tmpfs"}, targets...)
		}
		for _, target := range targets {
			name := target
			if target == "share" {
				name = "share-cache=" + string(cache)
			}
			for _, op := range []struct{ name, script string }{
				{"write", "dd if=/dev/zero of=/mnt/%s/f bs=1M count=64 conv=fsync 2>/dev/null"},
				{"read", "dd if=/mnt/%s/f of=/dev/null bs=1M 2>/dev/null"},
			} {
				b.Run(name+"/"+op.name, func(b *testing.B) {
					b.SetBytes(64 << 20)
					for i := 0; i < b.N; i++ {
						sh(fmt.Sprintf("%s-%s-%d", name, op.name, i), fmt.Sprintf(op.script, target))
					}
				})
			}
		}
		_ = hypervisor.Shutdown(ctx, m, c, 30*time.Second)
		cancel()
	}
}
