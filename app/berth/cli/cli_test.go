package cli

import (
	"os"
	"path/filepath"
	"strings"
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

func TestParseMemory(t *testing.T) {
	cases := []struct {
		in   string
		want int
		ok   bool
	}{
		{"512m", 512, true}, {"512M", 512, true}, {"2g", 2048, true}, {"1.5G", 1536, true},
		{"1GiB", 1024, true}, {"2048MB", 2048, true}, {"1073741824", 1024, true}, {"1048576k", 1024, true},
		{"", 0, false}, {"lots", 0, false}, {"-1g", 0, false}, {"100", 0, false}, {"0m", 0, false},
	}
	for _, tc := range cases {
		got, err := parseMemory(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseMemory(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestEnvParsing(t *testing.T) {
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"HOME": "/root", "EMPTY": ""}[k]
		return v, ok
	}
	path := filepath.Join(t.TempDir(), "env")
	os.WriteFile(path, []byte("# comment\n\nA=1\n  B=two words\nHOME\nMISSING\nEMPTY\nC=\nD=x=y\n"), 0o600)
	got, err := parseEnvFile(path, lookup)
	want := []string{"A=1", "B=two words", "HOME=/root", "EMPTY=", "C=", "D=x=y"}
	if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("parseEnvFile = %q, %v; want %q", got, err, want)
	}
	os.WriteFile(path, []byte("A=1\nBAD KEY=2\n"), 0o600)
	if _, err := parseEnvFile(path, lookup); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad env file: %v", err)
	}
	if _, err := parseEnvFile(filepath.Join(t.TempDir(), "nope"), lookup); err == nil {
		t.Fatal("missing env file: no error")
	}
	got, err = expandEnv([]string{"X=1", "HOME", "MISSING"}, lookup)
	if err != nil || strings.Join(got, "|") != "X=1|HOME=/root" {
		t.Fatalf("expandEnv = %q, %v", got, err)
	}
	if _, err := expandEnv([]string{"=1"}, lookup); err == nil {
		t.Fatal("expandEnv accepted =1")
	}
	labels, err := parseLabels([]string{"a=1", "b"})
	if err != nil || labels["a"] != "1" || labels["b"] != "" || len(labels) != 2 {
		t.Fatalf("parseLabels = %v, %v", labels, err)
	}
}
