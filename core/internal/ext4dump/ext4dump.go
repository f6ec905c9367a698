// Package ext4dump lists what an ext4 disk image holds without mounting it,
// through e2fsprogs' debugfs, and what a tar stream holds, in one shape,
// so tests can compare a disk with the layers it was built from entry by
// entry. It is a test helper: it shells out and is not fast.
package ext4dump

import (
	"archive/tar"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Entry is one file's metadata.
type Entry struct {
	Type     byte   // 'f' regular, 'd' dir, 'l' symlink, 'c' char, 'b' block, 'p' fifo, 's' socket
	Mode     uint32 // permission bits with setuid, setgid and sticky
	UID, GID int
	Size     int64  // regular files only
	Link     string // symlink target
	DevMajor int
	DevMinor int
	Xattrs   map[string]string // name -> hex of the value
	Inode    uint64            // disk only: hard links share one
	LinkTo   string            // tar only: the path a hard link points at
}

func (e *Entry) String() string {
	return fmt.Sprintf("%c %04o %d:%d size=%d link=%q dev=%d,%d xattrs=%v", e.Type, e.Mode, e.UID, e.GID, e.Size, e.Link, e.DevMajor, e.DevMinor, e.Xattrs)
}

func typeOfMode(m uint32) byte {
	switch m & 0o170000 {
	case 0o100000:
		return 'f'
	case 0o040000:
		return 'd'
	case 0o120000:
		return 'l'
	case 0o020000:
		return 'c'
	case 0o060000:
		return 'b'
	case 0o010000:
		return 'p'
	case 0o140000:
		return 's'
	}
	return '?'
}

// Apply applies layer tars bottom first, as a container runtime unpacks
// them onto a directory (whiteouts, opaque directories, hard links sharing
// one file), and lists the result. It is the oracle a flattened disk is
// checked against. Paths are relative; the root is left out.
func Apply(layers ...io.Reader) (map[string]*Entry, error) {
	out := map[string]*Entry{}
	ids := map[string]int{} // path -> file identity; hard links share one
	next := 0
	removeTree := func(p string) {
		for q := range out {
			if q == p || strings.HasPrefix(q, p+"/") {
				delete(out, q)
				delete(ids, q)
			}
		}
	}
	for _, r := range layers {
		type item struct {
			h *tar.Header
			p string
		}
		var items []item
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			p := clean(h.Name)
			dir, base := path.Split(p)
			dir = strings.TrimSuffix(dir, "/")
			switch {
			case base == ".wh..wh..opq":
				for q := range out {
					if dir == "" || strings.HasPrefix(q, dir+"/") {
						delete(out, q)
						delete(ids, q)
					}
				}
			case strings.HasPrefix(base, ".wh."):
				removeTree(path.Join(dir, base[4:]))
			case p != "":
				items = append(items, item{h, p})
			}
		}
		for _, it := range items {
			h, p := it.h, it.p
			if old, ok := out[p]; ok && (old.Type != 'd' || h.Typeflag != tar.TypeDir) {
				removeTree(p)
			}
			e := &Entry{Mode: uint32(h.Mode) & 0o7777, UID: h.Uid, GID: h.Gid, Xattrs: map[string]string{}}
			for k, v := range h.PAXRecords {
				if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
					e.Xattrs[name] = hex.EncodeToString([]byte(v))
				}
			}
			switch h.Typeflag {
			case tar.TypeReg:
				e.Type, e.Size = 'f', h.Size
			case tar.TypeDir:
				e.Type = 'd'
			case tar.TypeSymlink:
				e.Type, e.Link, e.Mode = 'l', h.Linkname, 0o777
			case tar.TypeChar:
				e.Type, e.DevMajor, e.DevMinor = 'c', int(h.Devmajor), int(h.Devminor)
			case tar.TypeBlock:
				e.Type, e.DevMajor, e.DevMinor = 'b', int(h.Devmajor), int(h.Devminor)
			case tar.TypeFifo:
				e.Type = 'p'
			case tar.TypeLink:
				t, ok := out[clean(h.Linkname)]
				if !ok {
					return nil, fmt.Errorf("hard link %s to missing %s", h.Name, h.Linkname)
				}
				out[p] = t
				ids[p] = ids[clean(h.Linkname)]
				continue
			default:
				continue
			}
			next++
			out[p] = e
			ids[p] = next
		}
	}
	// Hard links: every path of one identity shares that *Entry; record a
	// representative so Compare can check the disk shares the inode.
	first := map[int]string{}
	var paths []string
	for p := range out {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	res := map[string]*Entry{}
	for _, p := range paths {
		c := *out[p]
		if f, ok := first[ids[p]]; ok {
			c.LinkTo = f
		} else {
			first[ids[p]] = p
		}
		res[p] = &c
	}
	return res, nil
}

func clean(p string) string {
	p = path.Clean("/" + p)
	return strings.TrimPrefix(p, "/")
}

var lsLine = regexp.MustCompile(`^/(\d+)/(\d+)/(\d+)/(\d+)/(.*)/(\d*)/$`)

