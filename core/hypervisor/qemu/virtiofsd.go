package qemu

import (
	"fmt"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
)

// ShareCache is virtiofsd's cache mode (-o cache=): how long the guest
// may trust what it has read of a share.
type ShareCache string

const (
	// CacheAuto: attributes and names for a second, file data until
	// the file is opened again with another mtime (close-to-open). A
	// host change shows in the guest within a second, without a remount:
	// what a bind mount promises. The default.
	CacheAuto ShareCache = "auto"
	// CacheAlways: the guest trusts its cache for a day; the host's own
	// changes may never show. Faster for trees only the guest writes.
	CacheAlways ShareCache = "always"
	// CacheNone: every access goes to the host.
	CacheNone ShareCache = "none"
)

// VirtiofsdSearch is where the driver looks for virtiofsd after $PATH:
// Debian's qemu-system-common ships the C virtiofsd in /usr/lib/qemu;
// Fedora's virtiofsd package (the Rust one, same flags used here) puts it
// in /usr/libexec.
var VirtiofsdSearch = []string{"/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd", "/usr/lib/virtiofsd"}

// virtiofsdFD is the descriptor virtiofsd gets its listening socket on
// (hostproc's first extra file).
const virtiofsdFD = 3

// readOnlyScript makes a share read-only for virtiofsd, which has no such
// option (C virtiofsd 7.2): in the private mount namespace it runs in,
// the shared folder is bound onto itself and the binding remounted
// read-only; then virtiofsd replaces the shell (same pid). Its own
// sandbox binds that read-only mount again (a bind keeps the read-only
// flag) and pivots into it, so every write of the guest fails with
// EROFS. Nothing of this is seen outside the namespace.
const readOnlyScript = `mount --bind -- "$1" "$1" && mount -o remount,bind,ro -- "$1" && shift && exec "$@"`

// VirtiofsdCommand is the program and arguments that serve share s with
// the virtiofsd at bin, listening on descriptor 3. root says whether the
// driver runs as root: otherwise virtiofsd runs as root of a user
// namespace of its own and leaves the open-files limit alone (raising
// its hard limit needs privileges a user namespace does not give). It is
// pure.
func VirtiofsdCommand(bin string, s hypervisor.Share, cache ShareCache, root bool) (string, []string, error) {
	switch cache {
	case CacheAuto, CacheAlways, CacheNone:
	default:
		return "", nil, fmt.Errorf("share %q: cache mode %q is not auto, always or none: %w", s.Tag, cache, api.ErrInvalidArgument)
	}
	args := []string{fmt.Sprintf("--fd=%d", virtiofsdFD), "-o", "source=" + optionEscape(s.Path), "-o", "cache=" + string(cache),
		// The default sandbox: mount, pid and net namespaces, and a
		// pivot_root into the shared folder.
		"-o", "sandbox=namespace"}
	if !root {
		args = append(args, "--rlimit-nofile=0")
	}
	if !s.ReadOnly {
		return bin, args, nil
	}
	return "/bin/sh", append([]string{"-c", readOnlyScript, "berth-virtiofsd", s.Path, bin}, args...), nil
}

// optionEscape escapes a value for virtiofsd's -o option string, whose
// parser (libfuse's) splits at commas and takes a backslash as escape.
func optionEscape(v string) string {
	return strings.NewReplacer(`\`, `\\`, ",", `\,`).Replace(v)
}
