package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/testenv"
)

// fakeBusyboxDeb is a Debian package (ar, uncompressed data.tar) whose
// bin/busybox is an ELF header for arch.
func fakeBusyboxDeb(t *testing.T, arch string) (deb, bin []byte) {
	t.Helper()
	m := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	h := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(m), Version: uint32(elf.EV_CURRENT), Ehsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	bin = b.Bytes()
	var data bytes.Buffer
	tw := tar.NewWriter(&data)
	_ = tw.WriteHeader(&tar.Header{Name: "./bin/", Typeflag: tar.TypeDir, Mode: 0o755})
	_ = tw.WriteHeader(&tar.Header{Name: "./bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))})
	_, _ = tw.Write(bin)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	for _, mem := range []struct {
		name string
		body []byte
	}{{"debian-binary", []byte("2.0\n")}, {"data.tar", data.Bytes()}} {
		fmt.Fprintf(&ar, "%-16s%-12s%-6s%-6s%-8s%-10d`\n", mem.name, "0", "0", "0", "100644", len(mem.body))
		ar.Write(mem.body)
		if len(mem.body)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	return ar.Bytes(), bin
}

func pinFor(url string, deb []byte, arch string) kernel.Pin {
	sum := sha256.Sum256(deb)
	return kernel.Pin{Arch: arch, Package: "busybox-static", Version: "1:9.9-1", URLs: []string{url},
		SHA256: hex.EncodeToString(sum[:]), Size: int64(len(deb))}
}

func TestFindBusybox(t *testing.T) {
	deb, bin := fakeBusyboxDeb(t, "arm64")
	var requests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		http.ServeContent(w, r, "b.deb", time.Time{}, bytes.NewReader(deb))
	}))
	defer srv.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/b.deb"
	l.Close()

	work := t.TempDir()
	system := filepath.Join(work, "busybox")
	if err := os.WriteFile(system, []byte("system"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A cache whose manifest names apt's arm64 busybox (make deps on Linux).
	aptCache := filepath.Join(work, "apt")
	aptBin := filepath.Join(aptCache, "arm64", "busybox_1", "bin", "busybox")
	if err := os.MkdirAll(filepath.Dir(aptBin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(aptBin, []byte("apt"), 0o755); err != nil {
		t.Fatal(err)
	}
	m, _ := kernel.LoadManifest(aptCache)
	m.Busybox["arm64"] = kernel.Entry{Package: "busybox-static", Version: "1", Path: filepath.Join("arm64", "busybox_1", "bin", "busybox")}
	if err := m.Save(aptCache); err != nil {
		t.Fatal(err)
	}
	macCache := filepath.Join(work, "mac")
	good := map[string]kernel.Pin{"arm64": pinFor(srv.URL+"/b.deb", deb, "arm64")}
	down := map[string]kernel.Pin{"arm64": pinFor(dead, deb, "arm64")}

	cases := []struct {
		name     string
		s        sources
		want     string // path, or "pinned": the pinned busybox in s.dir
		requests int
		err      error
	}{
		{"debian, same arch: the system's", sources{dir: aptCache, goos: "linux", goarch: "arm64", system: system}, system, 0, nil},
		{"debian, other arch: apt's in the cache", sources{dir: aptCache, goos: "linux", goarch: "amd64", system: system}, aptBin, 0, nil},
		{"mac: apt's if a cache has it", sources{dir: aptCache, goos: "darwin", goarch: "arm64", system: system, pins: down}, aptBin, 0, nil},
		{"linux without busybox-static", sources{dir: filepath.Join(work, "bare"), goos: "linux", goarch: "arm64", system: filepath.Join(work, "none"), pins: good}, "pinned", 1, nil},
		{"mac, offline", sources{dir: macCache, goos: "darwin", goarch: "arm64", system: system, pins: down}, "", 1, api.ErrUnavailable},
		{"mac: the pinned download", sources{dir: macCache, goos: "darwin", goarch: "arm64", system: system, pins: good}, "pinned", 2, nil},
		{"mac: the pinned one, cached", sources{dir: macCache, goos: "darwin", goarch: "arm64", system: system, pins: down}, "pinned", 2, nil},
		{"no pin for the arch", sources{dir: macCache, goos: "darwin", goarch: "arm64", system: system, pins: good}, "", 2, api.ErrUnsupported},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			arch := "arm64"
			if tc.err == api.ErrUnsupported {
				arch = "amd64"
			}
			got, err := findBusybox(context.Background(), tc.s, arch)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if tc.err == api.ErrUnavailable && !strings.Contains(err.Error(), "-busybox PATH") {
					t.Errorf("offline error %q does not say how to do without the download", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "pinned" {
				want, _ = kernel.LocatePinnedBusybox(tc.s.dir, tc.s.pins["arm64"])
				if b, _ := os.ReadFile(got); !bytes.Equal(b, bin) {
					t.Errorf("%s is not the package's busybox", got)
				}
			}
			if got != want || requests != tc.requests {
				t.Fatalf("got %q after %d downloads, want %q after %d", got, requests, want, tc.requests)
			}
		})
	}
}

// The embedded applet list is what the pinned busybox says, so an image
// built where busybox cannot run (a Mac, another arch) has the same links.
func TestFallbackApplets(t *testing.T) {
	pin := kernel.BusyboxPins[runtime.GOARCH]
	if !strings.Contains(appletsList, pin.Version) {
		t.Fatalf("applets.txt does not name the pinned version %s: regenerate it with busybox --list-full", pin.Version)
	}
	list := fallbackApplets()
	for _, want := range []string{"bin/sh", "bin/sleep", "bin/cat", "usr/bin/env", "usr/bin/wget", "sbin/ip", "bin/hostname", "bin/uname"} {
		if !slices.Contains(list, want) {
			t.Errorf("fallback applets lack %s", want)
		}
	}
	if runtime.GOOS != "linux" {
		t.Skip("busybox runs on Linux only")
	}
	dir, err := kernel.Dir()
	if err != nil {
		t.Fatal(err)
	}
	p, err := kernel.LocatePinnedBusybox(dir, pin)
	if err != nil {
		testenv.Missing(t, err.Error()+": run make deps")
	}
	out, err := exec.Command(p, "--list-full").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(out)); !slices.Equal(got, list) {
		t.Errorf("the pinned busybox lists %d applets, applets.txt %d: regenerate applets.txt", len(got), len(list))
	}
}
