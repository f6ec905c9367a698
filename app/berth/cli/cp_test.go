package cli

import "testing"

func TestParseCpArgs(t *testing.T) {
	for _, tc := range []struct {
		a, b     string
		src, dst cpArg
		err      string
	}{
		{"web:/etc/hosts", "out", cpArg{"web", "/etc/hosts"}, cpArg{"", "out"}, ""},
		{"web:etc/", "-", cpArg{"web", "/etc/"}, cpArg{"", "-"}, ""},
		{"./a:b", "web:/tmp/.", cpArg{"", "./a:b"}, cpArg{"web", "/tmp/."}, ""},
		{"/abs:x", "web:/", cpArg{"", "/abs:x"}, cpArg{"web", "/"}, ""},
		{"-", "web:/tmp", cpArg{"", "-"}, cpArg{"web", "/tmp"}, ""},
		{"a", "b", cpArg{}, cpArg{}, "must specify at least one container source"},
		{"web:/a", "db:/b", cpArg{}, cpArg{}, "copying between containers is not supported"},
		{"", "web:/b", cpArg{}, cpArg{}, "filepath can not be empty"},
	} {
		src, dst, err := parseCpArgs(tc.a, tc.b)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s %s: error %v, want %q", tc.a, tc.b, err, tc.err)
			}
			continue
		}
		if err != nil || src != tc.src || dst != tc.dst {
			t.Errorf("%s %s = %+v %+v %v", tc.a, tc.b, src, dst, err)
		}
	}
}

func TestCopySize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 2048: "2.05kB", 1_500_000: "1.5MB", 12_345_678_901: "12.3GB"} {
		if got := copySize(n); got != want {
			t.Errorf("copySize(%d) = %q, want %q", n, got, want)
		}
	}
}