// ReadDisk lists an ext4 disk image through debugfs, leaving out the root
// and lost+found.
func ReadDisk(disk string) (map[string]*Entry, error) {
	out := map[string]*Entry{}
	type dir struct {
		ino  uint64
		path string
	}
	level := []dir{{2, ""}}
	var all []string
	for len(level) > 0 {
		var cmds []string
		for _, d := range level {
			cmds = append(cmds, fmt.Sprintf("ls -p <%d>", d.ino))
		}
		outs, err := run(disk, cmds)
		if err != nil {
			return nil, err
		}
		var next []dir
		for i, d := range level {
			for _, line := range strings.Split(outs[i], "\n") {
				m := lsLine.FindStringSubmatch(strings.TrimSpace(line))
				if m == nil || m[1] == "0" || m[5] == "" || m[5] == "." || m[5] == ".." {
					continue
				}
				if d.path == "" && m[5] == "lost+found" {
					continue
				}
				ino, _ := strconv.ParseUint(m[1], 10, 64)
				mode, _ := strconv.ParseUint(m[2], 8, 32)
				uid, _ := strconv.Atoi(m[3])
				gid, _ := strconv.Atoi(m[4])
				size, _ := strconv.ParseInt(m[6], 10, 64)
				p := path.Join(d.path, m[5])
				e := &Entry{Type: typeOfMode(uint32(mode)), Mode: uint32(mode) & 0o7777, UID: uid, GID: gid, Inode: ino, Xattrs: map[string]string{}}
				if e.Type == 'f' {
					e.Size = size
				}
				out[p] = e
				all = append(all, p)
				if e.Type == 'd' {
					next = append(next, dir{ino, p})
				}
			}
		}
		level = next
	}
	// One more pass for what ls does not show: link targets, device
	// numbers, extended attributes.
	var cmds []string
	var who []string
	for _, p := range all {
		e := out[p]
		cmds = append(cmds, fmt.Sprintf("ea_list <%d>", e.Inode))
		who = append(who, "ea:"+p)
		if e.Type == 'l' || e.Type == 'c' || e.Type == 'b' {
			cmds = append(cmds, fmt.Sprintf("stat <%d>", e.Inode))
			who = append(who, "stat:"+p)
		}
		if e.Type == 'l' {
			cmds = append(cmds, fmt.Sprintf("cat <%d>", e.Inode))
			who = append(who, "cat:"+p)
		}
	}
	outs, err := run(disk, cmds)
	if err != nil {
		return nil, err
	}
	for i, w := range who {
		kind, p, _ := strings.Cut(w, ":")
		e := out[p]
		switch kind {
		case "ea":
			parseXattrs(outs[i], e.Xattrs)
		case "stat":
			if m := regexp.MustCompile(`Fast link dest: "(.*)"`).FindStringSubmatch(outs[i]); m != nil {
				e.Link = m[1]
			}
			if m := regexp.MustCompile(`Device major/minor number: (\d+):(\d+)`).FindStringSubmatch(outs[i]); m != nil {
				e.DevMajor, _ = strconv.Atoi(m[1])
				e.DevMinor, _ = strconv.Atoi(m[2])
			}
		case "cat":
			if e.Link == "" {
				e.Link = outs[i]
			}
		}
	}
	return out, nil
}

var eaLine = regexp.MustCompile(`^\s+(\S+) \((\d+)\)(?: = (.*))?$`)

func parseXattrs(s string, into map[string]string) {
	for _, line := range strings.Split(s, "\n") {
		m := eaLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v := strings.TrimSpace(m[3])
		if strings.HasPrefix(v, `"`) && strings.HasSuffix(v, `"`) && len(v) >= 2 {
			into[m[1]] = hex.EncodeToString([]byte(v[1 : len(v)-1]))
			continue
		}
		into[m[1]] = strings.ReplaceAll(v, " ", "")
	}
}

// run feeds debugfs a command file and splits its answer per command.
func run(disk string, cmds []string) ([]string, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	var in bytes.Buffer
	for _, c := range cmds {
		in.WriteString(c + "\n")
	}
	cmd := exec.Command("debugfs", "-f", "-", disk)
	cmd.Stdin = &in
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("debugfs %s: %v: %s", disk, err, errb.String())
	}
	// debugfs echoes each command as "debugfs: <cmd>" before its output.
	parts := strings.Split(out.String(), "debugfs: ")
	var res []string
	for _, p := range parts[1:] {
		_, body, _ := strings.Cut(p, "\n")
		res = append(res, body)
	}
	if len(res) != len(cmds) {
		return nil, fmt.Errorf("debugfs %s: %d answers to %d commands", disk, len(res), len(cmds))
	}
	return res, nil
}

// Compare lists every difference between want (from a tar) and got (from
// a disk): missing and extra paths, and differing types, modes, owners,
// sizes, link targets, device numbers, xattrs and hard links.
func Compare(want, got map[string]*Entry) []string {
	var diffs []string
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		w := want[p]
		g, ok := got[p]
		if !ok {
			diffs = append(diffs, "missing on disk: "+p)
			continue
		}
		if w.Type != g.Type || w.Mode != g.Mode || w.UID != g.UID || w.GID != g.GID ||
			(w.Type == 'f' && w.Size != g.Size) || w.Link != g.Link ||
			w.DevMajor != g.DevMajor || w.DevMinor != g.DevMinor || !sameXattrs(w.Xattrs, g.Xattrs) {
			diffs = append(diffs, fmt.Sprintf("%s:\n  want %v\n  got  %v", p, w, g))
		}
		if w.LinkTo != "" {
			if t, ok := got[w.LinkTo]; !ok || t.Inode != g.Inode {
				diffs = append(diffs, fmt.Sprintf("%s: not a hard link to %s on disk", p, w.LinkTo))
			}
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, "extra on disk: "+p)
		}
	}
	return diffs
}

func sameXattrs(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
