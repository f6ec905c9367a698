package main

// TestChaos is a seeded fault-injection harness (make chaos): each trial
// runs one state-changing operation through the CLI and SIGKILLs, after a
// delay drawn from the seed, the daemon, a VM's host process (QEMU on
// Linux) or a network's process (berth net-host). Then it lets the next
// daemon settle and checks the invariants that must hold whatever the
// moment of the kill: no container stuck between states, running
// containers answer exec, processes and files on disk match the state
// exactly, images are whole or absent, ports and addresses agree.
//
// The trials share one data dir, as a user's daemon would: leaks
// accumulate and every later trial's checks still see them.
//
//	CHAOS_SEED=N    the seed (default 1; "random" draws one and prints it)
//	CHAOS_TRIALS=N  how many trials (default 6, what make test runs)
//
// The same seed gives the same operations, targets and delays; where in
// the operation a delay lands still depends on the machine's speed.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi/types"
	"github.com/berthvm/berth/core/image/registrytest"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
)

// What a trial kills.
const (
	targetDaemon = "daemon"
	targetVM     = "vm"
	targetNet    = "net"
)

// maxRunning bounds the VMs the harness keeps up at once (2 cores, shared).
const maxRunning = 3

// chaos is the world the trials share.
type chaos struct {
	t    *testing.T
	home string
	// dir is home's parent: it also holds the bind-mounted folder, so
	// that every process a trial leaves names it on its command line.
	dir  string
	reg  string // the loopback registry's host:port
	base v1.Image
}

// chaosTrial is one trial: drawn from the seed before anything runs.
type chaosTrial struct {
	n      int
	op     chaosOp
	target string
	frac   float64       // where in the op's typical duration the kill lands
	delay  time.Duration // frac × the op's typical duration
	// Options drawn for the ops that make containers.
	network, port, volume, bind bool
	pick                        uint64 // picks among existing objects

	// Filled as the trial runs.
	container string // the container the op acts on, if any
	netName   string // the network it acts on or the container joins
	image     string // the image the op makes, if any
	killed    string // what was killed, for the report
}

func (tr *chaosTrial) String() string {
	return fmt.Sprintf("trial %d: %s, kill %s after %v (%.2f of %v)", tr.n, tr.op.name, tr.target,
		tr.delay.Round(time.Millisecond), tr.frac, tr.op.typical)
}

// chaosOp is an operation under fire. prepare (not killed) makes what it
// needs; cmd is the berth command the kill races.
type chaosOp struct {
	name    string
	typical time.Duration
	targets []string
	prepare func(c *chaos, tr *chaosTrial)
	cmd     func(c *chaos, tr *chaosTrial) []string
}

