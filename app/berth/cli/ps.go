package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi/types"
	"github.com/berthvm/berth/core/units"
)

// psDefaultTable is docker ps's default table; -s adds SIZE.
const psDefaultTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

// containerRow is one row of `berth ps`: its methods are docker's --format
// fields (docker ps's ContainerContext), each returning the header's name
// in the header row.
type containerRow struct {
	header bool
	c      api.Container
	img    api.ImageConfig // for the command: the image's entrypoint and cmd
	now    time.Time
	loc    *time.Location // CreatedAt's zone
	trunc  bool
	// sizeRW and sizeImage are bytes; sized says they were measured (-s).
	sized             bool
	sizeRW, sizeImage int64
}

func (r containerRow) isHeader() bool { return r.header }

// ID is the container's id, shortened to 12 characters unless --no-trunc.
func (r containerRow) ID() string {
	if r.header {
		return "CONTAINER ID"
	}
	if r.trunc {
		return api.ShortID(r.c.ID)
	}
	return r.c.ID
}

// Image is the reference the container was made from, as docker shows it.
func (r containerRow) Image() string {
	if r.header {
		return "IMAGE"
	}
	im := types.FamiliarName(r.c.Image)
	if r.trunc {
		if i := strings.Index(im, "@sha256:"); i > 0 {
			im = im[:i]
		}
	}
	return im
}

// Command is what the container runs, quoted, as docker's daemon writes it
// (arguments with spaces in single quotes) and shortened to 20 characters.
func (r containerRow) Command() string {
	if r.header {
		return "COMMAND"
	}
	entry, cmd := types.Process(r.c.Spec, r.img)
	args := append(append([]string{}, entry...), cmd...)
	for i, a := range args {
		if i > 0 && strings.Contains(a, " ") {
			args[i] = "'" + a + "'"
		}
	}
	s := strings.Join(args, " ")
	if r.trunc {
		s = ellipsis(s, 20)
	}
	return strconv.Quote(s)
}

// CreatedAt is when it was made, as Go prints a time (docker's field).
func (r containerRow) CreatedAt() string {
	if r.header {
		return "CREATED AT"
	}
	return r.c.Created.Truncate(time.Second).In(r.loc).String()
}

// RunningFor is how long ago it was made: docker's CREATED column.
func (r containerRow) RunningFor() string {
	if r.header {
		return "CREATED"
	}
	return ago(r.c.Created)
}

// Ports are its published ports, consecutive ones as ranges.
func (r containerRow) Ports() string {
	if r.header {
		return "PORTS"
	}
	return portList(r.c.Ports)
}

// State is docker's word for its state: created, running, exited, dead.
func (r containerRow) State() string {
	if r.header {
		return "STATE"
	}
	return types.DockerStatus(r.c.State)
}

// Status is docker's STATUS: "Up 3 minutes", "Exited (0) 5 seconds ago".
func (r containerRow) Status() string {
	if r.header {
		return "STATUS"
	}
	return status(r.c, r.now)
}

// Size is the writable disk's bytes on the host, and with the image's
// ("virtual"), as docker ps -s shows; "0B" without -s.
func (r containerRow) Size() string {
	if r.header {
		return "SIZE"
	}
	if !r.sized {
		return units.Size(0)
	}
	return fmt.Sprintf("%s (virtual %s)", units.Size(r.sizeRW), units.Size(r.sizeRW+r.sizeImage))
}

// Names is its name (docker may list several; Berth has one).
func (r containerRow) Names() string {
	if r.header {
		return "NAMES"
	}
	return r.c.Name
}

