package capabilities

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

func TestMacOSVersion(t *testing.T) {
	cases := []struct {
		product, darwin string
		want            string // "" for an error
	}{
		{"15.1.1", "24.1.0", "15.1.1"},
		{"14.6", "23.6.0", "14.6"},
		{"13.0", "22.1.0", "13.0"},
		{"26.0", "25.0.0", "26.0"},
		{"26.0.1", "25.0.0", "26.0.1"},
		{"26.2", "25.2.0", "26.2"},
		{"27.1", "26.1.0", "27.1"},
		// Built with an SDK older than 26: macOS 26 reads as 16.x.
		{"16.0", "25.0.0", "26.0"},
		{"16.1", "25.1.0", "26.1"},
		{"16.1.2", "25.1.0", "26.1.2"},
		{"16.0", "25.1.0", "26.1"}, // a shim that keeps no minor
		{"10.16", "20.1.0", "11.0"},
		// One of the two unreadable.
		{"", "25.0.0", "26.0"},
		{"garbage", "24.2.0", "15.2"},
		{"", "22.1.0", "13.0"},
		{"15.1", "", "15.1"},
		{"16.0", "not a version", "16.0"},
		// Before macOS 11 the kernel is not mapped: the product stands.
		{"10.15.7", "19.6.0", "10.15.7"},
		{"", "", ""},
		{"x", "19.6.0", ""},
	}
	for _, tc := range cases {
		t.Run(tc.product+"/"+tc.darwin, func(t *testing.T) {
			got, err := MacOSVersion(tc.product, tc.darwin)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("MacOSVersion = %v, want an error", got)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("MacOSVersion(%q, %q) = %v, %v; want %s", tc.product, tc.darwin, got, err, tc.want)
			}
		})
	}
}

func TestMacBuild(t *testing.T) {
	cases := []struct {
		name string
		f    MacBuildFacts
		ok   bool
	}{
		{"arm64 on apple silicon", MacBuildFacts{Arch: "arm64", AppleSilicon: true}, true},
		{"amd64 under rosetta", MacBuildFacts{Arch: "amd64", Translated: true, AppleSilicon: true}, false},
		{"amd64 on apple silicon, translation unknown", MacBuildFacts{Arch: "amd64", AppleSilicon: true}, false},
		{"amd64 translated, chip unknown", MacBuildFacts{Arch: "amd64", Translated: true}, false},
		{"translated whatever the arch", MacBuildFacts{Arch: "arm64", Translated: true}, false},
		{"amd64 on an intel mac", MacBuildFacts{Arch: "amd64"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason := MacBuild(tc.f)
			if ok != tc.ok || (reason == "") != ok {
				t.Fatalf("MacBuild = %v, %q; want %v", ok, reason, tc.ok)
			}
			if ok {
				return
			}
			for _, w := range []string{"Rosetta", "cannot run VMs", "install the arm64 (Apple silicon) build of Berth"} {
				if !strings.Contains(reason, w) {
					t.Errorf("reason %q lacks %q", reason, w)
				}
			}
			err := CheckHost(api.Capabilities{Unsupported: reason})
			if !errors.Is(err, api.ErrUnsupported) || !strings.Contains(err.Error(), "arm64 (Apple silicon) build") {
				t.Errorf("CheckHost = %v", err)
			}
		})
	}
	if err := CheckHost(api.Capabilities{}); err != nil {
		t.Errorf("CheckHost of a good host: %v", err)
	}
}

func TestMacSDKProblem(t *testing.T) {
	for _, tc := range []struct {
		sdk  Version
		warn bool
	}{{Version{}, false}, {Version{14, 5, 0}, true}, {Version{12, 0, 0}, true}, {Version{15, 0, 0}, false}, {Version{26, 1, 0}, false}} {
		got := MacSDKProblem(tc.sdk)
		if (got != "") != tc.warn || (tc.warn && !strings.Contains(got, "macOS "+tc.sdk.String()+" SDK")) {
			t.Errorf("MacSDKProblem(%v) = %q, want warning %v", tc.sdk, got, tc.warn)
		}
	}
}

