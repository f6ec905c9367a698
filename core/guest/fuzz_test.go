package guest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

// FuzzResolveUser resolves a user against /etc/passwd and /etc/group as an
// image ships them (anything at all). A numeric user is that uid; the
// primary group is the first of the groups, which hold no repeats; a
// name that resolves is one the files hold; what fails is ErrNotFound or
// a read error.
func FuzzResolveUser(f *testing.F) {
	f.Add("app", "wheel", passwd, group)
	f.Add("1000:1000", "", passwd, group)
	f.Add("root:nosuch", "", passwd, group)
	f.Add("", "10", "", "")
	f.Add("x", "", "x:x:4294967295:1:::\n", "g:x:1:x,x,y\ng:x:2:x")
	f.Add("4294967296", "", "::1:1\n", "")

	f.Fuzz(func(t *testing.T, spec, extra, pw, gr string) {
		var extras []string
		if extra != "" {
			extras = strings.Split(extra, ",")
		}
		cred, err := ResolveUser(spec, extras, strings.NewReader(pw), strings.NewReader(gr))
		if err != nil {
			if !errors.Is(err, api.ErrNotFound) && !strings.HasPrefix(err.Error(), "read /etc/") {
				t.Fatalf("ResolveUser(%q): %v", spec, err)
			}
			return
		}
		userPart, groupPart, hasGroup := strings.Cut(spec, ":")
		if userPart == "" {
			userPart = "0" // root, as in docker
		}
		if id, err := strconv.ParseUint(userPart, 10, 32); err == nil && cred.UID != uint32(id) {
			t.Fatalf("user %q resolved to uid %d", spec, cred.UID)
		} else if err != nil && !hasLine(pw, userPart) {
			t.Fatalf("user %q resolved though /etc/passwd has no such line", userPart)
		}
		if hasGroup {
			if id, err := strconv.ParseUint(groupPart, 10, 32); err == nil && cred.GID != uint32(id) {
				t.Fatalf("group %q resolved to gid %d", groupPart, cred.GID)
			}
		}
		if len(cred.Groups) == 0 || cred.Groups[0] != cred.GID {
			t.Fatalf("groups %v do not start with the primary group %d", cred.Groups, cred.GID)
		}
		for i, g := range cred.Groups {
			if slices.Contains(cred.Groups[:i], g) {
				t.Fatalf("group %d given twice: %v", g, cred.Groups)
			}
		}
	})
}

// hasLine reports whether text has a line that, trimmed as the parser
// trims it, starts with name and a colon.
func hasLine(text, name string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), name+":") {
			return true
		}
	}
	return false
}

// FuzzParseProcStat reads /proc/PID/stat lines, whose command name any
// process of a container picks (spaces and parentheses included): the
// name read is what the line holds between the first "(" and the last
// ")", and a line built from what was read reads the same.
func FuzzParseProcStat(f *testing.F) {
	f.Add("42 (sh) S 1 42 42 34816 42 4194560 100 0 0 0 3 4 0 0 20 0 1 0 1234 1000 100")
	f.Add("7 (a) b) (c) R 1 2 3 0 5 2097152 0 0 0 0 1 1 0 0 20 0 1 0 9 0 0")
	f.Add("1 () S")
	f.Add("x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20")

	f.Fuzz(func(t *testing.T, line string) {
		st, err := parseProcStat(line)
		if err != nil {
			if !errors.Is(err, api.ErrInvalidArgument) {
				t.Fatalf("parseProcStat: %v", err)
			}
			return
		}
		open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
		if st.comm != line[open+1:end] {
			t.Fatalf("command name %q from %q", st.comm, line)
		}
		again, err := parseProcStat(fmt.Sprintf("%d (%s) S %d 0 0 %d 0 %d 0 0 0 0 %d 0 0 0 0 0 0 0 %d 0 0",
			st.pid, st.comm, st.ppid, uint32(int32(st.ttyNr)), st.flags, st.cpuTicks, st.startTicks))
		if err != nil {
			t.Fatalf("reading back %+v: %v", st, err)
		}
		if again.comm != st.comm || again.pid != st.pid || again.ttyNr != st.ttyNr || again.flags != st.flags || again.startTicks != st.startTicks {
			t.Fatalf("read %+v, read back %+v", st, again)
		}
		_ = ttyName(st.ttyNr)
	})
}
