package units

import (
	"testing"
	"time"
)

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 12_345_678: "12.3MB", 1_400_000_000: "1.4GB", 7_800_000: "7.8MB", 123_456_789: "123MB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestMemorySize(t *testing.T) {
	for n, want := range map[uint64]string{512: "512 B", 48 << 20: "48 MiB", 1536 << 20: "1.5 GiB", 1 << 30: "1 GiB", 24 << 30: "24 GiB"} {
		if got := MemorySize(n); got != want {
			t.Errorf("MemorySize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "Less than a second", time.Second: "1 second", 45 * time.Second: "45 seconds",
		90 * time.Second: "About a minute", 5 * time.Minute: "5 minutes", 65 * time.Minute: "About an hour",
		5 * time.Hour: "5 hours", 72 * time.Hour: "3 days", 21 * 24 * time.Hour: "3 weeks",
		100 * 24 * time.Hour: "3 months", 800 * 24 * time.Hour: "2 years",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1073741824", 1 << 30, true}, {"512m", 512 << 20, true}, {"512M", 512 << 20, true},
		{"10g", 10 << 30, true}, {"10G", 10 << 30, true}, {"10gb", 10 << 30, true}, {"2GiB", 2 << 30, true},
		{"1.5g", 3 << 29, true}, {"64k", 64 << 10, true}, {"1t", 1 << 40, true}, {"1p", 1 << 50, true},
		{" 8g ", 8 << 30, true}, {"100b", 100, true},
		{"", 0, false}, {"g", 0, false}, {"lots", 0, false}, {"-1g", 0, false}, {"0", 0, false},
		{"0.1", 0, false}, {"10x", 0, false}, {"1e3", 0, false}, {"0x10", 0, false}, {"NaN", 0, false},
		{"Inf", 0, false}, {"9000p", 0, false}, {"1_000", 0, false},
	}
	for _, tc := range cases {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
