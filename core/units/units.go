// Package units writes sizes and durations the way docker's CLI does, for
// every place Berth shows them to people: the berth CLI and the menu bar;
// and reads sizes the way docker's CLI takes them (ParseSize).
package units

import (
	"fmt"
	dunits "github.com/docker/go-units"
	"math"
	"strconv"
	"strings"
	"time"
)

// Size is a byte count in SI units, as docker shows image, container and
// volume sizes: "512B", "12.3MB", "1.4GB" (go-units' HumanSizeWithPrecision
// with docker's 3 significant digits). Every size the berth CLI prints goes
// through it; only memory amounts use MemorySize, as docker stats does.
func Size(n int64) string {
	return dunits.HumanSizeWithPrecision(float64(n), 3)
}

// MemorySize is a byte count in binary units, as docker stats shows memory:
// "512 B", "48 MiB", "1.5 GiB".
func MemorySize(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v >= 10 || v == float64(int(v)) {
		return fmt.Sprintf("%.0f %ciB", v, "KMGTP"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[exp])
}

// Duration reads like docker's: "Less than a second", "1 second",
// "45 seconds", "About a minute", "5 minutes", "About an hour", "3 hours",
// "2 days", "3 weeks", "4 months", "2 years". Docker writes it after "Up"
// and before "ago"; it is go-units' HumanDuration, the function docker uses.
func Duration(d time.Duration) string {
	return dunits.HumanDuration(d)
}

// ParseSize reads a size as docker's CLI takes it for memory and disk
// options: a number of bytes, or a number (decimals allowed) followed by
// k, m, g, t or p in binary units (1k = 1024), with an optional b or ib,
// in either case: "512m", "10g", "1.5G", "2GiB", "1073741824". It refuses
// empty, negative, zero and unknown-unit sizes, and sizes over 8 EiB.
func ParseSize(s string) (int64, error) {
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
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || strings.ContainsAny(t, "eExXpP_") {
		return 0, fmt.Errorf("size %q: want a number of bytes or a size such as 512m, 10g or 1.5t", s)
	}
	n := v * mult
	if n < 1 {
		return 0, fmt.Errorf("size %q: want a positive size such as 512m or 10g", s)
	}
	if n >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return int64(n), nil
}
