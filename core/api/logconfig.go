package api

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Container log defaults. Docker's json-file driver keeps everything
// unless told otherwise; Berth bounds every container's log by default,
// so a chatty container cannot fill the host's disk: 3 files of 10m
// (docker's units: 10 MB).
const (
	DefaultLogMaxSize  = 10_000_000
	DefaultLogMaxFiles = 3
)

// LogConfig bounds a container's log (docker's --log-opt max-size and
// max-file, json-file semantics): the log rotates when the current file
// passes MaxSize bytes, and MaxFiles files are kept, the current one
// included. The zero value of each field means its default, so records
// stored before it existed need no migration.
type LogConfig struct {
	MaxSize  int64 `json:"maxSize,omitempty"`
	MaxFiles int   `json:"maxFiles,omitempty"`
}

// Limits are c's bounds with the defaults filled in.
func (c LogConfig) Limits() (maxSize int64, maxFiles int) {
	maxSize, maxFiles = c.MaxSize, c.MaxFiles
	if maxSize <= 0 {
		maxSize = DefaultLogMaxSize
	}
	if maxFiles <= 0 {
		maxFiles = DefaultLogMaxFiles
	}
	return maxSize, maxFiles
}

// Validate checks c as the daemon receives it (0 is the default).
func (c LogConfig) Validate() error {
	if c.MaxSize < 0 {
		return fmt.Errorf("max-size must be a positive number: %w", ErrInvalidArgument)
	}
	if c.MaxFiles < 0 {
		return fmt.Errorf("max-file cannot be less than 1: %w", ErrInvalidArgument)
	}
	return nil
}

// Options are c's non-default settings as docker's log options.
func (c LogConfig) Options() map[string]string {
	o := map[string]string{}
	if c.MaxSize > 0 {
		o["max-size"] = strconv.FormatInt(c.MaxSize, 10)
	}
	if c.MaxFiles > 0 {
		o["max-file"] = strconv.Itoa(c.MaxFiles)
	}
	return o
}

// ParseLogConfig reads docker's log driver and options (--log-driver,
// --log-opt KEY=VALUE; HostConfig.LogConfig). The driver must be
// json-file, local or empty: Berth keeps each container's log itself.
// max-size is a size in docker's units (decimal: 10k, 10m, 1g; b, kb,
// mb… too) and max-file a count of at least 1. Other options are refused,
// as docker refuses what a driver does not know.
func ParseLogConfig(driver string, opts map[string]string) (LogConfig, error) {
	if driver != "" && driver != "json-file" && driver != "local" {
		return LogConfig{}, fmt.Errorf("log driver %q is not supported by Berth: it keeps each container's log itself (json-file): %w", driver, ErrInvalidArgument)
	}
	if driver == "" {
		driver = "json-file"
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var c LogConfig
	for _, k := range keys {
		v := opts[k]
		switch k {
		case "max-size":
			n, err := parseLogSize(v)
			if err != nil {
				return LogConfig{}, err
			}
			c.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return LogConfig{}, fmt.Errorf("invalid max-file %q: want a number of files: %w", v, ErrInvalidArgument)
			}
			if n < 1 {
				return LogConfig{}, fmt.Errorf("max-file cannot be less than 1: %w", ErrInvalidArgument)
			}
			c.MaxFiles = n
		case "compress", "labels", "labels-regex", "env", "env-regex", "tag", "mode", "max-buffer-size":
			return LogConfig{}, fmt.Errorf("log opt '%s' is not supported by Berth (max-size and max-file are): %w", k, ErrInvalidArgument)
		default:
			return LogConfig{}, fmt.Errorf("unknown log opt '%s' for %s log driver: %w", k, driver, ErrInvalidArgument)
		}
	}
	return c, nil
}

// ParseLogOpts reads --log-opt values, each KEY=VALUE, into a map.
func ParseLogOpts(opts []string) (map[string]string, error) {
	m := map[string]string{}
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid log opt %q: want KEY=VALUE, such as max-size=10m: %w", o, ErrInvalidArgument)
		}
		m[k] = v
	}
	return m, nil
}

// parseLogSize reads a size as docker's json-file driver does (go-units'
// FromHumanSize): a number, decimals allowed, then an optional k, m, g, t
// or p in powers of 1000, then an optional i and b ("10m", "1.5g",
// "100kb", "2048"). It must be positive.
func parseLogSize(s string) (int64, error) {
	bad := fmt.Errorf("invalid size: '%s': want a size such as 10m or 1g: %w", s, ErrInvalidArgument)
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	t = strings.TrimSuffix(t, "i")
	mult := 1.0
	if t != "" {
		if i := strings.IndexByte("kmgtp", t[len(t)-1]); i >= 0 {
			mult = math.Pow(1000, float64(i+1))
			t = strings.TrimSuffix(t[:len(t)-1], " ")
		}
	}
	if t == "" || strings.Trim(t, "0123456789.") != "" || strings.Count(t, ".") > 1 || t[0] == '.' || t[len(t)-1] == '.' {
		return 0, bad
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, bad
	}
	n := v * mult
	if n < 1 {
		return 0, fmt.Errorf("max-size must be a positive number: %w", ErrInvalidArgument)
	}
	if n >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size: '%s': too large: %w", s, ErrInvalidArgument)
	}
	return int64(n), nil
}
