package dockerapi

import (
	"strconv"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
)

// Docker's prune filters, shared by container and image prune.

// labelsMatch is docker's label filter on labels: every "label" filter
// ("key" or "key=value") must match, and the object is skipped only when
// every "label!" filter matches too (docker's rule, not "any").
func labelsMatch(f filters, labels map[string]string) bool {
	has := func(kv string) bool {
		k, v, withValue := strings.Cut(kv, "=")
		got, ok := labels[k]
		return ok && (!withValue || got == v)
	}
	for _, l := range f["label"] {
		if !has(l) {
			return false
		}
	}
	if nots := f["label!"]; len(nots) > 0 {
		for _, l := range nots {
			if !has(l) {
				return true
			}
		}
		return false
	}
	return true
}

// parseTimestamp reads docker's until and since values: a duration
// before now ("24h"), Unix seconds ("1700000000[.5]") or an RFC 3339
// time or date.
func parseTimestamp(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return unixTime(v)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, api.Exactly(api.ErrInvalidArgument, "invalid filter 'until=%s': want a duration, Unix seconds or an RFC 3339 time", v)
}
