package main

// End-to-end tests of mounts through the berth binary, with real VMs:
// tmpfs and read-only roots; binds over virtio-fs (QEMU's virtiofsd, the
// same device and guest driver a Mac's VM uses; what no Linux host shows
// is Apple's own virtio-fs server behind it); named volumes as disks.

import (
	"strings"
	"testing"
)

// expect runs berth and checks the exit code and that stdout and stderr
// hold the given pieces.
func expect(t *testing.T, home string, code int, want []string, args ...string) result {
	t.Helper()
	r := berth(t, home, args...)
	if r.code != code {
		t.Fatalf("berth %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, r.code, code, r.stdout, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Fatalf("berth %v: output lacks %q\nstdout: %s\nstderr: %s", args, w, r.stdout, r.stderr)
		}
	}
	return r
}

// TestMounts shares one daemon across its subtests, which run in order.
func TestMounts(t *testing.T) {
	home := vmHome(t)

	t.Run("read-only root with a tmpfs", func(t *testing.T) {
		r := expect(t, home, 0, []string{"/x: Read-only file system", "tmp ok", "8192", "noexec"},
			run("--rm", "--read-only", "--tmpfs", "/tmp:size=8m", "berth/demo", "sh", "-c",
				"touch /x; echo ok > /tmp/f && echo tmp $(cat /tmp/f); df -k /tmp | tail -1; grep ' /tmp ' /proc/mounts")...)
		if strings.Contains(r.stdout, "exec,") && !strings.Contains(r.stdout, "noexec") {
			t.Fatalf("tmpfs is not noexec: %s", r.stdout)
		}
	})
	t.Run("read-only root leaves /tmp read-only", func(t *testing.T) {
		expect(t, home, 0, []string{"/tmp/x: Read-only file system", "etc hosts written"},
			run("--rm", "--read-only", "berth/demo", "sh", "-c", "touch /tmp/x; grep -q 127.0.0.1 /etc/hosts && echo etc hosts written")...)
	})
	t.Run("tmpfs with exec and mode", func(t *testing.T) {
		expect(t, home, 0, []string{"ran from tmpfs", "drwxrwx---"},
			run("--rm", "--mount", "type=tmpfs,target=/work,tmpfs-mode=770", "--tmpfs", "/bin2:exec", "berth/demo", "sh", "-c",
				"printf '#!/bin/sh\\necho ran from tmpfs\\n' > /bin2/x && chmod +x /bin2/x && /bin2/x; ls -ld /work")...)
	})
}
