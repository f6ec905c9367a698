package cli

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/berthvm/berth/core/units"
)

// parseMemory reads a memory size as docker and Apple's container accept
// it ("512m", "1g", "1.5G", "2048M", "1073741824" bytes) and returns MiB.
// The syntax is units.ParseSize's, the one --tmpfs size= and volume sizes
// take: an unknown unit, "nan" or an exponent is refused, not read as
// bytes (int(NaN) made "nan" a negative size).
func parseMemory(s string) (int, error) {
	n, err := units.ParseSize(s)
	if err != nil {
		return 0, fmt.Errorf("--memory %q: want a positive size like 512m or 2g", s)
	}
	mib := n >> 20
	if mib < 1 {
		return 0, fmt.Errorf("--memory %q: under 1 MiB; did you mean %sm?", s, strings.TrimSpace(s))
	}
	if mib > 1<<30 {
		return 0, fmt.Errorf("--memory %q: too large", s)
	}
	return int(mib), nil
}

// parseEnvFile reads docker's --env-file format: KEY=VALUE lines, '#'
// comments and blank lines skipped, a bare KEY taking its value from the
// caller's environment (and skipped if unset there).
func parseEnvFile(path string, lookup func(string) (string, bool)) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, hasValue := strings.Cut(line, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("--env-file %s line %d: %q is not KEY=VALUE", path, n, line)
		}
		if !hasValue {
			if val, ok := lookup(k); ok {
				out = append(out, k+"="+val)
			}
			continue
		}
		out = append(out, k+"="+v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--env-file %s: %w", path, err)
	}
	return out, nil
}

// expandEnv turns -e values into KEY=VALUE: a bare KEY takes the caller's
// value (docker's -e KEY), and is dropped if the caller has none.
func expandEnv(vals []string, lookup func(string) (string, bool)) ([]string, error) {
	out := make([]string, 0, len(vals))
	for _, kv := range vals {
		k, _, hasValue := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("-e %q: want KEY=VALUE or KEY", kv)
		}
		if hasValue {
			out = append(out, kv)
		} else if v, ok := lookup(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out, nil
}

// parseLabels turns -l KEY=VALUE (or KEY) values into a map.
func parseLabels(vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(vals))
	for _, kv := range vals {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("-l %q: want KEY=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}

// envFrom builds a process's environment from --env-file files, then -e
// values (which win, coming later), as docker does.
func envFrom(files, vals []string, lookup func(string) (string, bool)) ([]string, error) {
	var env []string
	for _, path := range files {
		got, err := parseEnvFile(path, lookup)
		if err != nil {
			return nil, err
		}
		env = append(env, got...)
	}
	got, err := expandEnv(vals, lookup)
	if err != nil {
		return nil, err
	}
	return append(env, got...), nil
}
