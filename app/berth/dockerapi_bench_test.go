package main

import (
	"os/exec"
	"testing"
	"time"
)

// BenchmarkDockerRun times the same container run through the two front
// doors of one daemon: `berth run --rm berth/demo true` over berth.sock
// and `docker run --rm berth/demo true` over docker.sock (docker's create,
// attach, wait and start), with equal --cpus and -m. Each sub-benchmark
// times its own command and runs the other untimed between two of its own,
// so both see the same machine (other load on it drifts); every run of
// either, timed or not, also feeds docker/berth, the ratio of their mean
// times, reported beside docker's ns/op. The goal is docker/berth ≤ 1.05.
func BenchmarkDockerRun(b *testing.B) {
	if _, err := exec.LookPath("docker"); err != nil {
		b.Skip("the docker CLI is not installed: " + err.Error())
	}
	home := vmHome(b)
	flags := []string{"--rm", "--cpus", "1", "-m", "256m", "berth/demo", "true"}
	runs := map[string]func(){
		"berth": func() {
			if r := berth(b, home, append([]string{"run"}, flags...)...); r.code != 0 {
				b.Fatalf("berth run: exit %d: %s", r.code, r.stderr)
			}
		},
		"docker": func() { mustDocker(b, home, append([]string{"run"}, flags...)...) },
	}
	// Warm both paths: the daemon, the demo image, each CLI's first start.
	runs["berth"]()
	runs["docker"]()

	total := map[string]time.Duration{}
	count := map[string]int{}
	timed := func(name string) time.Duration {
		start := time.Now()
		runs[name]()
		d := time.Since(start)
		total[name] += d
		count[name]++
		return d
	}
	mean := func(name string) float64 { return float64(total[name]) / float64(count[name]) }
	other := map[string]string{"berth": "docker", "docker": "berth"}
	for _, name := range []string{"berth", "docker"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				timed(name)
				b.StopTimer()
				timed(other[name])
				b.StartTimer()
			}
			if name == "docker" {
				b.ReportMetric(mean("docker")/mean("berth"), "docker/berth")
			}
		})
	}
	b.Logf("mean over every run: berth %v (%d runs), docker %v (%d runs), docker/berth %.3f",
		time.Duration(mean("berth")).Round(time.Millisecond), count["berth"],
		time.Duration(mean("docker")).Round(time.Millisecond), count["docker"], mean("docker")/mean("berth"))
}