// machoWith is a minimal 64-bit little-endian Mach-O executable holding
// the given load commands.
func machoWith(cpu macho.Cpu, cmds ...[]uint32) []byte {
	var body bytes.Buffer
	for _, c := range cmds {
		_ = binary.Write(&body, binary.LittleEndian, c)
	}
	var out bytes.Buffer
	_ = binary.Write(&out, binary.LittleEndian, macho.FileHeader{Magic: macho.Magic64, Cpu: cpu, Type: macho.TypeExec,
		Ncmd: uint32(len(cmds)), Cmdsz: uint32(body.Len())})
	_ = binary.Write(&out, binary.LittleEndian, uint32(0)) // reserved word of mach_header_64
	out.Write(body.Bytes())
	return out.Bytes()
}

func ver(major, minor, patch uint32) uint32 { return major<<16 | minor<<8 | patch }

func TestReadMachOSDK(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	buildVersion := func(minos, sdk uint32) []uint32 { return []uint32{lcBuildVersion, 24, 1, minos, sdk, 0} }
	uuid := []uint32{0x1b, 24, 1, 2, 3, 4}
	// A universal binary: amd64 built with SDK 14.0, arm64 with 15.4.
	fat := func() []byte {
		slices := [][]byte{machoWith(macho.CpuAmd64, buildVersion(ver(13, 0, 0), ver(14, 0, 0))),
			machoWith(macho.CpuArm64, buildVersion(ver(13, 0, 0), ver(15, 4, 0)))}
		var b bytes.Buffer
		_ = binary.Write(&b, binary.BigEndian, []uint32{macho.MagicFat, uint32(len(slices))})
		off := uint32(4096)
		for i, sl := range slices {
			cpu := []macho.Cpu{macho.CpuAmd64, macho.CpuArm64}[i]
			_ = binary.Write(&b, binary.BigEndian, []uint32{uint32(cpu), 0, off, uint32(len(sl)), 12})
			off += 4096
		}
		for i, sl := range slices {
			b.Write(make([]byte, 4096*(i+1)-b.Len()))
			b.Write(sl)
		}
		return b.Bytes()
	}()
	cases := []struct {
		name, file string
		want       string // "" for an error
	}{
		{"build version", write("a", machoWith(macho.CpuArm64, uuid, buildVersion(ver(13, 0, 0), ver(15, 2, 0)))), "15.2"},
		{"macOS 26 SDK", write("b", machoWith(macho.CpuArm64, buildVersion(ver(13, 0, 0), ver(26, 1, 3)))), "26.1.3"},
		{"version min", write("c", machoWith(macho.CpuAmd64, []uint32{lcVersionMinMacOSX, 16, ver(10, 13, 0), ver(14, 5, 0)})), "14.5"},
		{"universal", write("f", fat), "15.4"},
		{"no version command", write("d", machoWith(macho.CpuArm64, uuid)), ""},
		{"not mach-o", write("e", []byte("#!/bin/sh\n")), ""},
		{"missing", filepath.Join(dir, "nope"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadMachOSDK(tc.file, "arm64")
			if tc.want == "" {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

// A real Mach-O from Go's own linker: internal linking (no cgo) writes
// LC_BUILD_VERSION with SDK 12.0. Berth itself links externally (vz is
// cgo), where Apple's linker writes the SDK it used.
func TestReadMachOSDKGoBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a darwin binary")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"arm64"} {
		out := filepath.Join(dir, "hello-"+arch)
		cmd := exec.Command("go", "build", "-o", out, src)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=darwin", "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, b)
		}
		got, err := ReadMachOSDK(out, arch)
		if err != nil || got != (Version{12, 0, 0}) {
			t.Errorf("%s: %v, %v; want 12.0", arch, got, err)
		}
	}
}
