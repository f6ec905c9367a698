package agent

import (
	"strings"
	"testing"
)

func TestBundleDirs(t *testing.T) {
	cases := []struct {
		dir  string
		want []string
	}{
		{"/usr/local/bin", []string{"/usr/local/bin"}},
		{"/Applications/Berth.app/Contents/Helpers", []string{"/Applications/Berth.app/Contents/Helpers", "/Applications/Berth.app/Contents/Resources"}},
		{"/opt/Helpers", []string{"/opt/Helpers"}},
		{"/Applications/Berth.app/Contents/MacOS", []string{"/Applications/Berth.app/Contents/MacOS", "/Applications/Berth.app/Contents/Resources"}},
		{"/work/.build", []string{"/work/.build"}},
	}
	for _, tc := range cases {
		if got := bundleDirs(tc.dir); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("bundleDirs(%s) = %v, want %v", tc.dir, got, tc.want)
		}
	}
}
