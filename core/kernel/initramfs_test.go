package kernel

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/testenv"
)

// The cpio tool (GNU cpio) is an independent reader of what we write.
func TestCPIOReadableByGNUCpio(t *testing.T) {
	cpioBin := testenv.Tool(t, "cpio", "cpio")
	var buf bytes.Buffer
	c := newCPIO(&buf)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.mkdirAll("dev", 0o755))
	must(c.file("/init", 0o755, []byte("#!agent")))
	must(c.file("berth/modules/a.ko", 0o644, []byte("odd length!")))
	must(c.file("berth/modules.boot", 0o644, nil))
	must(c.close())
	if buf.Len()%4 != 0 {
		t.Fatalf("archive length %d not padded", buf.Len())
	}
	dir := t.TempDir()
	cmd := exec.Command(cpioBin, "-idm", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v: %s", err, out)
	}
	for name, want := range map[string]string{"init": "#!agent", "berth/modules/a.ko": "odd length!", "berth/modules.boot": ""} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "init")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("init mode %v, %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "berth")); err != nil || !fi.IsDir() {
		t.Errorf("parent directory berth not created: %v", err)
	}
}

// hostELF returns a small ELF of this machine to stand in for the agent.
func hostELF(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestBuildInitramfs(t *testing.T) {
	k := cachedKernel(t, "amd64")
	ctx := context.Background()
	cache := t.TempDir()
	agentBin := filepath.Join(t.TempDir(), "agent")
	data, _ := os.ReadFile(hostELF(t))
	if err := os.WriteFile(agentBin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := InitramfsOptions{Kernel: k, Agent: agentBin, CacheDir: cache}
	p1, err := BuildInitramfs(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	fi1, _ := os.Stat(p1)
	p2, err := BuildInitramfs(ctx, opts)
	if err != nil || p2 != p1 {
		t.Fatalf("second build: %s, %v (first %s)", p2, err, p1)
	}
	if fi2, _ := os.Stat(p2); !fi2.ModTime().Equal(fi1.ModTime()) {
		t.Fatal("an unchanged initramfs was rebuilt")
	}
	// A different agent is a different image.
	if err := os.WriteFile(agentBin, append(data, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	p3, err := BuildInitramfs(ctx, opts)
	if err != nil || p3 == p1 {
		t.Fatalf("changed agent: %s, %v", p3, err)
	}
	// What is inside, read by GNU cpio.
	cpioBin := testenv.Tool(t, "cpio", "cpio")
	f, _ := os.Open(p3)
	defer f.Close()
	cmd := exec.Command(cpioBin, "-t", "-v", "--quiet")
	cmd.Stdin = f
	list, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"init", "berth/modules.boot", "berth/modules.disk", "berth/modules.net", "berth/modules.extra", "berth/modules/virtio_console.ko", "berth/modules/evdev.ko"} {
		if !strings.Contains(string(list), " "+want+"\n") {
			t.Errorf("initramfs lacks %s:\n%s", want, list)
		}
	}
	// The device nodes PID 1 needs before it mounts devtmpfs (layout).
	for _, want := range []string{`crw-------.* 5, +1 .* dev/console\n`, `crw-rw-rw-.* 1, +3 .* dev/null\n`} {
		if !regexp.MustCompile(want).Match(list) {
			t.Errorf("initramfs lacks %s:\n%s", want, list)
		}
	}
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left in the cache: %s", e.Name())
		}
	}
}

func TestBuildInitramfsRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	k := Kernel{Arch: "arm64", Path: "/nonexistent"}
	_, err := BuildInitramfs(ctx, InitramfsOptions{Kernel: k, Agent: "/nonexistent/agent", CacheDir: t.TempDir()})
	if !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "make agent") {
		t.Fatalf("missing agent: %v", err)
	}
	// An amd64 binary offered for an arm64 guest.
	_, err = BuildInitramfs(ctx, InitramfsOptions{Kernel: k, Agent: hostELF(t), CacheDir: t.TempDir()})
	if !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), "arm64") {
		t.Fatalf("wrong-arch agent: %v", err)
	}
	script := filepath.Join(t.TempDir(), "agent")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	_, err = BuildInitramfs(ctx, InitramfsOptions{Kernel: Kernel{Arch: "amd64"}, Agent: script, CacheDir: t.TempDir()})
	if !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("non-ELF agent: %v", err)
	}
}

func TestPruneInitramfs(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	mk := func(name string, age time.Duration) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("x"), 0o644)
		os.Chtimes(p, now.Add(-age), now.Add(-age))
		return p
	}
	keep := mk("initramfs-amd64-new.cpio", 0)
	recent := mk("initramfs-amd64-recent.cpio", 10*time.Minute)
	old1 := mk("initramfs-amd64-old1.cpio", 2*time.Hour)
	old2 := mk("initramfs-amd64-old2.cpio", 3*time.Hour)
	old3 := mk("initramfs-amd64-old3.cpio", 4*time.Hour)
	other := mk("initramfs-arm64-old.cpio", 5*time.Hour)
	pruneInitramfs(dir, "amd64", keep, now)
	for p, want := range map[string]bool{keep: true, recent: true, old1: true, old2: false, old3: false, other: true} {
		_, err := os.Stat(p)
		if (err == nil) != want {
			t.Errorf("%s kept=%v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}

func TestStripModuleSignature(t *testing.T) {
	body := []byte("\x7fELF module body")
	sig := bytes.Repeat([]byte{0xAB}, 300)
	info := []byte{0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x2c} // sig_len 300, big-endian
	signed := append(append(append(append([]byte{}, body...), sig...), info...), moduleSigMagic...)
	badLen := append(append(append([]byte{}, body...), []byte{0, 0, 2, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}...), moduleSigMagic...)
	cases := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"signed", signed, body},
		{"unsigned", body, body},
		{"length past the start", badLen, badLen},
		{"only the magic", []byte(moduleSigMagic), []byte(moduleSigMagic)},
	}
	for _, tc := range cases {
		if got := stripModuleSignature(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: got %d bytes, want %d", tc.name, len(got), len(tc.want))
		}
	}
	// A real Debian module, if make deps fetched one: stripped, it is
	// still an ELF file and smaller by its signature.
	dir, err := Dir()
	if err != nil {
		return
	}
	k, err := LocateIn(dir, "amd64")
	if err != nil || k.ModulesDir == "" {
		return
	}
	mods, err := ResolveModules(k.ModulesDir, []string{"virtio_ring"})
	if err != nil || len(mods) == 0 {
		return
	}
	raw, _ := os.ReadFile(mods[0].Path)
	got := stripModuleSignature(raw)
	if len(got) >= len(raw) || !bytes.HasPrefix(got, []byte("\x7fELF")) {
		t.Fatalf("Debian's virtio_ring: %d -> %d bytes", len(raw), len(got))
	}
}
