//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// berthPath, when set, adds the container-level figures: the whole
// `berth run --rm berth/demo true` through CLI and daemon, against the
// floor measured in the same run, and 8 containers started at once.
var berthPath string

func berthCmd(ctx context.Context, home string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, berthPath, args...)
	cmd.Env = append(os.Environ(), "BERTH_HOME="+home)
	return cmd
}

func containerBench(ctx context.Context, n int, floorMedian time.Duration) error {
	home, err := os.MkdirTemp("", "bb")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	defer berthCmd(ctx, home, "system", "stop").Run()
	size := []string{"-c", strconv.Itoa(cpus), "-m", "256m"}
	runRm := append(append([]string{"run", "--rm"}, size...), "berth/demo", "true")
	// Warm-up: starts the daemon, loads the demo image, makes the
	// writable-disk template and the initramfs.
	if out, err := berthCmd(ctx, home, runRm...).CombinedOutput(); err != nil {
		return fmt.Errorf("warm-up run: %v: %s", err, out)
	}
	var walls []time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if out, err := berthCmd(ctx, home, runRm...).CombinedOutput(); err != nil {
			return fmt.Errorf("berth run: %v: %s", err, out)
		}
		walls = append(walls, time.Since(t0))
	}
	w := median(walls)
	fmt.Printf("\ncontainers through the CLI and daemon (%d CPU, 256 MiB), median of %d:\n", cpus, n)
	fmt.Printf("  %-58s %8.1f ms\n", "berth run --rm berth/demo true (wall, boot to removal)", ms(w))
	fmt.Printf("  %-58s %8.2f\n", "ratio to the floor of this run", float64(w)/float64(floorMedian))

	// 8 at once: time until every `run -d` returned (all running), then
	// the host memory each costs while idle.
	const many = 8
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, many)
	for i := 0; i < many; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append(append([]string{"run", "-d", "--name", fmt.Sprintf("b%d", i)}, size...), "berth/demo", "sleep", "600")
			if out, err := berthCmd(ctx, home, args...).CombinedOutput(); err != nil {
				errs <- fmt.Errorf("run -d b%d: %v: %s", i, err, out)
			}
		}()
	}
	wg.Wait()
	all := time.Since(t0)
	close(errs)
	for err := range errs {
		return err
	}
	time.Sleep(settle)
	var vmRSS int64
	out, err := berthCmd(ctx, home, "ls", "--format", "{{range .}}{{.PID}} {{end}}").Output()
	if err != nil {
		return fmt.Errorf("ls: %w", err)
	}
	for _, f := range strings.Fields(string(out)) {
		vmRSS += statusKB(filepath.Join("/proc", f, "status"), "VmRSS")
	}
	pid, _ := os.ReadFile(filepath.Join(home, "berth.pid"))
	daemonRSS := statusKB(filepath.Join("/proc", strings.TrimSpace(string(pid)), "status"), "VmRSS")
	fmt.Printf("  %-58s %8.1f ms\n", fmt.Sprintf("%d containers started at once: until all ran", many), ms(all))
	fmt.Printf("  %-58s %8.1f MiB\n", "host memory per idle container (QEMU RSS)", float64(vmRSS)/many/1024)
	fmt.Printf("  %-58s %8.1f MiB\n", "daemon RSS with them running", float64(daemonRSS)/1024)
	if out, err := berthCmd(ctx, home, "rm", "-f", "--all").CombinedOutput(); err != nil {
		return fmt.Errorf("rm -f --all: %v: %s", err, out)
	}
	return nil
}
