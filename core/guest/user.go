package guest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/berthvm/berth/core/api"
)

// Credential is a resolved user: ids plus the home directory for $HOME.
type Credential struct {
	UID, GID uint32
	Groups   []uint32
	Home     string
}

type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

func parsePasswd(r io.Reader) ([]passwdEntry, error) {
	var out []passwdEntry
	err := eachLine(r, func(f []string) {
		if len(f) < 6 {
			return
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			return
		}
		out = append(out, passwdEntry{name: f[0], uid: uint32(uid), gid: uint32(gid), home: f[5]})
	})
	return out, err
}

func parseGroup(r io.Reader) ([]groupEntry, error) {
	var out []groupEntry
	err := eachLine(r, func(f []string) {
		if len(f) < 3 {
			return
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			return
		}
		g := groupEntry{name: f[0], gid: uint32(gid)}
		if len(f) > 3 && f[3] != "" {
			g.members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	})
	return out, err
}

func eachLine(r io.Reader, fn func([]string)) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fn(strings.Split(line, ":"))
	}
	return sc.Err()
}

// ResolveUser resolves a user spec ("name", "uid", "name:group",
// "uid:gid", "" for root) and extra groups against a container's passwd
// and group files, the way Docker does: numeric ids need no entry, names
// must exist, supplementary groups come from the group file's member
// lists.
func ResolveUser(spec string, extraGroups []string, passwd, group io.Reader) (Credential, error) {
	var users []passwdEntry
	var groups []groupEntry
	var err error
	if passwd != nil {
		if users, err = parsePasswd(passwd); err != nil {
			return Credential{}, fmt.Errorf("read /etc/passwd: %w", err)
		}
	}
	if group != nil {
		if groups, err = parseGroup(group); err != nil {
			return Credential{}, fmt.Errorf("read /etc/group: %w", err)
		}
	}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	cred := Credential{Home: "/"}
	var name string
	if id, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		// An id without a passwd entry runs with group 0, as in Docker.
		cred.UID = uint32(id)
		for _, u := range users {
			if u.uid == cred.UID {
				cred.GID, cred.Home, name = u.gid, u.home, u.name
				break
			}
		}
		if name == "" && cred.UID == 0 {
			cred.Home = "/root"
		}
	} else {
		found := false
		for _, u := range users {
			if u.name == userPart {
				cred.UID, cred.GID, cred.Home, name = u.uid, u.gid, u.home, u.name
				found = true
				break
			}
		}
		if !found {
			return Credential{}, fmt.Errorf("user %q not found in the container's /etc/passwd: %w", userPart, api.ErrNotFound)
		}
	}
	if hasGroup {
		gid, err := resolveGroup(groupPart, groups)
		if err != nil {
			return Credential{}, err
		}
		cred.GID = gid
	}
	// Like initgroups(3): the primary group is also a supplementary one.
	cred.Groups = []uint32{cred.GID}
	seen := map[uint32]bool{cred.GID: true}
	if name != "" {
		for _, g := range groups {
			for _, m := range g.members {
				if m == name && !seen[g.gid] {
					cred.Groups = append(cred.Groups, g.gid)
					seen[g.gid] = true
				}
			}
		}
	}
	for _, eg := range extraGroups {
		gid, err := resolveGroup(eg, groups)
		if err != nil {
			return Credential{}, err
		}
		if !seen[gid] {
			cred.Groups = append(cred.Groups, gid)
			seen[gid] = true
		}
	}
	return cred, nil
}

func resolveGroup(g string, groups []groupEntry) (uint32, error) {
	if id, err := strconv.ParseUint(g, 10, 32); err == nil {
		return uint32(id), nil
	}
	for _, e := range groups {
		if e.name == g {
			return e.gid, nil
		}
	}
	return 0, fmt.Errorf("group %q not found in the container's /etc/group: %w", g, api.ErrNotFound)
}

// ResolveUserInRoot reads root's /etc/passwd and /etc/group (either may
// be missing, as in scratch images) and resolves spec.
func ResolveUserInRoot(root, spec string, extraGroups []string) (Credential, error) {
	open := func(p string) (io.Reader, func()) {
		full, err := InRoot(root, p)
		if err != nil {
			return nil, func() {}
		}
		f, err := os.Open(full)
		if err != nil {
			return nil, func() {}
		}
		return f, func() { f.Close() }
	}
	pw, c1 := open("/etc/passwd")
	defer c1()
	gr, c2 := open("/etc/group")
	defer c2()
	return ResolveUser(spec, extraGroups, pw, gr)
}
