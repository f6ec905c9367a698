package network

import (
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

func TestDecideMode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		caps    api.Capabilities
		root    bool
		mode    string
		uplink  string
		reasons []string // pieces of Reason
	}{
		{"Linux", api.Capabilities{OS: "linux", OSVersion: "12"}, false, ModeUser, "", []string{"unprivileged process per network"}},
		{"Linux as root", api.Capabilities{OS: "linux", OSVersion: "12"}, true, ModeUser, "", []string{"unprivileged process per network"}},
		{"macOS 26", api.Capabilities{OS: "darwin", OSVersion: "26.1"}, false, ModeVmnet, "vmnet",
			[]string{"macOS 26 and later", "without root", "falls back to user-mode NAT"}},
		{"macOS 26 seen by an old SDK", api.Capabilities{OS: "darwin", OSVersion: "16.0"}, false, ModeVmnet, "vmnet", []string{"macOS 26 and later"}},
		{"macOS 15 as root", api.Capabilities{OS: "darwin", OSVersion: "15.4.1"}, true, ModeVmnet, "vmnet", []string{"running as root, which vmnet requires on macOS 15"}},
		{"macOS 15", api.Capabilities{OS: "darwin", OSVersion: "15.4.1"}, false, ModeUser, "",
			[]string{"vmnet on macOS 15 needs root", "user-mode networking needs no privileges", "unprivileged process per network"}},
		{"macOS 13", api.Capabilities{OS: "darwin", OSVersion: "13"}, false, ModeUser, "", []string{"vmnet on macOS 13 needs root"}},
		{"macOS 12 as root", api.Capabilities{OS: "darwin", OSVersion: "12.7"}, true, ModeUser, "", []string{"older than Berth's minimum"}},
		{"an unknown macOS", api.Capabilities{OS: "darwin"}, true, ModeUser, "", []string{"the macOS version is unknown", "needs no privileges"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DecideMode(tc.caps, tc.root)
			if got.Mode != tc.mode || Uplink(got) != tc.uplink || got.Engine == "" {
				t.Fatalf("%+v (uplink %q); want mode %q, uplink %q", got, Uplink(got), tc.mode, tc.uplink)
			}
			for _, r := range tc.reasons {
				if !strings.Contains(got.Reason, r) {
					t.Errorf("reason %q does not say %q", got.Reason, r)
				}
			}
		})
	}
	if got := ChooseMode(api.Capabilities{OS: "linux"}); got.Mode != ModeUser {
		t.Fatalf("ChooseMode here: %+v", got)
	}
}
