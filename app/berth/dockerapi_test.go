package main

// End-to-end test of the Docker Engine API (core/dockerapi) driven by the
// real docker CLI against a daemon that boots real VMs.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dockerCLI runs the docker CLI against home's docker.sock (dockerEnv).
func dockerCLI(t testing.TB, home string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = dockerEnv(home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("docker %s hung", strings.Join(args, " "))
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// dockerEnv is the environment of a docker CLI talking to home's
// docker.sock, with its own config dir so the user's contexts and
// credentials play no part.
func dockerEnv(home string) []string {
	return append(os.Environ(), "DOCKER_HOST=unix://"+filepath.Join(home, "docker.sock"),
		"DOCKER_CONFIG="+filepath.Join(filepath.Dir(home), "docker-config"), "DOCKER_CONTEXT=", "DOCKER_CLI_HINTS=false")
}

func mustDocker(t testing.TB, home string, args ...string) string {
	t.Helper()
	out, errOut, code := dockerCLI(t, home, args...)
	if code != 0 {
		t.Fatalf("docker %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func TestDockerCLI(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("the docker CLI is not installed: " + err.Error())
	}
	home := vmHome(t)
	mustRun(t, home, "system", "info") // starts the daemon, which serves docker.sock

	if fi, err := os.Stat(filepath.Join(home, "docker.sock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("docker.sock: %v, mode %v", err, fi.Mode())
	}
	if out := mustDocker(t, home, "version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}"); strings.TrimSpace(out) != "1.47 linux" {
		t.Errorf("docker version: %q", out)
	}
	if out, errOut, code := dockerCLI(t, home, "info"); code != 0 || !strings.Contains(out, "Server Version") || strings.Contains(errOut, "rror") {
		t.Errorf("docker info: exit %d\n%s\n%s", code, out, errOut)
	}

	id := strings.TrimSpace(mustDocker(t, home, "run", "-d", "--name", "web", "--cpus", "1", "-m", "256m", "-l", "tier=front",
		"berth/demo", "sh", "-c", "echo hello-out; echo hello-err >&2; exec sleep 600"))
	if len(id) != 64 {
		t.Fatalf("docker run -d printed %q, want an id", id)
	}
	ps := mustDocker(t, home, "ps")
	lines := strings.Split(strings.TrimSpace(ps), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "CONTAINER ID   IMAGE") || !strings.Contains(lines[0], "STATUS") ||
		!strings.HasPrefix(lines[1], id[:12]) || !strings.Contains(lines[1], "berth/demo") || !strings.Contains(lines[1], "Up ") ||
		!strings.HasSuffix(lines[1], "web") {
		t.Errorf("docker ps:\n%s", ps)
	}
	if out := mustDocker(t, home, "ps", "-q", "--filter", "label=tier=front", "--filter", "status=running"); strings.TrimSpace(out) != id[:12] {
		t.Errorf("docker ps --filter: %q", out)
	}
	waitFor(t, func() bool {
		out, errOut, _ := dockerCLI(t, home, "logs", "web")
		return out == "hello-out\n" && errOut == "hello-err\n"
	})
	if out := mustDocker(t, home, "inspect", "-f", "{{.State.Status}} {{.Config.Labels.tier}}", "web"); strings.TrimSpace(out) != "running front" {
		t.Errorf("docker inspect: %q", out)
	}
	if out := mustDocker(t, home, "exec", "web", "echo", "hi"); out != "hi\n" {
		t.Errorf("docker exec web echo hi: %q", out)
	}
	if out, errOut, code := dockerCLI(t, home, "exec", "web", "sh", "-c", "echo oops >&2; exit 3"); code != 3 || out != "" || errOut != "oops\n" {
		t.Errorf("docker exec exit 3: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// -t: the raw stream, with the guest's terminal line endings.
	if out := mustDocker(t, home, "exec", "-t", "web", "sh", "-c", "test -t 1 && echo tty"); out != "tty\r\n" {
		t.Errorf("docker exec -t: %q", out)
	}
	// -i with stdin at its end (/dev/null): cat ends, the rest runs.
	if out := mustDocker(t, home, "exec", "-i", "-e", "X=1", "-w", "/tmp", "web", "sh", "-c", "cat; echo $X $PWD"); out != "1 /tmp\n" {
		t.Errorf("docker exec -i -e -w: %q", out)
	}
	// docker cp both ways through the running guest.
	src := filepath.Join(t.TempDir(), "note.txt")
	if err := os.WriteFile(src, []byte("copied in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustDocker(t, home, "cp", src, "web:/tmp/")
	if out := mustDocker(t, home, "exec", "web", "cat", "/tmp/note.txt"); out != "copied in\n" {
		t.Errorf("docker cp into web: %q", out)
	}
	dst := filepath.Join(t.TempDir(), "back.txt")
	mustDocker(t, home, "cp", "web:/tmp/note.txt", dst)
	if b, err := os.ReadFile(dst); err != nil || string(b) != "copied in\n" {
		t.Errorf("docker cp out of web: %q, %v", b, err)
	}
	if _, errOut, code := dockerCLI(t, home, "cp", "web:/nope", dst); code == 0 || !strings.Contains(errOut, "/nope") {
		t.Errorf("docker cp of a missing path: exit %d: %s", code, errOut)
	}
	controlStart := time.Now().Unix()
	dockerControl(t, home, id)
	mustDocker(t, home, "stop", "-t", "1", "web")
	if out := mustDocker(t, home, "ps", "-a", "--format", "{{.Names}} {{.State}}"); strings.TrimSpace(out) != "web exited" {
		t.Errorf("docker ps -a after stop: %q", out)
	}
	// Stopping a stopped container is a 304, which docker takes as done.
	if out := mustDocker(t, home, "stop", "web"); out != "web\n" {
		t.Errorf("docker stop of a stopped container: %q", out)
	}
	// prune with a label filter: a created (never booted) container goes,
	// the stopped web, labelled otherwise, stays.
	spare := strings.TrimSpace(mustDocker(t, home, "create", "--name", "spare", "-l", "tier=back", "berth/demo", "true"))
	if out := mustDocker(t, home, "container", "prune", "-f", "--filter", "label=tier=back"); out != "Deleted Containers:\n"+spare+"\n\nTotal reclaimed space: 0B\n" {
		t.Errorf("docker container prune: %q", out)
	}
	if out := mustDocker(t, home, "ps", "-aq"); strings.TrimSpace(out) != id[:12] {
		t.Errorf("docker ps -aq after prune: %q", out)
	}
	evs := mustDocker(t, home, "events", "--since", strconv.FormatInt(controlStart, 10), "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
		"--filter", "container="+id, "--filter", "event=pause", "--filter", "event=unpause", "--filter", "event=rename", "--filter", "event=update",
		"--format", "{{.Action}} {{.Actor.Attributes.name}}")
	if evs != "pause web\nunpause web\nrename web2\nrename web\nupdate web\nupdate web\n" {
		t.Errorf("docker events of pause, rename, update: %q", evs)
	}
	mustDocker(t, home, "rm", "web")
	if _, errOut, code := dockerCLI(t, home, "inspect", "web"); code == 0 || !strings.Contains(errOut, "No such object: web") {
		t.Errorf("docker inspect after rm: exit %d: %s", code, errOut)
	}
	if out := mustDocker(t, home, "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "berth/demo:latest") {
		t.Errorf("docker images: %q", out)
	}

	// docker run without -d: attach, wait for the removal, start.
	out, errOut, code := dockerCLI(t, home, "run", "--rm", "--cpus", "1", "-m", "256m", "berth/demo", "sh", "-c", "echo hi; exit 3")
	if out != "hi\n" || code != 3 {
		t.Errorf("docker run --rm: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if out := mustDocker(t, home, "ps", "-aq"); out != "" {
		t.Errorf("docker run --rm left %q", out)
	}

	// Networks: Berth's network manager behind docker's shapes.
	netStart := time.Now().Unix()
	if out := mustDocker(t, home, "network", "create", "--subnet", "10.77.0.0/24", "--label", "env=test", "app"); len(strings.TrimSpace(out)) != 64 {
		t.Errorf("docker network create printed %q, want an id", out)
	}
	if out := mustDocker(t, home, "network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}", "--filter", "label=env=test"); out != "app user local\n" {
		t.Errorf("docker network ls: %q", out)
	}
	if out := mustDocker(t, home, "network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}} {{.Labels.env}}", "app"); out != "10.77.0.0/24 test\n" {
		t.Errorf("docker network inspect: %q", out)
	}
	if _, errOut, code := dockerCLI(t, home, "network", "create", "app"); code == 0 || !strings.Contains(errOut, "network with name app already exists") {
		t.Errorf("docker network create twice: exit %d: %s", code, errOut)
	}
	if out := mustDocker(t, home, "network", "rm", "app"); out != "app\n" {
		t.Errorf("docker network rm: %q", out)
	}
	if _, errOut, code := dockerCLI(t, home, "network", "inspect", "app"); code == 0 || !strings.Contains(errOut, "network app not found") {
		t.Errorf("docker network inspect after rm: exit %d: %s", code, errOut)
	}

	// Events: the bus's memory of the network's life, replayed up to now.
	evs = mustDocker(t, home, "events", "--since", strconv.FormatInt(netStart, 10), "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
		"--filter", "type=network", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
	if evs != "network create app\nnetwork destroy app\n" {
		t.Errorf("docker events: %q", evs)
	}

	// Volumes: a named volume outlives the container that wrote it.
	if out := mustDocker(t, home, "volume", "create", "data"); out != "data\n" {
		t.Errorf("docker volume create: %q", out)
	}
	if out := mustDocker(t, home, "volume", "ls", "--format", "{{.Driver}} {{.Name}}"); out != "local data\n" {
		t.Errorf("docker volume ls: %q", out)
	}
	mustDocker(t, home, "run", "--rm", "--cpus", "1", "-m", "256m", "-v", "data:/d", "berth/demo", "sh", "-c", "echo x > /d/f")
	if out := mustDocker(t, home, "run", "--rm", "--cpus", "1", "-m", "256m", "-v", "data:/d", "berth/demo", "cat", "/d/f"); out != "x\n" {
		t.Errorf("the volume's file read back: %q", out)
	}
	if out := mustDocker(t, home, "volume", "rm", "data"); out != "data\n" {
		t.Errorf("docker volume rm: %q", out)
	}
	if _, errOut, code := dockerCLI(t, home, "volume", "inspect", "data"); code == 0 || !strings.Contains(errOut, "no such volume") {
		t.Errorf("docker volume inspect after rm: exit %d: %s", code, errOut)
	}

	_, errOut, code = dockerCLI(t, home, "swarm", "init")
	if code == 0 || !strings.Contains(errOut, "POST /swarm/init is not supported by Berth yet") {
		t.Errorf("docker swarm init: exit %d: %s", code, errOut)
	}
}

// dockerControl drives docker stats, top, pause, unpause, rename, update
// and start on the running container web (id), leaving it running, named
// web, with no restart policy.
func dockerControl(t *testing.T, home, id string) {
	t.Helper()
	// stats --no-stream: the guest's CPU, memory and processes in docker's
	// columns; network and block I/O are not measured (0B).
	lines := strings.Split(strings.TrimSpace(mustDocker(t, home, "stats", "--no-stream", "web")), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "CONTAINER ID NAME CPU % MEM USAGE / LIMIT MEM % NET I/O BLOCK I/O PIDS" {
		t.Errorf("docker stats --no-stream:\n%s", strings.Join(lines, "\n"))
	} else {
		row := regexp.MustCompile(`^` + id[:12] + `\s+web\s+\d+\.\d\d%\s+[\d.]+MiB / ([\d.]+)MiB\s+\d+\.\d\d%\s+0B / 0B\s+0B / 0B\s+[1-9]\d*$`)
		t.Logf("docker stats --no-stream: %s", lines[1])
		m := row.FindStringSubmatch(lines[1])
		if limit, _ := strconv.ParseFloat(valueAt(m, 1), 64); m == nil || limit < 128 || limit > 256 {
			t.Errorf("docker stats --no-stream row (-m 256m):\n%s", lines[1])
		}
	}
	top := mustDocker(t, home, "top", "web")
	if lines := strings.Split(top, "\n"); strings.Join(strings.Fields(lines[0]), " ") != "UID PID PPID C STIME TTY TIME CMD" ||
		!strings.Contains(top, "sleep 600") {
		t.Errorf("docker top:\n%s", top)
	}
	if _, errOut, code := dockerCLI(t, home, "top", "web", "aux"); code == 0 || !strings.Contains(errOut, "ps -ef's columns only") {
		t.Errorf("docker top web aux: exit %d: %s", code, errOut)
	}

	state := func() string {
		return strings.TrimSpace(mustDocker(t, home, "inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "web"))
	}
	if out := mustDocker(t, home, "pause", "web"); out != "web\n" || state() != "paused true" {
		t.Errorf("docker pause: %q, state %q", out, state())
	}
	if _, errOut, code := dockerCLI(t, home, "pause", "web"); code == 0 || !strings.Contains(errOut, "Container "+id+" is already paused") {
		t.Errorf("docker pause of a paused container: exit %d: %s", code, errOut)
	}
	if out := mustDocker(t, home, "unpause", "web"); out != "web\n" || state() != "running false" {
		t.Errorf("docker unpause: %q, state %q", out, state())
	}
	if _, errOut, code := dockerCLI(t, home, "unpause", "web"); code == 0 || !strings.Contains(errOut, "Container "+id+" is not paused") {
		t.Errorf("docker unpause of a running container: exit %d: %s", code, errOut)
	}
	if out := mustDocker(t, home, "exec", "web", "echo", "thawed"); out != "thawed\n" {
		t.Errorf("docker exec after unpause: %q", out)
	}

	mustDocker(t, home, "rename", "web", "web2")
	if out := mustDocker(t, home, "inspect", "-f", "{{.Name}}", id); out != "/web2\n" {
		t.Errorf("docker rename: %q", out)
	}
	mustDocker(t, home, "rename", "web2", "web")

	if out := mustDocker(t, home, "update", "--restart", "always", "web"); out != "web\n" {
		t.Errorf("docker update --restart: %q", out)
	}
	if out := mustDocker(t, home, "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", "web"); out != "always\n" {
		t.Errorf("restart policy after docker update: %q", out)
	}
	if _, errOut, code := dockerCLI(t, home, "update", "--pids-limit", "10", "web"); code == 0 || !strings.Contains(errOut, "PidsLimit cannot be updated") {
		t.Errorf("docker update --pids-limit: exit %d: %s", code, errOut)
	}
	mustDocker(t, home, "update", "--restart", "no", "web")

	// Starting a running container is a 304, which docker takes as done.
	if out := mustDocker(t, home, "start", "web"); out != "web\n" {
		t.Errorf("docker start of a running container: %q", out)
	}
}

// valueAt is m[i], or "" where m has no such group.
func valueAt(m []string, i int) string {
	if i < len(m) {
		return m[i]
	}
	return ""
}

// berth system info names docker.sock; berth system docker-context
// writes a docker context the docker CLI reaches Berth through, without
// DOCKER_HOST; --rm removes it.
func TestDockerContext(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("the docker CLI is not installed: " + err.Error())
	}
	home := newHome(t)
	sock := filepath.Join(home, "docker.sock")
	if out := mustRun(t, home, "system", "info"); !strings.Contains(out, "export DOCKER_HOST=unix://"+sock+"\n") {
		t.Errorf("system info lacks the DOCKER_HOST line:\n%s", out)
	}
	config := t.TempDir()
	t.Setenv("DOCKER_CONFIG", config) // for berth, which docker-context writes into
	docker := func(args ...string) (string, error) {
		cmd := exec.Command("docker", args...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=", "DOCKER_CONTEXT=", "DOCKER_CLI_HINTS=false")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out := mustRun(t, home, "system", "docker-context"); !strings.HasPrefix(out, `docker context "berth" created: unix://`+sock+"\n") {
		t.Errorf("docker-context: %q", out)
	}
	if out := mustRun(t, home, "system", "docker-context"); !strings.HasPrefix(out, `docker context "berth" is up to date`) {
		t.Errorf("docker-context again: %q", out)
	}
	if out, err := docker("--context", "berth", "version", "--format", "{{.Server.Platform.Name}} {{.Server.APIVersion}}"); err != nil ||
		out != "Berth 1.47\n" {
		t.Errorf("docker --context berth version: %v: %q", err, out)
	}
	if out := mustRun(t, home, "system", "docker-context", "--rm"); out != `docker context "berth" removed from `+config+"\n" {
		t.Errorf("docker-context --rm: %q", out)
	}
	if out, err := docker("--context", "berth", "version"); err == nil || !strings.Contains(out, "berth") {
		t.Errorf("docker --context berth after --rm: %v: %q", err, out)
	}
}
