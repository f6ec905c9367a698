//go:build linux

// Command bench measures Berth's VM cold start on this machine (make
// bench): the phases from disk preparation to the container's first
// output, the floor (the same QEMU and kernel booting an init that only
// prints and powers off), their ratio, and the host memory of an idle VM.
//
//	go run ./core/hypervisor/qemu/bench [-n 10] [-arch amd64]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/kernel"
)

func main() {
	n := flag.Int("n", 10, "runs per measurement (the median is reported)")
	arch := flag.String("arch", runtime.GOARCH, "guest arch")
	flag.StringVar(&extraCmdline, "cmdline", "", "extra guest kernel arguments (berth.debug prints agent phases to the console)")
	flag.BoolVar(&keepConsole, "console", false, "print the console of each Berth boot")
	flag.IntVar(&cpus, "cpus", 1, "guest CPUs (floor and Berth alike)")
	flag.BoolVar(&floorModules, "floor-modules", false, "put Berth's modules (unused) in the floor's initramfs too")
	flag.DurationVar(&settle, "settle", 10*time.Second, "idle time before measuring memory")
	flag.StringVar(&berthPath, "berth", "", "a built berth binary: also measure containers through the CLI and daemon")
	flag.Parse()
	if err := run(*n, hypervisor.Arch(*arch)); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var floorRE = regexp.MustCompile(`BERTH-FLOOR at (\d+)ms`)

var (
	floorInit    []time.Duration // floor: guest uptime when its init printed
	extraCmdline string
	keepConsole  bool
	cpus         int
	floorModules bool
	settle       time.Duration
)

type sample struct {
	prepare, execToKernel, kernelToInit, initToReady, readyToStarted, startedToOutput, total time.Duration
}

func run(n int, arch hypervisor.Arch) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "berth-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	k, err := kernel.Locate(string(arch))
	if err != nil {
		return err
	}
	kdir, _ := kernel.Dir()
	bb, err := kernel.Busybox(kdir, string(arch))
	if err != nil {
		return err
	}
	agentBin, err := hvtest.BuildAgent(ctx, arch, work)
	if err != nil {
		return err
	}
	floorBin := filepath.Join(work, "floorinit")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", floorBin, "./core/hypervisor/qemu/bench/floorinit")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+string(arch))
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build floorinit: %v: %s", err, out)
	}
	cache := filepath.Join(work, "initramfs")
	floorKernel := kernel.Kernel{Arch: k.Arch, Path: k.Path}
	if floorModules {
		// Same modules as Berth's initramfs, never loaded: isolates the
		// cost of the initramfs's size.
		floorKernel.ModulesDir = k.ModulesDir
	}
	floorInitrd, err := kernel.BuildInitramfs(ctx, kernel.InitramfsOptions{Kernel: floorKernel, Agent: floorBin, CacheDir: cache})
	if err != nil {
		return err
	}
	base, err := hvtest.BusyboxDisk(bb, filepath.Join(work, "base.ext4"))
	if err != nil {
		return err
	}
	d := qemu.New()
	accel := d.Accel(arch)
	fmt.Printf("host: %s guest, %d CPU, 256 MiB, accelerator %s (%s), kernel %s\n", arch, cpus, accel.Name, accel.Reason, k.Release)

	var samples []sample
	var floors []time.Duration
	for i := 0; i < n; i++ {
		// Interleaved, so both see the same machine load.
		f, err := floor(ctx, d, k, arch, floorInitrd, filepath.Join(work, fmt.Sprintf("f%d", i)))
		if err != nil {
			return fmt.Errorf("floor run %d: %w", i, err)
		}
		floors = append(floors, f)
		s, err := coldStart(ctx, d, k, arch, agentBin, cache, base, filepath.Join(work, fmt.Sprintf("b%d", i)))
		if err != nil {
			return fmt.Errorf("berth run %d: %w", i, err)
		}
		samples = append(samples, s)
		fmt.Fprintf(os.Stderr, "run %d: floor %v, berth %v\n", i+1, f.Round(time.Millisecond), s.total.Round(time.Millisecond))
	}
	med := func(get func(sample) time.Duration) time.Duration {
		var v []time.Duration
		for _, s := range samples {
			v = append(v, get(s))
		}
		return median(v)
	}
	fmt.Printf("\ncold start, median of %d:\n", n)
	rows := []struct {
		name string
		get  func(sample) time.Duration
	}{
		{"disk prepare (writable layer mkfs + initramfs cache check)", func(s sample) time.Duration { return s.prepare }},
		{"QEMU exec -> kernel start", func(s sample) time.Duration { return s.execToKernel }},
		{"kernel start -> agent (PID 1) start", func(s sample) time.Duration { return s.kernelToInit }},
		{"agent start -> agent ready (modules, port, handshake)", func(s sample) time.Duration { return s.initToReady }},
		{"agent ready -> process started (mounts, hostname, start)", func(s sample) time.Duration { return s.readyToStarted }},
		{"process started -> first output at the host", func(s sample) time.Duration { return s.startedToOutput }},
		{"QEMU exec -> first output (total)", func(s sample) time.Duration { return s.total }},
	}
	for _, r := range rows {
		fmt.Printf("  %-58s %8.1f ms\n", r.name, ms(med(r.get)))
	}
	fl, tot := median(floors), med(func(s sample) time.Duration { return s.total })
	fmt.Printf("  %-58s %8.1f ms\n", "floor: QEMU exec -> first output of a print-and-poweroff init", ms(fl))
	fmt.Printf("  %-58s %8.1f ms\n", "floor: kernel start -> its init printed", ms(median(floorInit)))
	fmt.Printf("  %-58s %8.2f (goal <= 1.15)\n", "ratio berth / floor (of the medians)", float64(tot)/float64(fl))
	// Each berth run follows its floor run: the ratio within a pair
	// cancels the drift of a shared, noisy machine.
	var pairs []float64
	for i := range samples {
		pairs = append(pairs, float64(samples[i].total)/float64(floors[i]))
	}
	slices.Sort(pairs)
	fmt.Printf("  %-58s %8.2f (goal <= 1.15)\n", "ratio berth / floor (median of paired runs)", pairs[len(pairs)/2])

	qrss, qpss, self, err := idleMemory(ctx, d, k, arch, agentBin, cache, base, filepath.Join(work, "idle"))
	if err != nil {
		return fmt.Errorf("idle memory: %w", err)
	}
	fmt.Printf("\nhost memory of one idle running VM (256 MiB guest):\n")
	fmt.Printf("  %-58s %8.1f MiB (PSS %.1f MiB)\n", "QEMU RSS", float64(qrss)/1024, float64(qpss)/1024)
	fmt.Printf("  %-58s %8.1f MiB\n", "this process (driver + agent client) RSS", float64(self)/1024)
	fmt.Printf("  %-58s %8.1f MiB\n", "total", float64(qrss+self)/1024)
	if berthPath != "" {
		return containerBench(ctx, n, fl)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(v []time.Duration) time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func vmConfig(id string, k kernel.Kernel, arch hypervisor.Arch, initrd, runDir string, disks ...hypervisor.Disk) hypervisor.VMConfig {
	return hypervisor.VMConfig{ID: id, Arch: arch, CPUs: cpus, MemoryMiB: 256, Kernel: k.Path, Initrd: initrd,
		RunDir: runDir, Disks: disks, Cmdline: strings.Fields(extraCmdline)}
}

func floor(ctx context.Context, d *qemu.Driver, k kernel.Kernel, arch hypervisor.Arch, initrd, dir string) (time.Duration, error) {
	cfg := vmConfig("floor", k, arch, initrd, filepath.Join(dir, "run"))
	cfg.ConsoleLog = filepath.Join(dir, "console.log")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	t0 := time.Now()
	m, err := d.Start(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer m.Kill()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(cfg.ConsoleLog)
		if sm := floorRE.FindSubmatch(b); sm != nil {
			el := time.Since(t0)
			up, _ := strconv.Atoi(string(sm[1]))
			floorInit = append(floorInit, time.Duration(up)*time.Millisecond)
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			return el, m.Wait(wctx)
		}
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("floor init printed nothing")
}

// prepare makes what a container start needs before QEMU runs: its
// writable layer and the (cached) initramfs.
func prepare(ctx context.Context, k kernel.Kernel, agentBin, cache, dir string) (initrd, upper string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	upper = filepath.Join(dir, "upper.ext4")
	if err := hvtest.MakeExt4(upper, 1024, ""); err != nil {
		return "", "", err
	}
	initrd, err = kernel.BuildInitramfs(ctx, kernel.InitramfsOptions{Kernel: k, Agent: agentBin, CacheDir: cache})
	return initrd, upper, err
}

func coldStart(ctx context.Context, d *qemu.Driver, k kernel.Kernel, arch hypervisor.Arch, agentBin, cache, base, dir string) (sample, error) {
	var s sample
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	initrd, upper, err := prepare(ctx, k, agentBin, cache, dir)
	if err != nil {
		return s, err
	}
	tExec := time.Now()
	s.prepare = tExec.Sub(t0)
	cfg := vmConfig("bench", k, arch, initrd, filepath.Join(dir, "run"),
		hypervisor.Disk{ID: "base", Path: base, ReadOnly: true}, hypervisor.Disk{ID: "upper", Path: upper})
	cfg.ConsoleLog = filepath.Join(dir, "console.log")
	if keepConsole {
		defer func() {
			b, _ := os.ReadFile(cfg.ConsoleLog)
			fmt.Fprintf(os.Stderr, "console:\n%s\n", b)
		}()
	}
	m, err := d.Start(ctx, cfg)
	if err != nil {
		return s, err
	}
	defer m.Kill()
	c, err := hvtest.Connect(ctx, m)
	if err != nil {
		return s, err
	}
	tReady := time.Now()
	info := c.Info()
	kernelStart := tReady.Add(-info.Uptime)
	s.execToKernel = kernelStart.Sub(tExec)
	s.kernelToInit = info.InitUptime
	s.initToReady = info.Uptime - info.InitUptime
	if err := c.SetTime(ctx, time.Now()); err != nil {
		return s, err
	}
	cc := proto.ContainerConfig{ID: "c", Base: proto.Device{Serial: "base"}, Upper: proto.Device{Serial: "upper"}, Hostname: "bench"}
	if err := c.CreateContainer(ctx, cc); err != nil {
		return s, err
	}
	p, err := c.Start(ctx, "c", "main", proto.ProcessSpec{Args: []string{"echo", "hello"}}, agent.Stdio{Stdout: true})
	if err != nil {
		return s, err
	}
	tStarted := time.Now()
	s.readyToStarted = tStarted.Sub(tReady)
	buf := make([]byte, 1)
	if _, err := io.ReadFull(p.Stdout, buf); err != nil {
		return s, err
	}
	tFirst := time.Now()
	s.startedToOutput = tFirst.Sub(tStarted)
	s.total = tFirst.Sub(tExec)
	if _, err := p.Wait(ctx); err != nil {
		return s, err
	}
	if err := hypervisor.Shutdown(ctx, m, c, time.Minute); err != nil {
		return s, err
	}
	return s, m.Wait(ctx)
}

func idleMemory(ctx context.Context, d *qemu.Driver, k kernel.Kernel, arch hypervisor.Arch, agentBin, cache, base, dir string) (qemuRSS, qemuPSS, self int64, err error) {
	initrd, upper, err := prepare(ctx, k, agentBin, cache, dir)
	if err != nil {
		return 0, 0, 0, err
	}
	m, err := d.Start(ctx, vmConfig("idle", k, arch, initrd, filepath.Join(dir, "run"),
		hypervisor.Disk{ID: "base", Path: base, ReadOnly: true}, hypervisor.Disk{ID: "upper", Path: upper}))
	if err != nil {
		return 0, 0, 0, err
	}
	defer m.Kill()
	c, err := hvtest.Connect(ctx, m)
	if err != nil {
		return 0, 0, 0, err
	}
	if err := c.CreateContainer(ctx, proto.ContainerConfig{ID: "c", Base: proto.Device{Serial: "base"}, Upper: proto.Device{Serial: "upper"}}); err != nil {
		return 0, 0, 0, err
	}
	if _, err := c.Start(ctx, "c", "main", proto.ProcessSpec{Args: []string{"sleep", "3600"}}, agent.Stdio{}); err != nil {
		return 0, 0, 0, err
	}
	time.Sleep(settle) // let it settle (free page reporting runs every 2 s)
	if st, err := c.Stats(ctx); err == nil {
		fmt.Printf("  guest: MemTotal %.1f MiB, MemAvailable %.1f MiB\n", float64(st.MemoryTotal)/(1<<20), float64(st.MemoryAvailable)/(1<<20))
	}
	pid := m.Handle().PID
	qemuRSS = statusKB(fmt.Sprintf("/proc/%d/status", pid), "VmRSS")
	qemuPSS = statusKB(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss")
	self = statusKB("/proc/self/status", "VmRSS")
	_ = hypervisor.Shutdown(ctx, m, c, time.Minute)
	return qemuRSS, qemuPSS, self, nil
}

func statusKB(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == key {
			var n int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &n)
			return n
		}
	}
	return 0
}