var chaosOps = []chaosOp{
	{name: "run", typical: 4 * time.Second, targets: []string{targetDaemon, targetVM, targetNet},
		cmd: func(c *chaos, tr *chaosTrial) []string {
			tr.container = fmt.Sprintf("c%d", tr.n)
			return c.runArgs(tr, "run", "-d")
		}},
	{name: "start", typical: 3 * time.Second, targets: []string{targetDaemon, targetVM, targetNet},
		prepare: func(c *chaos, tr *chaosTrial) {
			tr.container = fmt.Sprintf("c%d", tr.n)
			c.must(tr, c.runArgs(tr, "create")...)
		},
		cmd: func(c *chaos, tr *chaosTrial) []string { return []string{"start", tr.container} }},
	{name: "stop", typical: 2 * time.Second, targets: []string{targetDaemon, targetVM, targetNet},
		prepare: func(c *chaos, tr *chaosTrial) { c.pickRunning(tr) },
		cmd:     func(c *chaos, tr *chaosTrial) []string { return []string{"stop", "-t", "2", tr.container} }},
	{name: "kill", typical: time.Second, targets: []string{targetDaemon, targetVM},
		prepare: func(c *chaos, tr *chaosTrial) { c.pickRunning(tr) },
		cmd:     func(c *chaos, tr *chaosTrial) []string { return []string{"kill", tr.container} }},
	{name: "rm", typical: 1500 * time.Millisecond, targets: []string{targetDaemon, targetVM, targetNet},
		prepare: func(c *chaos, tr *chaosTrial) { c.pickRunning(tr) },
		cmd:     func(c *chaos, tr *chaosTrial) []string { return []string{"rm", "-f", tr.container} }},
	// The first run exits 3 and the policy starts it again; the second
	// serves. The kill lands on the run, the exit or the restart.
	{name: "restart-policy", typical: 9 * time.Second, targets: []string{targetDaemon, targetVM, targetNet},
		cmd: func(c *chaos, tr *chaosTrial) []string {
			tr.container = fmt.Sprintf("c%d", tr.n)
			return c.runArgs(tr, "run", "-d", "--restart", "on-failure:3")
		}},
	{name: "exec", typical: 1500 * time.Millisecond, targets: []string{targetDaemon, targetVM},
		prepare: func(c *chaos, tr *chaosTrial) { c.pickRunning(tr) },
		cmd: func(c *chaos, tr *chaosTrial) []string {
			return []string{"exec", tr.container, "sh", "-c", "echo chaos > /tmp/chaos && sleep 1"}
		}},
	{name: "pull", typical: time.Second, targets: []string{targetDaemon},
		prepare: func(c *chaos, tr *chaosTrial) {
			tr.image = fmt.Sprintf("%s/chaos/pull:t%d", c.reg, tr.n)
			ref, err := name.ParseReference(tr.image)
			if err != nil {
				c.t.Fatal(err)
			}
			if err := remote.Write(ref, c.image()); err != nil {
				c.t.Fatalf("%s: push %s: %v", tr, tr.image, err)
			}
		},
		cmd: func(c *chaos, tr *chaosTrial) []string { return []string{"image", "pull", tr.image} }},
	{name: "load", typical: time.Second, targets: []string{targetDaemon},
		prepare: func(c *chaos, tr *chaosTrial) {
			tr.image = fmt.Sprintf("chaos/load:t%d", tr.n)
			tag, err := name.NewTag(tr.image)
			if err != nil {
				c.t.Fatal(err)
			}
			if err := tarball.WriteToFile(c.tarball(tr), tag, c.image()); err != nil {
				c.t.Fatalf("%s: write the tarball: %v", tr, err)
			}
		},
		cmd: func(c *chaos, tr *chaosTrial) []string { return []string{"image", "load", "-i", c.tarball(tr)} }},
	{name: "network-create", typical: 300 * time.Millisecond, targets: []string{targetDaemon},
		cmd: func(c *chaos, tr *chaosTrial) []string {
			tr.netName = fmt.Sprintf("n%d", tr.n)
			return []string{"network", "create", tr.netName}
		}},
	{name: "network-rm", typical: 300 * time.Millisecond, targets: []string{targetDaemon},
		prepare: func(c *chaos, tr *chaosTrial) {
			tr.netName = fmt.Sprintf("n%d", tr.n)
			c.must(tr, "network", "create", tr.netName)
		},
		cmd: func(c *chaos, tr *chaosTrial) []string { return []string{"network", "rm", tr.netName} }},
	{name: "volume-create", typical: 500 * time.Millisecond, targets: []string{targetDaemon},
		cmd: func(c *chaos, tr *chaosTrial) []string { return []string{"volume", "create", fmt.Sprintf("v%d", tr.n)} }},
	{name: "volume-rm", typical: 300 * time.Millisecond, targets: []string{targetDaemon},
		prepare: func(c *chaos, tr *chaosTrial) { c.must(tr, "volume", "create", fmt.Sprintf("v%d", tr.n)) },
		cmd:     func(c *chaos, tr *chaosTrial) []string { return []string{"volume", "rm", fmt.Sprintf("v%d", tr.n)} }},
}

// chaosSeed reads CHAOS_SEED and CHAOS_TRIALS.
func chaosSeed(t *testing.T) (seed uint64, trials int) {
	seed, trials = 1, 6
	switch s := os.Getenv("CHAOS_SEED"); s {
	case "":
	case "random":
		seed = rand.Uint64() % 1_000_000_000
	default:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: want a number or random", s)
		}
		seed = n
	}
	if s := os.Getenv("CHAOS_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("CHAOS_TRIALS=%q: want a positive number", s)
		}
		trials = n
	}
	return seed, trials
}

