package main

// End-to-end test of Debian's docker-compose 1.29 (Python, docker-py,
// API 1.41), unmodified, against docker.sock: a server and a client that
// finds it by its service name, a published port, a named volume.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// composeProject is the fixed project name: its network is
// composeProject_default, its volume composeProject_site.
const composeProject = "bcompose"

// dockerCompose runs docker-compose in dir against home's docker.sock.
func dockerCompose(t *testing.T, home, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker-compose", append([]string{"--ansi", "never"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+filepath.Join(home, "docker.sock"),
		"DOCKER_CONFIG="+filepath.Join(filepath.Dir(home), "docker-config"), "DOCKER_CONTEXT=",
		"COMPOSE_PROJECT_NAME="+composeProject, "COMPOSE_FILE=", "COMPOSE_API_VERSION=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("docker-compose %s hung\n%s%s", strings.Join(args, " "), out.String(), errb.String())
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker-compose %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

func mustCompose(t *testing.T, home, dir string, args ...string) string {
	t.Helper()
	out, errOut, code := dockerCompose(t, home, dir, args...)
	if code != 0 {
		t.Fatalf("docker-compose %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func TestDockerCompose(t *testing.T) {
	for _, tool := range []string{"docker-compose", "docker"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " is not installed (make deps): " + err.Error())
		}
	}
	home := vmHome(t)
	mustRun(t, home, "system", "info") // starts the daemon, which serves docker.sock

	port := freePort(t)
	dir := t.TempDir()
	// The server serves a page it writes into the named volume; the
	// client asks for it by the server's service name until it gets it.
	yml := fmt.Sprintf(`version: "3.8"
services:
  server:
    image: berth/demo
    command: ["sh", "-c", "echo served-from-volume > /www/index.html && exec httpd -f -p 80 -h /www"]
    volumes:
      - site:/www
    ports:
      - "127.0.0.1:%d:80"
    cpus: 1
    mem_limit: 256m
  client:
    image: berth/demo
    depends_on: [server]
    command: ["sh", "-c", "until wget -q -O- http://server/; do sleep 1; done"]
    cpus: 1
    mem_limit: 256m
volumes:
  site: {}
`, port)
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	mustCompose(t, home, dir, "up", "-d")
	t.Logf("docker-compose up -d: %v", time.Since(start).Round(time.Millisecond))

	// The client printed the page: it resolved "server" (an alias on the
	// project's network) and the server wrote into its volume.
	var logs string
	waitFor(t, func() bool {
		logs = mustCompose(t, home, dir, "logs", "client")
		return strings.Contains(logs, "served-from-volume")
	})
	if strings.Contains(logs, "bad address") {
		t.Errorf("the client did not find the server by name at first:\n%s", logs)
	}
	if body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port)); err != nil || body != "served-from-volume\n" {
		t.Errorf("the published port: %q, %v", body, err)
	}
	if out := mustDocker(t, home, "inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}", composeProject+"_server_1"); strings.TrimSpace(out) != "volume "+composeProject+"_site /www" {
		t.Errorf("the server's mounts: %q", out)
	}
	if out := mustDocker(t, home, "volume", "inspect", "-f", `{{index .Labels "com.docker.compose.project"}}`, composeProject+"_site"); strings.TrimSpace(out) != composeProject {
		t.Errorf("the volume's project label: %q", out)
	}

	// ps: the server up with its port, the client done.
	waitFor(t, func() bool {
		out, _, code := dockerCompose(t, home, dir, "ps")
		return code == 0 && strings.Contains(out, "Exit 0")
	})
	ps := mustCompose(t, home, dir, "ps")
	rows := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(ps), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = l
		}
	}
	if r := rows[composeProject+"_server_1"]; !strings.Contains(r, " Up ") || !strings.Contains(r, fmt.Sprintf("127.0.0.1:%d->80/tcp", port)) {
		t.Errorf("docker-compose ps: the server's row %q in\n%s", r, ps)
	}
	if r := rows[composeProject+"_client_1"]; !strings.HasSuffix(strings.TrimSpace(r), " Exit 0") {
		t.Errorf("docker-compose ps: the client's row %q in\n%s", r, ps)
	}
	if len(rows) != 4 { // the header, its rule, two containers
		t.Errorf("docker-compose ps:\n%s", ps)
	}

	logs = mustCompose(t, home, dir, "logs", "--timestamps")
	if !strings.Contains(logs, "client_1  | ") || !strings.Contains(logs, "served-from-volume") {
		t.Errorf("docker-compose logs:\n%s", logs)
	}

	start = time.Now()
	mustCompose(t, home, dir, "down", "-v")
	t.Logf("docker-compose down -v: %v", time.Since(start).Round(time.Millisecond))
	if out := mustDocker(t, home, "ps", "-aq"); out != "" {
		t.Errorf("containers left after down -v: %q", out)
	}
	if out := mustDocker(t, home, "volume", "ls", "-q"); strings.Contains(out, composeProject) {
		t.Errorf("volumes left after down -v: %q", out)
	}
	if out := mustDocker(t, home, "network", "ls", "--format", "{{.Name}}"); strings.Contains(out, composeProject) {
		t.Errorf("networks left after down -v: %q", out)
	}
}
