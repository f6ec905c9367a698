package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/testenv"
)

// TestDockerCLIRun is what TestDockerCLI leaves out, on two VMs: a server
// on a user network with a published port, reached from the host and by
// name from a second container; docker port; logs -f that follows new
// output and ends with the container; exec -it on a real terminal; ps -a
// after a stop; and rm -v against plain rm for anonymous volumes.
func TestDockerCLIRun(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("the docker CLI is not installed: " + err.Error())
	}
	home := vmHome(t)
	mustRun(t, home, "system", "info") // starts the daemon, which serves docker.sock

	if out := mustDocker(t, home, "network", "create", "app"); len(strings.TrimSpace(out)) != 64 {
		t.Fatalf("docker network create printed %q, want an id", out)
	}
	port := freePort(t)
	id := strings.TrimSpace(mustDocker(t, home, "run", "-d", "--name", "web", "--network", "app",
		"-p", fmt.Sprintf("127.0.0.1:%d:80", port), "--cpus", "1", "-m", "256m", "-v", "/data", "berth/demo",
		"sh", "-c", "mkdir -p /www && echo hello-web > /www/index.html && echo started && exec httpd -f -p 80 -h /www"))
	if len(id) != 64 {
		t.Fatalf("docker run -d printed %q, want an id", id)
	}

	// logs -f from the start: it sees what the container printed and what
	// it prints later, and ends by itself when the container does.
	var follow testenv.Buffer
	var followErr testenv.Buffer
	logs := exec.Command("docker", "logs", "-f", "web")
	logs.Env, logs.Stdout, logs.Stderr = dockerEnv(home), &follow, &followErr
	if err := logs.Start(); err != nil {
		t.Fatal(err)
	}
	logsDone := make(chan struct{})
	var logsErr error
	go func() { logsErr = logs.Wait(); close(logsDone) }()
	t.Cleanup(func() {
		select {
		case <-logsDone:
		default:
			logs.Process.Kill()
			<-logsDone
		}
	})
	waitFor(t, func() bool { return follow.String() == "started\n" })

	page := fmt.Sprintf("http://127.0.0.1:%d/", port)
	waitFor(t, func() bool { body, err := httpGet(page); return err == nil && body == "hello-web\n" })
	if out := mustDocker(t, home, "port", "web"); out != fmt.Sprintf("80/tcp -> 127.0.0.1:%d\n", port) {
		t.Errorf("docker port web: %q", out)
	}

	// -v /data made an anonymous volume: docker volume ls lists it.
	anon := strings.TrimSpace(mustDocker(t, home, "inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}", "web"))
	m := regexp.MustCompile(`^volume ([0-9a-f]{64}) /data$`).FindStringSubmatch(anon)
	if m == nil {
		t.Fatalf("web's mounts: %q, want an anonymous volume at /data", anon)
	}
	anon = m[1]
	if out := mustDocker(t, home, "volume", "ls", "-q"); out != anon+"\n" {
		t.Errorf("docker volume ls -q: %q, want %s", out, anon)
	}

	// A second container on the network finds web by its name.
	if out := mustDocker(t, home, "run", "--rm", "--network", "app", "--cpus", "1", "-m", "256m", "berth/demo",
		"wget", "-qO-", "http://web/"); out != "hello-web\n" {
		t.Errorf("wget http://web/ from a peer: %q", out)
	}

	// exec -it: a shell on a real terminal.
	sh := exec.Command("docker", "exec", "-it", "web", "sh")
	sh.Env = dockerEnv(home)
	s := startPTYCmd(t, sh, 24, 80)
	at := s.expect(0, "# ", time.Minute)
	s.send("echo $((6*7))\r")
	s.expect(at, "42\r\n", time.Minute)
	s.send("exit\r")
	if code := s.exit(time.Minute); code != 0 {
		t.Errorf("docker exec -it web sh: exit %d; the terminal shows:\n%q", code, s.output())
	}

	// Output written later reaches the follower. The guest's PID 1 is
	// Berth's agent, so the write goes to httpd's own stdout.
	mustDocker(t, home, "exec", "web", "sh", "-c", "echo later > /proc/$(pidof httpd)/fd/1")
	waitFor(t, func() bool { return follow.String() == "started\nlater\n" })

	if out := mustDocker(t, home, "stop", "web"); out != "web\n" {
		t.Errorf("docker stop web: %q", out)
	}
	select {
	case <-logsDone:
		if err := logsErr; err != nil || follow.String() != "started\nlater\n" || followErr.String() != "" {
			t.Errorf("docker logs -f web: %v, stdout %q, stderr %q", err, follow.String(), followErr.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("docker logs -f web still follows a minute after the container stopped; it printed %q", follow.String())
	}

	// ps -a: docker's table; httpd ended by docker stop's SIGTERM (143).
	lines := strings.Split(strings.TrimSuffix(mustDocker(t, home, "ps", "-a"), "\n"), "\n")
	cols := regexp.MustCompile(`\s{3,}`)
	if len(lines) != 2 {
		t.Fatalf("docker ps -a:\n%s", strings.Join(lines, "\n"))
	}
	head, row := cols.Split(lines[0], -1), cols.Split(lines[1], -1)
	if strings.Join(head, "|") != "CONTAINER ID|IMAGE|COMMAND|CREATED|STATUS|PORTS|NAMES" || len(row) != 6 ||
		row[0] != id[:12] || row[1] != "berth/demo" || row[2] != `"sh -c mkdir -p /www…"` ||
		!regexp.MustCompile(`^(Less than a second|\d+ seconds|About a minute) ago$`).MatchString(row[3]) ||
		!regexp.MustCompile(`^Exited \(143\) (Less than a second|\d+ seconds) ago$`).MatchString(row[4]) || row[5] != "web" {
		t.Errorf("docker ps -a after stop:\n%s", strings.Join(lines, "\n"))
	}

	// Anonymous volumes: plain rm keeps them, rm -v removes them (created
	// containers: their volumes exist without a boot).
	volumeOf := func(name string) string {
		t.Helper()
		out := strings.TrimSpace(mustDocker(t, home, "inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", name))
		if len(out) != 64 {
			t.Fatalf("%s's anonymous volume: %q", name, out)
		}
		return out
	}
	mustDocker(t, home, "create", "--name", "keep", "-v", "/data", "berth/demo", "true")
	kept := volumeOf("keep")
	mustRun(t, home, "rm", "keep")
	if out := mustDocker(t, home, "volume", "ls", "-q", "--filter", "name="+kept); out != kept+"\n" {
		t.Errorf("berth rm took the anonymous volume: docker volume ls -q %q", out)
	}
	if out := mustDocker(t, home, "volume", "rm", kept); out != kept+"\n" {
		t.Errorf("docker volume rm: %q", out)
	}
	mustDocker(t, home, "create", "--name", "drop", "-v", "/data", "berth/demo", "true")
	dropped := volumeOf("drop")
	mustRun(t, home, "rm", "-v", "drop")
	if out := mustDocker(t, home, "volume", "ls", "-q", "--filter", "name="+dropped); out != "" {
		t.Errorf("berth rm -v left the anonymous volume: docker volume ls -q %q", out)
	}

	if out := mustDocker(t, home, "rm", "-f", "-v", "web"); out != "web\n" {
		t.Errorf("docker rm -f -v web: %q", out)
	}
	if out := mustDocker(t, home, "volume", "ls", "-q"); out != "" {
		t.Errorf("docker rm -f -v left volumes: %q", out)
	}
	if out := mustDocker(t, home, "network", "rm", "app"); out != "app\n" {
		t.Errorf("docker network rm app: %q", out)
	}
}
