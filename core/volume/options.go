package volume

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/rootfs"
	"github.com/berthvm/berth/core/units"
)

// Driver is every volume's driver: a disk image Berth owns, as docker's
// "local" driver is a folder dockerd owns.
const Driver = "local"

// Sizes of a volume's file system. The disk is sparse: it takes only what
// is written to it, so the default is as generous as a container's
// writable disk (and shares its template).
const (
	DefaultSize = rootfs.DefaultWritableSize
	// MinSize is the smallest ext4 file system Berth formats with a journal.
	MinSize = 16 << 20
	// MaxSize bounds the template a size needs: formatting it takes about
	// a second per 16 GiB, once per size.
	MaxSize = 1 << 40
)

// OptionSize is the one option a volume takes.
const OptionSize = "size"

// nameRE is docker's rule for local volume names; a name is also a folder
// name, hence the length limit.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

const maxNameLen = 255

// CheckName returns an api.ErrInvalidArgument error for a name that is not
// a valid volume name.
func CheckName(name string) error {
	if !nameRE.MatchString(name) || len(name) > maxNameLen {
		return fmt.Errorf("invalid volume name %q: a name is 2 to %d characters [a-zA-Z0-9][a-zA-Z0-9_.-]+ (letters, digits, _ . -, starting with a letter or digit): %w",
			name, maxNameLen, api.ErrInvalidArgument)
	}
	return nil
}

// randomName is the name of a volume created without one: 64 hex digits,
// as docker's.
func randomName() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// parseOptions checks a create request's options and returns the size
// they ask for (def when they name none), rounded up to whole MiB.
func parseOptions(opts map[string]string, def int64) (int64, error) {
	var unknown []string
	for k := range opts {
		if k != OptionSize {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return 0, fmt.Errorf("invalid volume option %s: Berth's volumes take only size (e.g. --opt size=10g): %w",
			strings.Join(unknown, ", "), api.ErrInvalidArgument)
	}
	raw, ok := opts[OptionSize]
	if !ok {
		return def, nil
	}
	size, err := units.ParseSize(raw)
	if err != nil {
		return 0, fmt.Errorf("invalid volume option: %v: %w", err, api.ErrInvalidArgument)
	}
	const mib = 1 << 20
	if size > MaxSize {
		return 0, fmt.Errorf("invalid volume option size=%s: over the largest volume Berth makes, %s: %w",
			raw, units.MemorySize(MaxSize), api.ErrInvalidArgument)
	}
	size = (size + mib - 1) / mib * mib
	if size < MinSize {
		return 0, fmt.Errorf("invalid volume option size=%s: under the smallest volume, %s: %w",
			raw, units.MemorySize(MinSize), api.ErrInvalidArgument)
	}
	return size, nil
}

// filter is a List filter: docker's keys, several values of one key
// ORed, different keys ANDed.
type filter struct {
	dangling []bool
	name     []string // substrings of the name
	label    []string // KEY or KEY=VALUE
	driver   []string
}

func parseFilter(q map[string][]string) (filter, error) {
	var f filter
	for k, vals := range q {
		switch k {
		case "dangling":
			for _, v := range vals {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return f, fmt.Errorf("invalid filter dangling=%s: want true or false: %w", v, api.ErrInvalidArgument)
				}
				f.dangling = append(f.dangling, b)
			}
		case "name":
			f.name = vals
		case "label":
			f.label = vals
		case "driver":
			f.driver = vals
		default:
			return f, fmt.Errorf("invalid filter %q: volumes are filtered by dangling, name, label or driver: %w", k, api.ErrInvalidArgument)
		}
	}
	return f, nil
}

func (f filter) match(v api.Volume) bool {
	return anyOf(f.dangling, func(d bool) bool { return d == (len(v.UsedBy) == 0) }) &&
		anyOf(f.name, func(s string) bool { return strings.Contains(v.Name, s) }) &&
		anyOf(f.driver, func(s string) bool { return s == v.Driver }) &&
		allOf(f.label, func(s string) bool {
			k, want, hasValue := strings.Cut(s, "=")
			got, ok := v.Labels[k]
			return ok && (!hasValue || got == want)
		})
}

// anyOf is true for no values, else when one value matches.
func anyOf[T any](vals []T, ok func(T) bool) bool {
	for _, v := range vals {
		if ok(v) {
			return true
		}
	}
	return len(vals) == 0
}

// allOf is true when every value matches: labels narrow, as docker's do.
func allOf[T any](vals []T, ok func(T) bool) bool {
	for _, v := range vals {
		if !ok(v) {
			return false
		}
	}
	return true
}
