package units

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseBytes reads a size as docker does (github.com/docker/go-units'
// RAMInBytes): a number, optionally with a binary unit k, m, g, t or p
// (any case, "b" or "ib" may follow: 64m, 1.5G, 2gib, 1024), in bytes.
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	t = strings.TrimSuffix(t, "i")
	mult := 1.0
	if t != "" {
		if i := strings.IndexByte("kmgtp", t[len(t)-1]); i >= 0 {
			mult = math.Pow(1024, float64(i+1))
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("size %q: want a number of bytes, optionally with a unit (k, m, g, t), such as 64m or 10g", s)
	}
	n := v * mult
	if n >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(n), nil
}
