package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

// system info on a Mac: a build that cannot run VMs says so first, and
// the SDK berth was built with shows beside the OS.
func TestPrintSystemInfoMac(t *testing.T) {
	cases := []struct {
		name   string
		host   api.Capabilities
		want   []string
		absent []string
	}{
		{"arm64 build", api.Capabilities{OS: "darwin", OSName: "macOS", OSVersion: "26.0", Arch: "arm64", Kernel: "25.0.0", BuildSDK: "26.0"},
			[]string{" OS:", "macOS 26.0 (darwin/arm64, kernel 25.0.0)", "Built with:", "macOS 26.0 SDK"}, []string{"Error:"}},
		{"amd64 build under rosetta", api.Capabilities{OS: "darwin", OSName: "macOS", OSVersion: "15.2", Arch: "amd64", BuildSDK: "14.5",
			Unsupported: "this berth is the amd64 (Intel) build, running under Rosetta on an Apple silicon Mac, where it cannot run VMs: install the arm64 (Apple silicon) build of Berth",
			Problems:    []string{"this berth was built with the macOS 14.5 SDK"}},
			[]string{"Host:\n Error:", "install the arm64 (Apple silicon) build of Berth", "Warning:", "macOS 14.5 SDK"}, nil},
		{"linux", api.Capabilities{OS: "linux", OSName: "Debian GNU/Linux", OSVersion: "12", Arch: "amd64"},
			[]string{"Debian GNU/Linux 12"}, []string{"Error:", "Built with:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := printSystemInfo(&b, api.SystemInfo{Host: tc.host}); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(b.String(), a) {
					t.Errorf("output has %q:\n%s", a, b.String())
				}
			}
		})
	}
}