// Labels are its labels as "k=v,k2=v2", sorted.
func (r containerRow) Labels() string {
	if r.header {
		return "LABELS"
	}
	var kv []string
	for k, v := range r.c.Spec.Labels {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// Label is the value of one label: {{.Label "com.example.tier"}}.
func (r containerRow) Label(name string) string {
	if r.header {
		return "LABEL"
	}
	return r.c.Spec.Labels[name]
}

// Mounts are its volumes' names and bind mounts' host paths.
func (r containerRow) Mounts() string {
	if r.header {
		return "MOUNTS"
	}
	var out []string
	for _, m := range r.c.Spec.Mounts {
		name := m.Source
		if m.Type == api.MountTmpfs {
			continue
		}
		if r.trunc {
			name = ellipsis(name, 15)
		}
		out = append(out, name)
	}
	return strings.Join(out, ",")
}

// LocalVolumes counts its volumes.
func (r containerRow) LocalVolumes() string {
	if r.header {
		return "LOCAL VOLUMES"
	}
	n := 0
	for _, m := range r.c.Spec.Mounts {
		if m.Type == api.MountVolume {
			n++
		}
	}
	return strconv.Itoa(n)
}

// Networks are the networks it is on.
func (r containerRow) Networks() string {
	if r.header {
		return "NETWORKS"
	}
	var out []string
	for _, n := range r.c.Networks {
		out = append(out, n.Network)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// selectContainers is what docker ps lists of list (newest first): the
// running containers unless all, last > 0 (the last n created) or a status
// filter, that pass every filter.
func selectContainers(list []api.Container, f filterArgs, all bool, last int) ([]api.Container, error) {
	all = all || last > 0 || len(f["status"]) > 0
	pf, err := newPSFilter(f, list)
	if err != nil {
		return nil, err
	}
	var kept []api.Container
	for _, c := range list {
		if (all || c.State.Active()) && pf.keep(c) && (last <= 0 || len(kept) < last) {
			kept = append(kept, c)
		}
	}
	return kept, nil
}

// filterError reads as docker's filter errors ("invalid filter 'KEY'")
// and is also the api sentinel kind says (exit status, errors.Is).
type filterError struct {
	msg  string
	kind error
}

func (e *filterError) Error() string        { return e.msg }
func (e *filterError) Is(target error) bool { return target == e.kind }

func invalidFilter(s string) error {
	return &filterError{"invalid filter '" + s + "'", api.ErrInvalidArgument}
}

// filterArgs are docker's --filter KEY=VALUE flags: values of one key are
// alternatives (OR), keys must all match (AND).
type filterArgs map[string][]string

// parseKnownFilters reads --filter flags (parseFilters), refusing keys
// not in known with docker's message.
func parseKnownFilters(flags []string, known ...string) (filterArgs, error) {
	f, err := parseFilters(flags)
	if err != nil {
		return nil, &usageError{err: err}
	}
	for k := range f {
		if !contains(known, k) {
			return nil, invalidFilter(k)
		}
	}
	return f, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// any reports whether some value of key passes match; a key not given
// passes.
func (f filterArgs) any(key string, match func(v string) bool) bool {
	vs, ok := f[key]
	if !ok {
		return true
	}
	for _, v := range vs {
		if match(v) {
			return true
		}
	}
	return false
}

// matchLabel is docker's label filter: "k" has the label, "k=v" has it
// with that value.
func matchLabel(labels map[string]string, v string) bool {
	k, want, hasValue := strings.Cut(v, "=")
	got, ok := labels[k]
	return ok && (!hasValue || got == want)
}

// matchPattern is docker's name and id filters: the value is a regular
// expression found anywhere in s (so a plain value matches a substring).
func matchPattern(pattern, s string) bool {
	if pattern == s {
		return true
	}
	re, err := regexp.Compile(pattern)
	return err == nil && re.MatchString(s)
}

// psFilterKeys are the filters berth ps takes: docker's, less health,
// isolation and is-task, which have no meaning for a VM per container.
var psFilterKeys = []string{"id", "name", "label", "status", "ancestor", "before", "since", "exited", "network", "volume", "publish", "expose"}

// dockerStates are docker's status filter's words.
var dockerStates = []string{"created", "restarting", "running", "removing", "paused", "exited", "dead"}

// psFilter decides which containers a set of filters keeps; list is every
// container (for before and since), images resolves an ancestor filter's
// value to image digests.
type psFilter struct {
	f             filterArgs
	before, since *api.Container
	exited        []int
}

func newPSFilter(f filterArgs, list []api.Container) (*psFilter, error) {
	p := &psFilter{f: f}
	for _, v := range f["status"] {
		if !contains(dockerStates, v) {
			return nil, invalidFilter("status=" + v)
		}
	}
	for _, v := range f["exited"] {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, invalidFilter("exited=" + v)
		}
		p.exited = append(p.exited, n)
	}
	for _, key := range []string{"before", "since"} {
		for _, v := range f[key] {
			c := findContainer(list, v)
			if c == nil {
				return nil, &filterError{"no such container: " + v, api.ErrNotFound}
			}
			if key == "before" {
				p.before = c
			} else {
				p.since = c
			}
		}
	}
	return p, nil
}

// findContainer finds a container by name, id or unique id prefix.
func findContainer(list []api.Container, ref string) *api.Container {
	var found *api.Container
	for i, c := range list {
		if c.Name == ref || c.ID == ref {
			return &list[i]
		}
		if strings.HasPrefix(c.ID, ref) {
			if found != nil {
				return nil
			}
			found = &list[i]
		}
	}
	return found
}

func (p *psFilter) keep(c api.Container) bool {
	f := p.f
	return f.any("id", func(v string) bool { return matchPattern(v, c.ID) }) &&
		f.any("name", func(v string) bool { return matchPattern(v, "/"+c.Name) }) &&
		f.any("label", func(v string) bool { return matchLabel(c.Spec.Labels, v) }) &&
		f.any("status", func(v string) bool { return v == types.DockerStatus(c.State) }) &&
		f.any("ancestor", func(v string) bool { return matchAncestor(v, c) }) &&
		f.any("network", func(v string) bool { return onNetwork(c, v) }) &&
		f.any("volume", func(v string) bool { return hasVolume(c, v) }) &&
		f.any("publish", func(v string) bool { return matchPort(v, c, false) }) &&
		f.any("expose", func(v string) bool { return matchPort(v, c, true) }) &&
		(len(p.exited) == 0 || c.State == api.StateExited && containsInt(p.exited, c.ExitCode)) &&
		(p.before == nil || c.Created.Before(p.before.Created) && c.ID != p.before.ID) &&
		(p.since == nil || c.Created.After(p.since.Created) && c.ID != p.since.ID)
}

func containsInt(list []int, n int) bool {
	for _, v := range list {
		if v == n {
			return true
		}
	}
	return false
}

// matchAncestor is docker's ancestor filter without image parents (Berth's
// images have none): the image's name, with or without its tag or
// registry, or a prefix of its digest.
func matchAncestor(v string, c api.Container) bool {
	if d := strings.TrimPrefix(c.ImageID, "sha256:"); len(v) >= 4 && strings.HasPrefix(d, strings.TrimPrefix(v, "sha256:")) {
		return true
	}
	return normalizeRef(v) == normalizeRef(c.Image)
}

// normalizeRef spells a reference in full: "alpine" is
// "docker.io/library/alpine:latest".
func normalizeRef(ref string) string {
	name := ref
	if i := strings.Index(name, "@"); i >= 0 {
		return name
	}
	if i := strings.LastIndex(name, ":"); i <= strings.LastIndex(name, "/") {
		name += ":latest"
	}
	first, _, found := strings.Cut(name, "/")
	switch {
	case !found:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		name = "docker.io/" + name
	}
	return name
}

func onNetwork(c api.Container, v string) bool {
	for _, n := range c.Networks {
		if n.Network == v || n.NetworkID == v || len(v) >= 4 && strings.HasPrefix(n.NetworkID, v) {
			return true
		}
	}
	return false
}

// hasVolume is docker's volume filter: a volume's name or a mount point.
func hasVolume(c api.Container, v string) bool {
	for _, m := range c.Spec.Mounts {
		if m.Target == v || m.Type == api.MountVolume && m.Source == v {
			return true
		}
	}
	return false
}

// matchPort is docker's publish and expose filters: "80", "80/udp" or a
// range "8000-8080/tcp" of container ports (tcp when no protocol is given).
func matchPort(v string, c api.Container, exposed bool) bool {
	spec, proto, _ := strings.Cut(v, "/")
	if proto == "" {
		proto = "tcp"
	}
	lo, hi, isRange := strings.Cut(spec, "-")
	from, err1 := strconv.Atoi(lo)
	to := from
	var err2 error
	if isRange {
		to, err2 = strconv.Atoi(hi)
	}
	if err1 != nil || err2 != nil {
		return false
	}
	check := func(port int, p string) bool {
		if p == "" {
			p = "tcp"
		}
		return p == proto && port >= from && port <= to
	}
	for _, p := range c.Ports {
		if check(p.ContainerPort, p.Proto) {
			return true
		}
	}
	if exposed {
		for _, p := range c.Spec.Ports {
			if check(p.ContainerPort, p.Proto) {
				return true
			}
		}
	}
	return false
}

// writableSize is the bytes the container's writable disk occupies on the
// host (the daemon's file, beside the CLI on the same machine); 0 where it
// cannot be read.
func writableSize(c api.Container) int64 {
	fi, err := os.Stat(filepath.Join(c.Dir, "rw.ext4"))
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
