package main

import (
	"slices"
	"testing"
)

func TestLaunchArgs(t *testing.T) {
	const (
		appExe = "/Applications/Berth.app/Contents/MacOS/Berth"
		helper = "/Applications/Berth.app/Contents/Helpers/berth"
	)
	cases := []struct {
		name       string
		argv0, exe string
		args, want []string
	}{
		{"opened by LaunchServices", appExe, appExe, nil, []string{"menubar"}},
		{"opened with a process serial number", appExe, appExe, []string{"-psn_0_1234567"}, []string{"menubar"}},
		{"a berth command through the app's executable", appExe, appExe, []string{"ps", "-a"}, []string{"ps", "-a"}},
		{"the daemon the app started", appExe, appExe, []string{"daemon"}, []string{"daemon"}},
		{"a VM host", helper, helper, []string{"vm-host", "/run/x"}, []string{"vm-host", "/run/x"}},
		{"a command with a stray -psn", appExe, appExe, []string{"-psn_0_1", "ps"}, []string{"ps"}},
		{"through the helper link, no arguments", helper, helper, nil, nil},
		{"through a link in PATH", "berth", "/usr/local/bin/berth", nil, nil},
		{"link in PATH resolved by the OS", "berth", appExe, nil, nil},
		{"a plain berth", "/usr/local/bin/berth", "/usr/local/bin/berth", nil, nil},
		{"a binary named Berth outside a bundle", "/tmp/Berth", "/tmp/Berth", nil, nil},
		{"Berth in another bundle folder", "/x/Berth.app/Contents/Resources/Berth", "/x/Berth.app/Contents/Resources/Berth", nil, nil},
		{"MacOS/Berth not in a .app", "/x/Berth/Contents/MacOS/Berth", "/x/Berth/Contents/MacOS/Berth", nil, nil},
		{"a renamed bundle", "/Applications/Berth Beta.app/Contents/MacOS/Berth", "/Applications/Berth Beta.app/Contents/MacOS/Berth", nil, []string{"menubar"}},
		{"argv[0] relative", "./Berth", appExe, nil, []string{"menubar"}},
		{"-psn outside the bundle is an argument", "berth", "/usr/local/bin/berth", []string{"-psn_0_1"}, []string{"-psn_0_1"}},
		{"no executable path", appExe, "", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := launchArgs(tc.argv0, tc.exe, tc.args); !slices.Equal(got, tc.want) {
				t.Errorf("launchArgs(%q, %q, %q) = %q, want %q", tc.argv0, tc.exe, tc.args, got, tc.want)
			}
		})
	}
}
