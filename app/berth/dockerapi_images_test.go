package main

// End-to-end test of the Docker Engine API's image and system endpoints:
// the real docker CLI against a daemon and a real registry on loopback
// (plain HTTP, which Berth allows for loopback registries as docker does).

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/image/registrytest"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// dockerPipe runs "docker A | docker B" through sh, both against home.
func dockerPipe(t *testing.T, home, pipeline string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", pipeline)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+filepath.Join(home, "docker.sock"),
		"DOCKER_CONFIG="+filepath.Join(filepath.Dir(home), "docker-config"), "DOCKER_CONTEXT=", "DOCKER_CLI_HINTS=false")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func TestDockerCLIImages(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("the docker CLI is not installed: " + err.Error())
	}
	reg := registrytest.Start(t, registrytest.Options{})
	home := vmHome(t)
	mustRun(t, home, "system", "info") // starts the daemon, which serves docker.sock

	put := func(ref string, img v1.Image) string {
		t.Helper()
		r, _ := name.ParseReference(ref)
		if err := remote.Write(r, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		return d.String()
	}
	app := reg.Host + "/e2e/app:1"
	first := put(app, linuxImage(t, 200_000, 2))

	// docker pull: docker's lines, each layer pulled, then the digest.
	out := mustDocker(t, home, "pull", app)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "1: Pulling from e2e/app" || strings.Count(out, ": Pull complete\n") != 2 ||
		!strings.Contains(out, "\nDigest: "+first+"\n") || !strings.Contains(out, "\nStatus: Downloaded newer image for "+app+"\n") ||
		lines[len(lines)-1] != app {
		t.Errorf("docker pull:\n%s", out)
	}
	if out := mustDocker(t, home, "pull", app); !strings.Contains(out, "Status: Image is up to date for "+app) {
		t.Errorf("docker pull again:\n%s", out)
	}

	// docker tag, then docker push of the new name to the registry.
	mustDocker(t, home, "pull", "berth/demo")
	pushed := reg.Host + "/e2e/demo:2"
	mustDocker(t, home, "tag", "berth/demo", pushed)
	if out := mustDocker(t, home, "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, pushed+"\n") {
		t.Errorf("docker images after tag: %q", out)
	}
	if _, errOut, code := dockerCLI(t, home, "tag", "nope", "x"); code == 0 || !strings.Contains(errOut, "No such image: nope") {
		t.Errorf("docker tag of a missing image: exit %d: %s", code, errOut)
	}
	out = mustDocker(t, home, "push", pushed)
	digestLine := regexp.MustCompile(`(?m)^2: digest: (sha256:[0-9a-f]{64}) size: \d+$`).FindStringSubmatch(out)
	if !strings.HasPrefix(out, "The push refers to repository ["+reg.Host+"/e2e/demo]\n") || !strings.Contains(out, ": Pushed\n") || digestLine == nil {
		t.Fatalf("docker push:\n%s", out)
	}
	r, _ := name.ParseReference(pushed)
	if desc, err := remote.Head(r); err != nil || desc.Digest.String() != digestLine[1] {
		t.Errorf("the registry has %v (%v), docker push said %s", desc, err, digestLine[1])
	}

	// docker history: the image's own row first, its id and size.
	hist := mustDocker(t, home, "history", "berth/demo")
	hl := strings.Split(strings.TrimSpace(hist), "\n")
	if len(hl) < 2 || !regexp.MustCompile(`^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$`).MatchString(hl[0]) ||
		!regexp.MustCompile(`^[0-9a-f]{12} `).MatchString(hl[1]) {
		t.Errorf("docker history:\n%s", hist)
	}

	// docker save -o, rmi, load -i: the same image back under its name.
	id := strings.TrimSpace(mustDocker(t, home, "inspect", "-f", "{{.Id}}", app))
	tarball := filepath.Join(t.TempDir(), "app.tar")
	mustDocker(t, home, "save", "-o", tarball, app)
	if fi, err := os.Stat(tarball); err != nil || fi.Size() < 200_000 {
		t.Fatalf("docker save -o: %v %v", fi, err)
	}
	if out := mustDocker(t, home, "rmi", app); !strings.Contains(out, "Untagged: "+app+"\n") || !strings.Contains(out, "Deleted: ") {
		t.Errorf("docker rmi: %q", out)
	}
	if _, errOut, code := dockerCLI(t, home, "inspect", "--type", "image", app); code == 0 || !strings.Contains(errOut, "No such image") {
		t.Errorf("docker inspect after rmi: exit %d: %s", code, errOut)
	}
	if out := mustDocker(t, home, "load", "-i", tarball); out != "Loaded image: "+app+"\n" {
		t.Errorf("docker load -i: %q", out)
	}
	if got := strings.TrimSpace(mustDocker(t, home, "inspect", "-f", "{{.Id}}", app)); got != id {
		t.Errorf("loaded image id %s, saved %s", got, id)
	}
	if _, errOut, code := dockerCLI(t, home, "load", "-i", filepath.Join(home, "docker.sock")); code == 0 || errOut == "" {
		t.Errorf("docker load of a non-tarball: exit %d: %s", code, errOut)
	}
	// docker save | docker load: streamed both ways.
	out, errOut, err := dockerPipe(t, home, "docker save berth/demo | docker load")
	// (Berth names every name the image has in its store, here also pushed's.)
	if err != nil || !strings.Contains(out, "Loaded image: berth/demo:latest\n") {
		t.Errorf("docker save | docker load: %v\n%s%s", err, out, errOut)
	}

	// The loaded image runs.
	if out := mustDocker(t, home, "run", "--rm", "--cpus", "1", "-m", "256m", pushed, "echo", "ran"); out != "ran\n" {
		t.Errorf("docker run of the loaded image: %q", out)
	}

	// docker image prune: a newer push of app's tag leaves the old image
	// without a name, which prune removes.
	put(app, linuxImage(t, 100_000, 1))
	mustDocker(t, home, "pull", app)
	out = mustDocker(t, home, "image", "prune", "-f")
	if !regexp.MustCompile(`^Deleted Images:\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: [1-9]`).MatchString(out) {
		t.Errorf("docker image prune -f:\n%s", out)
	}
	ids := map[string]bool{}
	for _, id := range strings.Fields(mustDocker(t, home, "images", "-q")) {
		ids[id] = true
	}
	if len(ids) != 2 {
		t.Errorf("images after prune: %v", ids)
	}
	if out := mustDocker(t, home, "image", "prune", "-f"); out != "Total reclaimed space: 0B\n" {
		t.Errorf("docker image prune -f again: %q", out)
	}

	// docker system df, plain and verbose.
	df := mustDocker(t, home, "system", "df")
	dl := strings.Split(strings.TrimSpace(df), "\n")
	if len(dl) != 5 || dl[0] != "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE" ||
		!regexp.MustCompile(`^Images +2 +0 +\S+`).MatchString(dl[1]) || !strings.HasPrefix(dl[2], "Containers      0         0 ") ||
		!strings.HasPrefix(dl[4], "Build Cache     0         0         0B") {
		t.Errorf("docker system df:\n%s", df)
	}
	dfv := mustDocker(t, home, "system", "df", "-v")
	if !strings.Contains(dfv, "Images space usage:\n\nREPOSITORY") || !strings.Contains(dfv, pushed[:strings.LastIndex(pushed, ":")]) ||
		!strings.Contains(dfv, "Containers space usage:") || !strings.Contains(dfv, "Local Volumes space usage:") {
		t.Errorf("docker system df -v:\n%s", dfv)
	}
}

