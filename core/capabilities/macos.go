package capabilities

import (
	"debug/macho"
	"errors"
	"fmt"

	"github.com/berthvm/berth/core/api"
)

// MacOSVersion reconciles the two versions a Mac reports: kern.osproductversion
// (product, "15.1.1") and kern.osrelease (darwin, the kernel's "24.1.0").
//
// A binary built with an SDK older than macOS 26 reads macOS 26 as "16.x"
// from kern.osproductversion (Apple's compatibility shim, as SDKs before 11
// read macOS 11 as 10.16); the kernel's version is not shimmed: Darwin
// 20 to 24 are macOS 11 to 15, Darwin 25 is macOS 26, and each later
// Darwin is the next macOS. So the product version is trusted when its
// major agrees with the kernel's, and otherwise the kernel gives the
// major; its minor is macOS's from Darwin 23 (macOS 14) on.
func MacOSVersion(product, darwin string) (Version, error) {
	pv, perr := ParseVersion(product)
	dv, derr := ParseVersion(darwin)
	major := 0
	if derr == nil {
		major = macOSMajor(dv.Major)
	}
	switch {
	case major == 0 && perr != nil:
		return Version{}, fmt.Errorf("macOS version: neither kern.osproductversion %q nor kern.osrelease %q is a known version", product, darwin)
	case major == 0 || (perr == nil && pv.Major == major):
		return pv, nil
	}
	v := Version{Major: major}
	if dv.Major >= 23 {
		v.Minor = dv.Minor
		if perr == nil && pv.Minor == dv.Minor {
			v.Patch = pv.Patch
		}
	}
	return v, nil
}

// macOSMajor is the macOS major version of a Darwin major version, 0 for
// those before macOS 11 (10.x), which Berth does not tell apart.
func macOSMajor(darwin int) int {
	switch {
	case darwin >= 25:
		return darwin + 1
	case darwin >= 20:
		return darwin - 9
	}
	return 0
}

// MacBuildFacts say which berth build runs on which Mac.
type MacBuildFacts struct {
	Arch         string // GOARCH of the running berth binary
	Translated   bool   // sysctl.proc_translated is 1: running under Rosetta
	AppleSilicon bool   // hw.optional.arm64 is 1
}

// MacBuild decides whether this build of berth can run VMs on this Mac.
// An amd64 (Intel) build on Apple silicon runs only under Rosetta, and a
// translated process cannot use the Virtualization framework to run the
// Mac's own arm64 guests: the arm64 build is the one to install.
func MacBuild(f MacBuildFacts) (bool, string) {
	const fix = "install the arm64 (Apple silicon) build of Berth, or build it with an arm64 Go (make build)"
	switch {
	case f.Arch == "amd64" && (f.Translated || f.AppleSilicon):
		return false, "this berth is the amd64 (Intel) build, running under Rosetta on an Apple silicon Mac, where it cannot run VMs: " + fix
	case f.Translated:
		return false, "this berth runs translated by Rosetta, where it cannot run VMs: " + fix
	}
	return true, ""
}

// CheckHost fails when the probe found that Berth cannot run containers
// on this host at all (api.Capabilities.Unsupported says why).
func CheckHost(c api.Capabilities) error {
	if c.Unsupported == "" {
		return nil
	}
	return fmt.Errorf("%s: %w", c.Unsupported, api.ErrUnsupported)
}

// NestedMinSDK is the oldest macOS SDK that compiles in the Virtualization
// framework's nested virtualization API (vz guards it with the SDK
// version: built with an older SDK, it reads as unsupported).
const NestedMinSDK = 15

// MacSDKProblem warns when berth was built with a macOS SDK older than
// NestedMinSDK; "" when the SDK is recent enough or unknown (zero).
func MacSDKProblem(sdk Version) string {
	if sdk == (Version{}) || sdk.Major >= NestedMinSDK {
		return ""
	}
	return fmt.Sprintf("this berth was built with the macOS %s SDK, which leaves out the Virtualization framework's macOS %d API: nested virtualization reads as unsupported; rebuild it with Xcode's command line tools for macOS %d or later (make deps checks)",
		sdk, NestedMinSDK, NestedMinSDK)
}

// Mach-O load commands that carry the SDK version (debug/macho keeps them
// as raw bytes).
const (
	lcVersionMinMacOSX = 0x24 // version_min_command: cmd, cmdsize, version, sdk
	lcBuildVersion     = 0x32 // build_version_command: cmd, cmdsize, platform, minos, sdk, ntools
)

// ReadMachOSDK returns the macOS SDK version the executable at path was
// linked against (LC_BUILD_VERSION, or LC_VERSION_MIN_MACOSX in older
// binaries). A universal binary is read for goarch.
func ReadMachOSDK(path, goarch string) (Version, error) {
	f, err := macho.Open(path)
	if err != nil {
		var ferr *macho.FormatError
		if !errors.As(err, &ferr) {
			return Version{}, fmt.Errorf("read the SDK version of %s: %w", path, err)
		}
		fat, ferr2 := macho.OpenFat(path)
		if ferr2 != nil {
			return Version{}, fmt.Errorf("read the SDK version of %s: %w", path, err)
		}
		defer fat.Close()
		cpu := map[string]macho.Cpu{"arm64": macho.CpuArm64, "amd64": macho.CpuAmd64}[goarch]
		for _, a := range fat.Arches {
			if a.Cpu == cpu {
				return machoSDK(a.File)
			}
		}
		return Version{}, fmt.Errorf("read the SDK version of %s: no %s slice in the universal binary", path, goarch)
	}
	defer f.Close()
	return machoSDK(f)
}

func machoSDK(f *macho.File) (Version, error) {
	for _, l := range f.Loads {
		raw := l.Raw()
		if len(raw) < 8 {
			continue
		}
		var sdk uint32
		switch f.ByteOrder.Uint32(raw[0:4]) {
		case lcBuildVersion:
			if len(raw) < 20 {
				continue
			}
			sdk = f.ByteOrder.Uint32(raw[16:20])
		case lcVersionMinMacOSX:
			if len(raw) < 16 {
				continue
			}
			sdk = f.ByteOrder.Uint32(raw[12:16])
		default:
			continue
		}
		return decodeMachOVersion(sdk), nil
	}
	return Version{}, errors.New("no LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX load command")
}

// decodeMachOVersion reads X.Y.Z packed as xxxx.yy.zz in nibbles.
func decodeMachOVersion(v uint32) Version {
	return Version{Major: int(v >> 16), Minor: int(v >> 8 & 0xff), Patch: int(v & 0xff)}
}
