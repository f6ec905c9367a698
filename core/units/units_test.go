package units

import (
	"testing"
	"time"
)

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 12_345_678: "12.3 MB", 1_400_000_000: "1.4 GB"} {
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
