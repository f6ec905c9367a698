package api

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseLogConfig(t *testing.T) {
	for _, tc := range []struct {
		driver string
		opts   map[string]string
		want   LogConfig
		err    string // a substring of the error; "" for none
	}{
		{"", nil, LogConfig{}, ""},
		{"json-file", map[string]string{"max-size": "10m", "max-file": "3"}, LogConfig{MaxSize: 10_000_000, MaxFiles: 3}, ""},
		{"local", map[string]string{"max-size": "1g"}, LogConfig{MaxSize: 1_000_000_000}, ""},
		{"", map[string]string{"max-size": "100k"}, LogConfig{MaxSize: 100_000}, ""},
		{"", map[string]string{"max-size": "1.5M"}, LogConfig{MaxSize: 1_500_000}, ""},
		{"", map[string]string{"max-size": "20MB"}, LogConfig{MaxSize: 20_000_000}, ""},
		{"", map[string]string{"max-size": "2048"}, LogConfig{MaxSize: 2048}, ""},
		{"", map[string]string{"max-size": "10 kb"}, LogConfig{MaxSize: 10_000}, ""},
		{"", map[string]string{"max-file": "1"}, LogConfig{MaxFiles: 1}, ""},

		{"syslog", nil, LogConfig{}, `log driver "syslog" is not supported by Berth`},
		{"", map[string]string{"max-size": "ten"}, LogConfig{}, "invalid size: 'ten'"},
		{"", map[string]string{"max-size": "10x"}, LogConfig{}, "invalid size: '10x'"},
		{"", map[string]string{"max-size": ""}, LogConfig{}, "invalid size: ''"},
		{"", map[string]string{"max-size": "-1"}, LogConfig{}, "invalid size: '-1'"},
		{"", map[string]string{"max-size": "1e9"}, LogConfig{}, "invalid size: '1e9'"},
		{"", map[string]string{"max-size": "0"}, LogConfig{}, "max-size must be a positive number"},
		{"", map[string]string{"max-file": "0"}, LogConfig{}, "max-file cannot be less than 1"},
		{"", map[string]string{"max-file": "three"}, LogConfig{}, `invalid max-file "three"`},
		{"", map[string]string{"compress": "true"}, LogConfig{}, "log opt 'compress' is not supported by Berth"},
		{"json-file", map[string]string{"max-sise": "1m"}, LogConfig{}, "unknown log opt 'max-sise' for json-file log driver"},
	} {
		t.Run(fmt.Sprint(tc.driver, tc.opts), func(t *testing.T) {
			got, err := ParseLogConfig(tc.driver, tc.opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInvalidArgument) {
					t.Fatalf("err %v, want %q (invalid argument)", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestLogConfigLimits(t *testing.T) {
	if s, f := (LogConfig{}).Limits(); s != DefaultLogMaxSize || f != DefaultLogMaxFiles {
		t.Fatalf("defaults %d, %d", s, f)
	}
	if s, f := (LogConfig{MaxSize: 5, MaxFiles: 1}).Limits(); s != 5 || f != 1 {
		t.Fatalf("set %d, %d", s, f)
	}
	if err := (LogConfig{MaxSize: -1}).Validate(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative max-size: %v", err)
	}
	if err := (LogConfig{MaxFiles: -1}).Validate(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative max-file: %v", err)
	}
	if err := (LogConfig{}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseLogOpts(t *testing.T) {
	m, err := ParseLogOpts([]string{"max-size=10m", "max-file=2"})
	if err != nil || m["max-size"] != "10m" || m["max-file"] != "2" {
		t.Fatalf("%v, %v", m, err)
	}
	if _, err := ParseLogOpts([]string{"max-size"}); err == nil || !strings.Contains(err.Error(), `invalid log opt "max-size": want KEY=VALUE`) {
		t.Fatalf("no =: %v", err)
	}
}