// drawTrials draws every trial from seed up front, with a fixed number of
// draws each, so that a seed names one sequence whatever happens.
func drawTrials(seed uint64, n int) []*chaosTrial {
	rng := rand.New(rand.NewPCG(seed, 0x62657274))
	out := make([]*chaosTrial, n)
	for i := range out {
		tr := &chaosTrial{n: i + 1, op: chaosOps[rng.IntN(len(chaosOps))]}
		roll := rng.Float64()
		tr.frac = rng.Float64() * 1.25 // past the end too: the kill after the op
		tr.network, tr.port, tr.volume, tr.bind = rng.IntN(2) == 0, rng.IntN(3) == 0, rng.IntN(3) == 0, rng.IntN(4) == 0
		tr.pick = rng.Uint64()
		tr.delay = time.Duration(tr.frac * float64(tr.op.typical))
		// 60% the daemon, 25% the VM, 15% the network, where the op has one.
		tr.target = targetDaemon
		switch {
		case roll >= 0.85 && slices.Contains(tr.op.targets, targetNet):
			tr.target = targetNet
		case roll >= 0.6 && slices.Contains(tr.op.targets, targetVM):
			tr.target = targetVM
		}
		out[i] = tr
	}
	return out
}

func TestChaos(t *testing.T) {
	seed, n := chaosSeed(t)
	t.Logf("chaos: CHAOS_SEED=%d CHAOS_TRIALS=%d", seed, n)
	home := vmHome(t)
	reg := registrytest.Start(t, registrytest.Options{})
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	base, err := tarball.ImageFromPath(filepath.Join("..", "..", "resources", "demo", "demo-"+goruntime.GOARCH+".tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &chaos{t: t, home: home, dir: filepath.Dir(home), reg: reg.Host, base: base}
	if err := os.MkdirAll(filepath.Join(c.dir, "share"), 0o755); err != nil {
		t.Fatal(err)
	}
	c.must(nil, "network", "create", "chaosnet")
	c.must(nil, "volume", "create", "chaosvol")
	for _, tr := range drawTrials(seed, n) {
		start := time.Now()
		t.Logf("%s", tr)
		c.trial(tr)
		if v := c.check(tr); len(v) > 0 {
			t.Fatalf("CHAOS_SEED=%d %s (killed: %s)\ninvariants violated:\n  %s\nreproduce: CHAOS_SEED=%d CHAOS_TRIALS=%d go test ./app/berth -run 'TestChaos$' -count=1 -v",
				seed, tr, tr.killed, strings.Join(v, "\n  "), seed, tr.n)
		}
		t.Logf("trial %d ok in %v (killed: %s)", tr.n, time.Since(start).Round(time.Millisecond), tr.killed)
	}
}

// must runs berth and fails the test, naming the trial, if it fails.
func (c *chaos) must(tr *chaosTrial, args ...string) string {
	c.t.Helper()
	r := berth(c.t, c.home, args...)
	if r.code != 0 {
		c.t.Fatalf("%v: berth %s: exit %d\n%s", tr, strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// runArgs is a create or run of tr.container with the trial's options.
func (c *chaos) runArgs(tr *chaosTrial, verb string, flags ...string) []string {
	args := append([]string{verb, "--name", tr.container}, small...)
	args = append(args, flags...)
	if tr.network {
		tr.netName = "chaosnet"
		args = append(args, "--network", "chaosnet")
	}
	if tr.port {
		args = append(args, "-p", fmt.Sprintf("127.0.0.1:%d:80", freePort(c.t)))
	}
	if tr.volume {
		args = append(args, "-v", "chaosvol:/data")
	}
	if tr.bind {
		args = append(args, "-v", filepath.Join(c.dir, "share")+":/share:ro")
	}
	// A server that fails its first run: the restart policy's case (the
	// writable disk keeps /once across restarts). Without a policy the
	// first run serves too.
	once := ""
	if slices.Contains(flags, "--restart") {
		once = "[ -f /once ] || { touch /once; sync; exit 3; }; "
	}
	return append(args, "berth/demo", "sh", "-c", once+"mkdir -p /www && echo chaos > /www/index.html && exec httpd -f -p 80 -h /www")
}

// image is the trial's own image: the demo image and a small layer of
// its own, so that each pull or load has a new manifest, config and layer.
func (c *chaos) image() v1.Image {
	l, err := random.Layer(64<<10, ggcrtypes.DockerLayer)
	if err != nil {
		c.t.Fatal(err)
	}
	img, err := mutate.AppendLayers(c.base, l)
	if err != nil {
		c.t.Fatal(err)
	}
	return img
}

func (c *chaos) tarball(tr *chaosTrial) string {
	return filepath.Join(c.dir, fmt.Sprintf("load-%d.tar", tr.n))
}

// pickRunning sets tr.container to a running container (tr.pick chooses),
// running one first if none runs.
func (c *chaos) pickRunning(tr *chaosTrial) {
	var running []api.Container
	for _, ct := range listAll(c.t, c.home) {
		if ct.State == api.StateRunning {
			running = append(running, ct)
		}
	}
	if len(running) == 0 {
		tr.container = fmt.Sprintf("c%d", tr.n)
		c.must(tr, c.runArgs(tr, "run", "-d")...)
		return
	}
	sort.Slice(running, func(i, j int) bool { return running[i].Name < running[j].Name })
	ct := running[tr.pick%uint64(len(running))]
	tr.container = ct.Name
	if len(ct.Networks) > 0 {
		tr.netName = ct.Networks[0].Network
	}
}

// housekeep keeps the VMs and records few, oldest first, before a trial.
func (c *chaos) housekeep(tr *chaosTrial) {
	all := listAll(c.t, c.home)
	sort.Slice(all, func(i, j int) bool { return all[i].Created.Before(all[j].Created) })
	running, total := 0, len(all)
	for _, ct := range all {
		if ct.State == api.StateRunning || ct.State == api.StateRestarting {
			running++
		}
	}
	for _, ct := range all {
		up := ct.State == api.StateRunning || ct.State == api.StateRestarting
		if (up && running >= maxRunning) || (!up && total > 8) {
			c.must(tr, "rm", "-f", ct.ID)
			total--
			if up {
				running--
			}
		}
	}
}

// trial runs tr's op and kills its target after its delay.
func (c *chaos) trial(tr *chaosTrial) {
	c.housekeep(tr)
	if tr.op.prepare != nil {
		tr.op.prepare(c, tr)
	}
	before := map[int]bool{}
	for _, p := range c.procs() {
		before[p.pid] = true
	}
	args := tr.op.cmd(c, tr) // names the op's container and network
	// The container's VM and network, known before the op when it has one.
	vmPID, netID := 0, ""
	if tr.container != "" && tr.op.name != "run" && tr.op.name != "restart-policy" {
		if ct, ok := c.findContainer(tr.container); ok {
			vmPID = ct.PID
		}
	}
	if tr.netName != "" {
		netID = c.networkID(tr.netName)
	}
	cmd := exec.Command(berthBin, args...)
	cmd.Env = append(os.Environ(), "BERTH_HOME="+c.home)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(tr.delay)
	tr.killed = c.kill(tr, before, vmPID, netID)
	var left []string
	for _, p := range c.procs() {
		left = append(left, fmt.Sprintf("%d %s", p.pid, p.short()))
	}
	c.t.Logf("killed %s; processes under the data dir: %s", tr.killed, strings.Join(left, "; "))
	select {
	case err := <-done:
		c.t.Logf("berth %s: %v\n%s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	case <-time.After(3 * time.Minute): // a hang guard
		cmd.Process.Kill()
		c.t.Fatalf("%s: berth %s hung after the kill of %s\n%s", tr, strings.Join(args, " "), tr.killed, out.String())
	}
}

// kill SIGKILLs tr's target and says what it killed.
func (c *chaos) kill(tr *chaosTrial, before map[int]bool, vmPID int, netID string) string {
	var victim proc
	switch tr.target {
	case targetDaemon:
		pid := daemonPID(c.home)
		if pid == 0 || syscall.Kill(pid, 0) != nil {
			return "nothing (no daemon)"
		}
		syscall.Kill(pid, syscall.SIGKILL)
		waitGone(c.t, pid)
		return fmt.Sprintf("daemon pid %d", pid)
	case targetVM:
		victim = c.victim(before, tr.pick, "qemu-system", func(p proc) bool {
			return p.pid == vmPID
		})
	case targetNet:
		victim = c.victim(before, tr.pick, "net-host", func(p proc) bool {
			return netID != "" && strings.Contains(p.cmdline, "/networks/"+api.ShortID(netID))
		})
	}
	if victim.pid == 0 {
		return "nothing (no " + tr.target + " process to kill)"
	}
	syscall.Kill(victim.pid, syscall.SIGKILL)
	return fmt.Sprintf("%s pid %d (%s)", tr.target, victim.pid, victim.short())
}

// victim is the process of kind the trial is about: the one mine names,
// else one started during the op, else one of the others (pick chooses:
// a crash elsewhere during the op), else none.
func (c *chaos) victim(before map[int]bool, pick uint64, kind string, mine func(proc) bool) proc {
	var fresh proc
	var others []proc
	for _, p := range c.procs() {
		if !strings.Contains(p.cmdline, kind) {
			continue
		}
		if mine(p) {
			return p
		}
		if !before[p.pid] && p.pid > fresh.pid {
			fresh = p
		}
		others = append(others, p)
	}
	if fresh.pid != 0 || len(others) == 0 {
		return fresh
	}
	sort.Slice(others, func(i, j int) bool { return others[i].cmdline < others[j].cmdline })
	return others[pick%uint64(len(others))]
}

// proc is a process whose command line names the chaos data dir.
type proc struct {
	pid     int
	cmdline string // arguments joined by spaces
}

func (p proc) short() string {
	f := strings.Fields(p.cmdline)
	return strings.Join(f[:min(len(f), 3)], " ")
}

func (p proc) arg(flag string) string {
	f := strings.Fields(p.cmdline)
	if i := slices.Index(f, flag); i >= 0 && i+1 < len(f) {
		return f[i+1]
	}
	return ""
}

// procs lists the live processes whose command line names the trial's
// data dir (zombies have none).
func (c *chaos) procs() []proc {
	var out []proc
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(raw), c.dir+"/") {
			continue
		}
		out = append(out, proc{pid: pid, cmdline: strings.ReplaceAll(strings.TrimRight(string(raw), "\x00"), "\x00", " ")})
	}
	return out
}

// ppid is pid's parent, 0 if unknown.
func ppid(pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// After "pid (comm) state": comm may hold spaces, not ")".
	_, rest, _ := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

func (c *chaos) findContainer(ref string) (api.Container, bool) {
	for _, ct := range listAll(c.t, c.home) {
		if ct.Name == ref || ct.ID == ref {
			return ct, true
		}
	}
	return api.Container{}, false
}

func (c *chaos) networks() []api.Network {
	var list []api.Network
	if err := json.Unmarshal([]byte(c.must(nil, "network", "ls", "--format", "json")), &list); err != nil {
		c.t.Fatalf("network ls: %v", err)
	}
	return list
}

func (c *chaos) networkID(name string) string {
	for _, n := range c.networks() {
		if n.Name == name {
			return n.ID
		}
	}
	return ""
}

// settle waits for the next daemon to finish what the kill interrupted:
// no container between states, every running one's VM alive. What does
// not settle in time is a violation.
func (c *chaos) settle() (all []api.Container, stuck []string) {
	deadline := time.Now().Add(2 * time.Minute) // a hang guard
	for {
		all, stuck = listAll(c.t, c.home), nil
		for _, ct := range all {
			switch {
			case ct.State == api.StateStarting || ct.State == api.StateStopping || ct.State == api.StateRestarting:
				stuck = append(stuck, fmt.Sprintf("container %s (%s) stuck %s", ct.Name, api.ShortID(ct.ID), ct.State))
			case ct.State == api.StateRunning && !alive(ct.PID):
				stuck = append(stuck, fmt.Sprintf("container %s (%s) running with no VM: pid %d is gone", ct.Name, api.ShortID(ct.ID), ct.PID))
			}
		}
		if len(stuck) == 0 || time.Now().After(deadline) {
			return all, stuck
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// check lets the daemon settle and returns the invariants tr left broken,
// each with its evidence. A container may still change by itself once
// settled (a restart policy starts again the run a kill ended): a check
// during which the containers or networks changed state is not evidence,
// and is made again.
func (c *chaos) check(tr *chaosTrial) []string {
	for range 5 {
		all, v := c.settle()
		if len(v) > 0 {
			return v
		}
		before := c.fingerprint(all, c.networks())
		v = c.checkOnce(tr, all)
		if len(v) == 0 {
			return nil
		}
		if after := c.fingerprint(listAll(c.t, c.home), c.networks()); after == before {
			return v
		}
		c.t.Logf("trial %d: state changed during the check, checking again; seen meanwhile:\n  %s", tr.n, strings.Join(v, "\n  "))
	}
	return []string{"the state never held still for a whole check"}
}

// fingerprint is what a check assumes does not change under it.
func (c *chaos) fingerprint(all []api.Container, nets []api.Network) string {
	var b strings.Builder
	for _, ct := range all {
		fmt.Fprintf(&b, "%s %s %d %d %v|", ct.ID, ct.State, ct.PID, ct.RestartCount, ct.Started)
	}
	for _, n := range nets {
		fmt.Fprintf(&b, "%s %s|", n.ID, n.State)
	}
	return b.String()
}

func (c *chaos) checkOnce(tr *chaosTrial, all []api.Container) (v []string) {
	nets := c.networks()
	var vols []api.Volume
	if err := json.Unmarshal([]byte(c.must(tr, "volume", "ls", "--format", "json")), &vols); err != nil {
		c.t.Fatalf("volume ls: %v", err)
	}
	var images []types.ImageInspect
	if ids := strings.Fields(c.must(tr, "image", "ls", "-q", "--no-trunc")); len(ids) > 0 {
		if err := json.Unmarshal([]byte(c.must(tr, append([]string{"image", "inspect"}, ids...)...)), &images); err != nil {
			c.t.Fatalf("image inspect: %v", err)
		}
	}
	v = append(v, c.checkExec(all)...)
	v = append(v, c.checkProcs(all, nets)...)
	v = append(v, c.checkFiles(all, nets, vols, images, strings.HasPrefix(tr.killed, "daemon"))...)
	v = append(v, c.checkNet(all)...)
	if len(v) == 0 && tr.image != "" {
		v = append(v, c.checkImage(tr, images)...)
	}
	return v
}

// checkExec: every container the state says runs answers exec.
func (c *chaos) checkExec(all []api.Container) (v []string) {
	for _, ct := range all {
		if ct.State != api.StateRunning {
			continue
		}
		if r := berth(c.t, c.home, "exec", ct.ID, "echo", "alive"); r.code != 0 || r.stdout != "alive\n" {
			v = append(v, fmt.Sprintf("running container %s (%s, VM pid %d) does not answer exec: exit %d %q %s",
				ct.Name, api.ShortID(ct.ID), ct.PID, r.code, r.stdout, strings.TrimSpace(r.stderr)))
		}
	}
	return v
}

// checkProcs: the VMs, network processes and virtiofsd processes that run
// are exactly those of running containers and networks.
func (c *chaos) checkProcs(all []api.Container, nets []api.Network) (v []string) {
	vms := map[string]api.Container{} // by short id
	shares := 0                       // virtiofsd processes the running containers need
	for _, ct := range all {
		if ct.State != api.StateRunning && ct.State != api.StatePaused {
			continue
		}
		vms[api.ShortID(ct.ID)] = ct
		for _, m := range ct.Spec.Mounts {
			if m.Type == api.MountBind {
				shares++
			}
		}
	}
	running := map[string]api.Network{}
	for _, n := range nets {
		if n.State == api.NetworkRunning {
			running[api.ShortID(n.ID)] = n
		}
	}
	seenVM, seenNet, virtiofsd := map[string]int{}, map[string]int{}, []string{}
	daemon := daemonPID(c.home)
	for _, p := range c.procs() {
		switch {
		case strings.Contains(p.cmdline, "qemu-system"):
			short := strings.TrimPrefix(p.arg("-name"), "berth-")
			ct, ok := vms[short]
			switch {
			case !ok:
				v = append(v, fmt.Sprintf("orphan VM: pid %d (%s) for container %s, which is not recorded running", p.pid, p.short(), short))
			case ct.PID != p.pid:
				v = append(v, fmt.Sprintf("VM pid %d of container %s is not its recorded pid %d", p.pid, ct.Name, ct.PID))
			}
			seenVM[short]++
		case strings.Contains(p.cmdline, " net-host "):
			short := filepath.Base(strings.Fields(p.cmdline)[2])
			if _, ok := running[short]; !ok {
				v = append(v, fmt.Sprintf("orphan network process: pid %d (%s), network %s not recorded running", p.pid, p.cmdline, short))
			}
			seenNet[short]++
		case strings.Contains(p.cmdline, "virtiofsd"):
			// C virtiofsd forks once into its sandbox: one share, two processes.
			if parent, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", ppid(p.pid))); !strings.Contains(string(parent), "virtiofsd") {
				virtiofsd = append(virtiofsd, fmt.Sprintf("pid %d (%s)", p.pid, p.cmdline))
			}
		case p.pid != daemon:
			v = append(v, fmt.Sprintf("unknown process under the data dir: pid %d (%s)", p.pid, p.cmdline))
		}
	}
	for short, ct := range vms {
		if seenVM[short] != 1 {
			v = append(v, fmt.Sprintf("container %s (%s) is recorded running with VM pid %d, but %d VM processes run for it", ct.Name, short, ct.PID, seenVM[short]))
		}
	}
	for short, n := range running {
		if seenNet[short] != 1 {
			v = append(v, fmt.Sprintf("network %s (%s) is recorded running, but %d network processes run for it", n.Name, short, seenNet[short]))
		}
	}
	if len(virtiofsd) != shares {
		v = append(v, fmt.Sprintf("%d virtiofsd processes run for %d bind mounts of running containers: %v", len(virtiofsd), shares, virtiofsd))
	}
	return v
}

// checkFiles: what is on disk under the data dir is what the state
// records: container, run, network and volume directories, base disks and
// blobs. Unreferenced blobs are a leak only once a daemon has started
// since (it collects them as it opens the store).
func (c *chaos) checkFiles(all []api.Container, nets []api.Network, vols []api.Volume, images []types.ImageInspect, restarted bool) (v []string) {
	want := func(dir string, names map[string]bool, what string) {
		entries, _ := os.ReadDir(filepath.Join(c.home, dir))
		have := map[string]bool{}
		for _, e := range entries {
			have[e.Name()] = true
			if !names[e.Name()] {
				v = append(v, fmt.Sprintf("leftover %s: %s", what, filepath.Join(c.home, dir, e.Name())))
			}
		}
		for n := range names {
			if !have[n] {
				v = append(v, fmt.Sprintf("missing %s: %s", what, filepath.Join(c.home, dir, n)))
			}
		}
	}
	ctDirs, runDirs, netDirs, volDirs := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	disks := map[string]bool{} // base disks in use: images' and containers'
	for _, ct := range all {
		ctDirs[ct.ID] = true
		if ct.State == api.StateRunning || ct.State == api.StatePaused {
			runDirs[api.ShortID(ct.ID)] = true
		}
		disks[strings.TrimPrefix(ct.ImageID, "sha256:")+".ext4"] = true
	}
	for _, n := range nets {
		if n.State == api.NetworkRunning {
			netDirs[api.ShortID(n.ID)] = true
		}
	}
	for _, vol := range vols {
		volDirs[vol.Name] = true
		if _, err := os.Stat(vol.Mountpoint); err != nil {
			v = append(v, fmt.Sprintf("volume %s has no disk: %v", vol.Name, err))
		}
	}
	want("containers", ctDirs, "container directory")
	want("run", runDirs, "VM run directory")
	want("networks", netDirs, "network run directory")
	want("volumes", volDirs, "volume directory")

	blobs := map[string]bool{}
	for _, im := range images {
		disks[filepath.Base(im.Berth.Disk.Path)] = true
		if fi, err := os.Stat(im.Berth.Disk.Path); err != nil || fi.Size() == 0 {
			v = append(v, fmt.Sprintf("image %s %v has no base disk: %v", im.ID, im.RepoTags, err))
		}
		refs := []string{im.Berth.Digest, im.ID}
		for _, l := range im.Berth.Layers {
			refs = append(refs, l.Digest)
		}
		for _, d := range refs {
			hex := strings.TrimPrefix(d, "sha256:")
			blobs[hex] = true
			if _, err := os.Stat(filepath.Join(c.home, "content", "blobs", "sha256", hex)); err != nil {
				v = append(v, fmt.Sprintf("image %s %v is missing blob %s", im.ID, im.RepoTags, d))
			}
		}
	}
	entries, _ := os.ReadDir(filepath.Join(c.home, "rootfs"))
	for _, e := range entries {
		if e.Name() != "templates" && !disks[e.Name()] {
			v = append(v, fmt.Sprintf("leftover base disk: %s", filepath.Join(c.home, "rootfs", e.Name())))
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(c.home, "content", "tmp")); len(tmp) > 0 {
		v = append(v, fmt.Sprintf("leftover temp blobs in %s: %d, first %s", filepath.Join(c.home, "content", "tmp"), len(tmp), tmp[0].Name()))
	}
	if restarted {
		entries, _ := os.ReadDir(filepath.Join(c.home, "content", "blobs", "sha256"))
		for _, e := range entries {
			if !blobs[e.Name()] {
				v = append(v, fmt.Sprintf("blob no image references after a daemon start: %s", filepath.Join(c.home, "content", "blobs", "sha256", e.Name())))
			}
		}
	}
	return v
}

// checkNet: a port published by a running container listens; no two
// running containers hold one host port; no two containers share an
// address or a MAC on a network.
func (c *chaos) checkNet(all []api.Container) (v []string) {
	ports, addrs := map[string]string{}, map[string]string{}
	for _, ct := range all {
		for _, n := range ct.Networks {
			for _, key := range []string{n.Network + " " + n.IP, n.Network + " " + n.MAC} {
				if other, ok := addrs[key]; ok && !strings.HasSuffix(key, " ") {
					v = append(v, fmt.Sprintf("containers %s and %s share %s", other, ct.Name, key))
				}
				addrs[key] = ct.Name
			}
		}
		if ct.State != api.StateRunning {
			continue
		}
		for _, p := range ct.Ports {
			hostPort := net.JoinHostPort(p.HostIP, strconv.Itoa(p.HostPort))
			if other, ok := ports[hostPort]; ok {
				v = append(v, fmt.Sprintf("containers %s and %s both publish %s", other, ct.Name, hostPort))
			}
			ports[hostPort] = ct.Name
			conn, err := net.DialTimeout("tcp", hostPort, 5*time.Second)
			if err != nil {
				v = append(v, fmt.Sprintf("container %s publishes %s, which does not listen: %v", ct.Name, hostPort, err))
				continue
			}
			conn.Close()
		}
	}
	return v
}

// checkImage: the image the trial made is whole (it runs) or absent.
func (c *chaos) checkImage(tr *chaosTrial, images []types.ImageInspect) []string {
	for _, im := range images {
		if !slices.ContainsFunc(im.RepoTags, func(s string) bool { return strings.HasSuffix(tr.image, strings.TrimPrefix(s, "docker.io/")) }) {
			continue
		}
		if r := berth(c.t, c.home, append(run("--rm", tr.image), "cat", "/etc/hostname")...); r.code != 0 {
			return []string{fmt.Sprintf("image %s (%s) is listed but does not run: exit %d %s", tr.image, im.ID, r.code, r.stderr)}
		}
	}
	return nil
}