// docker login checks credentials through the daemon (POST /auth) and
// keeps them in the docker CLI's own config, which then sends them with
// each push and pull (X-Registry-Auth); Berth itself stores nothing.
func TestDockerLogin(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("the docker CLI is not installed: " + err.Error())
	}
	reg := registrytest.Start(t, registrytest.Options{Auth: true})
	home := newHome(t)
	mustRun(t, home, "system", "info") // starts the daemon, which serves docker.sock

	login := func(password string) (string, string, int) {
		t.Helper()
		cmd := exec.Command("docker", "login", "-u", reg.User, "--password-stdin", reg.Host)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+filepath.Join(home, "docker.sock"),
			"DOCKER_CONFIG="+filepath.Join(filepath.Dir(home), "docker-config"), "DOCKER_CONTEXT=", "DOCKER_CLI_HINTS=false")
		cmd.Stdin = strings.NewReader(password + "\n")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	app := reg.Host + "/e2e/private:1"
	mustDocker(t, home, "pull", "berth/demo") // built into berth
	mustDocker(t, home, "tag", "berth/demo", app)
	if _, errOut, code := dockerCLI(t, home, "push", app); code == 0 || !strings.Contains(errOut, "refused access (401)") {
		t.Errorf("docker push before login: exit %d: %s", code, errOut)
	}
	if _, errOut, code := login("wrong"); code == 0 || !strings.Contains(errOut, "refused access (401)") {
		t.Errorf("docker login with a wrong password: exit %d: %s", code, errOut)
	}
	if out, errOut, code := login(reg.Password); code != 0 || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("docker login: exit %d: %s%s", code, out, errOut)
	}
	// The credentials are the CLI's: Berth's own store has none.
	if _, err := os.Stat(filepath.Join(home, "auth.json")); err == nil {
		t.Errorf("docker login left credentials in Berth's data dir")
	}
	mustDocker(t, home, "push", app)
	mustDocker(t, home, "rmi", app)
	if out := mustDocker(t, home, "pull", app); !strings.Contains(out, "Status: Downloaded newer image for "+app) {
		t.Errorf("docker pull after login: %q", out)
	}
}
