package cli

import (
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"10m", now.Add(-10 * time.Minute), false},
		{"1h30m", now.Add(-90 * time.Minute), false},
		{"2026-11-27T11:00:00Z", time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC), false},
		{"-5m", time.Time{}, true},
		{"yesterday", time.Time{}, true},
	}
	for _, tc := range cases {
		got, err := parseSince(tc.in, now)
		if (err != nil) != tc.wantErr || (!tc.wantErr && !got.Equal(tc.want)) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestEventLine(t *testing.T) {
	e := api.Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Type: "container", Action: "die",
		ID: "abc", Name: "web", Attributes: map[string]string{"exitCode": "3", "image": "busybox"}}
	got := eventLine(e)
	want := " container die abc (name=web, exitCode=3, image=busybox)"
	if len(got) < len(want) || got[len(got)-len(want):] != want {
		t.Fatalf("eventLine = %q, want suffix %q", got, want)
	}
}
