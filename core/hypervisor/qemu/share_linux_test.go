package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
)

// processesNaming lists the processes whose command line holds s.
func processesNaming(s string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			out = append(out, e.Name()+" "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// Start with shares fails cleanly, before or after virtiofsd has started:
// a clear error, no process serving the share, no run directory.
func TestShareStartFailures(t *testing.T) {
	needQEMU(t, hypervisor.AMD64)
	if _, err := New().virtiofsdPath(); err != nil {
		t.Skip(err)
	}
	kernel := filepath.Join(t.TempDir(), "vmlinuz")
	if err := os.WriteFile(kernel, []byte("not a kernel"), 0o600); err != nil {
		t.Fatal(err)
	}
	badArgs := WithArgs(func(cfg hypervisor.VMConfig, h Host, _ Files) ([]string, error) {
		args, err := Cmdline(cfg, h)
		return append(args, "-no-such-option"), err
	})
	cases := []struct {
		name     string
		driver   *Driver
		share    func(dir string) hypervisor.Share
		sentinel error
		says     string
		info     bool // Info().Shares declares virtio-fs
	}{
		{"no virtiofsd", New(WithVirtiofsd("/nonexistent/virtiofsd")), func(dir string) hypervisor.Share { return hypervisor.Share{Tag: "a", Path: dir} },
			api.ErrUnavailable, "bind mounts need virtiofsd (Debian: apt-get install qemu-system-common", false},
		{"share path missing", New(), func(dir string) hypervisor.Share { return hypervisor.Share{Tag: "a", Path: filepath.Join(dir, "gone")} },
			api.ErrInvalidArgument, "no such file or directory", true},
		{"share path is a file", New(), func(dir string) hypervisor.Share {
			p := filepath.Join(dir, "file")
			_ = os.WriteFile(p, nil, 0o600)
			return hypervisor.Share{Tag: "a", Path: p}
		}, api.ErrInvalidArgument, "is not a folder", true},
		// virtiofsd runs by the time QEMU refuses its arguments.
		{"QEMU fails to start", New(badArgs), func(dir string) hypervisor.Share { return hypervisor.Share{Tag: "a", Path: dir, ReadOnly: true} },
			api.ErrUnavailable, "no-such-option", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := slices.Contains(tc.driver.Info().Shares, hypervisor.ShareVirtioFS); got != tc.info {
				t.Errorf("Info().Shares = %v", tc.driver.Info().Shares)
			}
			dir := t.TempDir()
			s := tc.share(dir)
			cfg := hypervisor.VMConfig{ID: "share-fail", Arch: hypervisor.AMD64, CPUs: 1, MemoryMiB: 128, Kernel: kernel,
				RunDir: filepath.Join(t.TempDir(), "run"), Shares: []hypervisor.Share{{Tag: "ok", Path: t.TempDir()}, s}}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			m, err := tc.driver.Start(ctx, cfg)
			if err == nil {
				_ = m.Kill()
				t.Fatal("Start succeeded")
			}
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Start = %v, want %v saying %q", err, tc.sentinel, tc.says)
			}
			t.Logf("Start: %v", err)
			if _, err := os.Stat(cfg.RunDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("run directory left behind: %v", err)
			}
			for _, sh := range cfg.Shares {
				if ps := processesNaming("source=" + sh.Path); len(ps) > 0 {
					t.Errorf("processes left serving %s: %v", sh.Path, ps)
				}
			}
		})
	}
}
