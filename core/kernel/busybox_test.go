package kernel

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/testenv"
)

// fakeELF is the header of an ELF executable for machine, and a tag.
func fakeELF(t *testing.T, m elf.Machine, tag string) []byte {
	t.Helper()
	h := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(m), Version: uint32(elf.EV_CURRENT), Ehsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	buf.WriteString(tag)
	return buf.Bytes()
}

func busyboxPin(url string, deb []byte, arch, version string) Pin {
	return Pin{Arch: arch, Package: "busybox-static", Version: version, URLs: []string{url}, SHA256: sha(deb), Size: int64(len(deb))}
}

func TestProvisionBusybox(t *testing.T) {
	bin := fakeELF(t, elf.EM_AARCH64, "v1")
	deb := buildDeb(t, map[string][]byte{"bin/busybox": bin, "usr/share/doc/busybox-static/copyright": []byte("GPL")})
	fs := &fileServer{body: deb}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	dir := t.TempDir()
	pin := busyboxPin(srv.URL+"/b.deb", deb, "arm64", "1:1.0-1")
	var done []string
	p, err := ProvisionBusybox(context.Background(), dir, pin, func(p api.Progress) {
		if p.Done {
			done = append(done, p.Action)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(done, ","); !strings.HasPrefix(got, "download") || !strings.HasSuffix(got, "verify,extract,extract") {
		t.Errorf("progress steps done: %v", done)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, bin) {
		t.Fatal("the provisioned busybox is not the package's bin/busybox")
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o755 {
		t.Errorf("busybox mode %v, want 0755", fi.Mode())
	}
	if strings.Contains(p, ":") {
		t.Errorf("path %s holds the epoch's colon", p)
	}
	var left []string
	ents, _ := os.ReadDir(filepath.Join(dir, "pinned-busybox", "arm64"))
	for _, e := range ents {
		if e.Name() != ".lock" {
			left = append(left, e.Name())
		}
	}
	if len(left) != 1 || left[0] != "1%3a1.0-1" {
		t.Errorf("cache holds %v, want only the unpacked version (no .deb, no staging)", left)
	}
	// Cached: no second request, even from a dead mirror.
	pin.URLs = []string{deadURL(t)}
	if p2, err := ProvisionBusybox(context.Background(), dir, pin, nil); err != nil || p2 != p || len(fs.ranges()) != 1 {
		t.Fatalf("second provision: %s, %v, %d requests", p2, err, len(fs.ranges()))
	}
	// A new pin replaces the old one.
	bin2 := fakeELF(t, elf.EM_AARCH64, "v2")
	deb2 := buildDeb(t, map[string][]byte{"bin/busybox": bin2})
	srv2 := httptest.NewServer(&fileServer{body: deb2})
	defer srv2.Close()
	p3, err := ProvisionBusybox(context.Background(), dir, busyboxPin(srv2.URL, deb2, "arm64", "1:2.0-1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p3); !bytes.Equal(got, bin2) {
		t.Fatal("new pin: wrong busybox")
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Error("the older pinned busybox was kept")
	}
	// apt's busybox and the pinned kernels share the cache, untouched.
	if m, _ := LoadManifest(dir); len(m.Busybox) != 0 || len(m.Pinned) != 0 {
		t.Errorf("manifest changed: %+v", m)
	}
}

func TestProvisionBusyboxFailures(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string][]byte
		raw     []byte
		wantErr error
		msg     string
	}{
		{name: "not a deb", raw: []byte("<html>captive portal</html>"), wantErr: api.ErrCorrupt, msg: "not a Debian package"},
		{name: "no busybox", files: map[string][]byte{"bin/sh": fakeELF(t, elf.EM_AARCH64, "")}, wantErr: api.ErrCorrupt, msg: "has no /bin/busybox"},
		{name: "wrong arch", files: map[string][]byte{"bin/busybox": fakeELF(t, elf.EM_X86_64, "")}, wantErr: api.ErrCorrupt, msg: "not arm64"},
		{name: "not ELF", files: map[string][]byte{"bin/busybox": []byte("#!/bin/sh\n")}, wantErr: api.ErrCorrupt, msg: "not a Linux executable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			deb := tc.raw
			if deb == nil {
				deb = buildDeb(t, tc.files)
			}
			srv := httptest.NewServer(&fileServer{body: deb})
			defer srv.Close()
			dir := t.TempDir()
			pin := busyboxPin(srv.URL, deb, "arm64", "1")
			_, err := ProvisionBusybox(context.Background(), dir, pin, nil)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "busybox-static 1 (arm64)") {
				t.Fatalf("err = %v, want %v containing %q", err, tc.wantErr, tc.msg)
			}
			if _, err := LocatePinnedBusybox(dir, pin); !errors.Is(err, api.ErrNotFound) {
				t.Fatalf("a failed provision left a busybox: %v", err)
			}
		})
	}
	t.Run("offline", func(t *testing.T) {
		_, err := ProvisionBusybox(context.Background(), t.TempDir(), busyboxPin(deadURL(t), []byte("x"), "amd64", "1"), nil)
		if !errors.Is(err, api.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
}

// The pins name what Debian's signed metadata says, while apt still
// lists the version.
func TestBusyboxPins(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			p, ok := BusyboxPins[arch]
			if !ok || p.Arch != arch || p.Package != "busybox-static" || !isSHA256(p.SHA256) || p.Size <= 0 {
				t.Fatalf("pin %+v", p)
			}
			if len(p.URLs) < 2 || !strings.Contains(p.URLs[len(p.URLs)-1], "snapshot.debian.org/file/") {
				t.Error("the pin needs a mirror that keeps old versions (snapshot.debian.org)")
			}
			for _, u := range p.URLs {
				if !strings.HasPrefix(u, "https://") {
					t.Errorf("URL %s is not https", u)
				}
			}
			_, ver, _ := strings.Cut(p.Version, ":")
			if want := p.Package + "_" + ver + "_" + arch + ".deb"; filepath.Base(p.URLs[0]) != want {
				t.Errorf("first URL %s is not %s", p.URLs[0], want)
			}
			out, err := exec.Command("apt-cache", "show", "--no-all-versions", p.Package+":"+arch).Output()
			if err != nil || !strings.Contains(string(out), "Version: "+p.Version) {
				t.Skipf("apt does not list %s %s %s (other Debian lists?): the pin is checked by the provisioning test only", p.Package, p.Version, arch)
			}
			if sum := parseField(out, "SHA256"); sum != p.SHA256 {
				t.Errorf("apt says sha256 %s, pinned %s", sum, p.SHA256)
			}
			if size := parseField(out, "Size"); size != strconv.FormatInt(p.Size, 10) {
				t.Errorf("apt says size %s, pinned %d", size, p.Size)
			}
			if fn := parseField(out, "Filename"); !strings.HasSuffix(p.URLs[0], "/"+fn) {
				t.Errorf("apt's Filename %s is not in the first URL %s", fn, p.URLs[0])
			}
		})
	}
}

// make deps provisions the pinned busyboxes through the code a Mac runs
// (packaging/kernels); they are byte for byte apt's when versions agree.
func TestBusyboxPinsProvisioned(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("make deps provisions the pins on Linux; a Mac downloads them when it first builds the demo image")
	}
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			pin := BusyboxPins[arch]
			p, err := LocatePinnedBusybox(dir, pin)
			if err != nil {
				testenv.Missing(t, err.Error()+": run make deps (go run ./packaging/kernels)")
			}
			if err := checkELFArch(p, arch); err != nil {
				t.Fatal(err)
			}
			m, _ := LoadManifest(dir)
			e, ok := m.Busybox[arch]
			if !ok || e.Version != pin.Version {
				t.Skipf("apt's %s busybox-static is %q, the pin %s: not compared", arch, e.Version, pin.Version)
			}
			x, _ := os.ReadFile(p)
			y, _ := os.ReadFile(filepath.Join(dir, e.Path))
			if len(x) == 0 || !bytes.Equal(x, y) {
				t.Errorf("pinned busybox %s differs from apt's %s", p, e.Path)
			}
		})
	}
}
