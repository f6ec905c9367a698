package units

import (
	"strconv"
	"testing"
)

// FuzzParseSize reads sizes as the CLI and the API take them: a size
// that parses is positive, and its byte count parses to itself.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"512m", "10g", "1.5G", "2GiB", "1073741824", " 1k ", "0", "-1", "8e", "9999999p", "1.0e3", "0x10", "1_000", "Inf", "b", "ib"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 1 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		if m, err := ParseSize(strconv.FormatInt(n, 10)); err != nil || m != n {
			t.Fatalf("ParseSize(%q) = %d, which reads back as %d, %v", s, n, m, err)
		}
		_ = Size(n)
	})
}
