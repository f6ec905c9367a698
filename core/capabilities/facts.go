package capabilities

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var appleChipRE = regexp.MustCompile(`^Apple (M(\d+))(?: (Pro|Max|Ultra))?\b`)

// ParseAppleChip reads machdep.cpu.brand_string ("Apple M3 Pro") and returns
// the chip's name and generation. Anything else gives ("", 0).
func ParseAppleChip(brand string) (name string, generation int) {
	m := appleChipRE.FindStringSubmatch(strings.TrimSpace(brand))
	if m == nil {
		return "", 0
	}
	gen, err := strconv.Atoi(m[2])
	if err != nil || gen < 1 {
		return "", 0
	}
	name = m[1]
	if m[3] != "" {
		name += " " + m[3]
	}
	return name, gen
}

// Version is a dotted OS version such as macOS "15.1.1".
type Version struct{ Major, Minor, Patch int }

// ParseVersion reads "15", "14.6" or "15.1.1".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) == 0 || len(parts) > 3 || parts[0] == "" {
		return Version{}, fmt.Errorf("parse version %q: want MAJOR[.MINOR[.PATCH]]", s)
	}
	var nums [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return Version{}, fmt.Errorf("parse version %q: part %q is not a number", s, p)
		}
		nums[i] = n
	}
	return Version{nums[0], nums[1], nums[2]}, nil
}

func (v Version) String() string {
	if v.Patch != 0 {
		return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	}
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}

// CPUInfo is what Berth needs from Linux's /proc/cpuinfo.
type CPUInfo struct {
	Model string
	MHz   float64 // of the first CPU; 0 if not reported
	Flags map[string]bool
}

// ParseCPUInfo reads /proc/cpuinfo text. Only the first processor's block
// is used: the rest repeat it on the machines Berth runs on.
func ParseCPUInfo(text string) CPUInfo {
	info := CPUInfo{Flags: map[string]bool{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" && info.Model != "" {
			break // end of the first processor's block
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "model name", "Model", "Hardware":
			if info.Model == "" {
				info.Model = val
			}
		case "cpu MHz":
			info.MHz, _ = strconv.ParseFloat(val, 64)
		case "flags", "Features":
			for _, f := range strings.Fields(val) {
				info.Flags[f] = true
			}
		}
	}
	return info
}

// ParseOSRelease reads /etc/os-release into (NAME, VERSION_ID).
func ParseOSRelease(text string) (name, version string) {
	for _, line := range strings.Split(text, "\n") {
		key, val, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		val = strings.Trim(val, `"'`)
		switch key {
		case "NAME":
			name = val
		case "VERSION_ID":
			version = val
		}
	}
	return name, version
}

// ParseMemInfo returns MemTotal from /proc/meminfo in MiB.
func ParseMemInfo(text string) int {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.Atoi(f[0])
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	return 0
}
