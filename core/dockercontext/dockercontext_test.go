package dockercontext

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/testenv"
)

// The store's layout, byte for byte: the directory is the name's sha256
// (printf berth | sha256sum), the keys are the docker CLI's.
func TestWriteLayout(t *testing.T) {
	dir := t.TempDir()
	c := Context{Name: "berth", Description: "Berth (one VM per container)", Host: "unix:///h/docker.sock"}
	if err := Write(dir, c); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "contexts", "meta", "5c2f64c7f21efd5fb5e3d6a499abe5eacb248ae6f6f0085387c9a056d10ef5fd", "meta.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Name":"berth","Metadata":{"Description":"Berth (one VM per container)"},` +
		`"Endpoints":{"docker":{"Host":"unix:///h/docker.sock","SkipTLSVerify":false}}}`
	if string(b) != want {
		t.Errorf("meta.json:\n got %s\nwant %s", b, want)
	}
	if got, err := Read(dir, "berth"); err != nil || got != c {
		t.Errorf("Read: %+v, %v", got, err)
	}
}

// Writing again replaces the endpoint and drops the former one's TLS
// files; Remove deletes both and says whether there was a context.
func TestWriteUpdateRemove(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, Context{Name: "berth", Host: "unix:///old/docker.sock"}); err != nil {
		t.Fatal(err)
	}
	tls := filepath.Join(dir, "contexts", "tls", id("berth"), "docker")
	if err := os.MkdirAll(tls, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tls, "ca.pem"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, Context{Name: "berth", Host: "unix:///new/docker.sock"}); err != nil {
		t.Fatal(err)
	}
	if got, err := Read(dir, "berth"); err != nil || got.Host != "unix:///new/docker.sock" {
		t.Errorf("after the update: %+v, %v", got, err)
	}
	if _, err := os.Stat(tls); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the former endpoint's TLS files survived the update: %v", err)
	}
	if err := Write(dir, Context{Name: "other", Host: "unix:///o.sock"}); err != nil {
		t.Fatal(err)
	}
	if existed, err := Remove(dir, "berth"); err != nil || !existed {
		t.Errorf("Remove: %v, %v", existed, err)
	}
	if _, err := Read(dir, "berth"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("Read after Remove: %v", err)
	}
	if existed, err := Remove(dir, "berth"); err != nil || existed {
		t.Errorf("Remove twice: %v, %v", existed, err)
	}
	if _, err := Read(dir, "other"); err != nil {
		t.Errorf("Remove took another context: %v", err)
	}
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"berth", true}, {"berth-2.dev+x_y", true}, {"b", false}, {"default", false}, {"-x", false}, {"a/b", false}, {"", false}} {
		err := ValidateName(tc.name)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, api.ErrInvalidArgument)) {
			t.Errorf("ValidateName(%q): %v", tc.name, err)
		}
	}
	if err := Write(t.TempDir(), Context{Name: "default", Host: "unix:///x"}); !errors.Is(err, api.ErrInvalidArgument) {
		t.Errorf("Write of default: %v", err)
	}
	if err := Write(t.TempDir(), Context{Name: "berth"}); !errors.Is(err, api.ErrInvalidArgument) {
		t.Errorf("Write without a host: %v", err)
	}
}

func TestConfigDir(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", "/tmp/dc")
	if d, err := ConfigDir(); err != nil || d != "/tmp/dc" {
		t.Errorf("with DOCKER_CONFIG: %q, %v", d, err)
	}
	t.Setenv("DOCKER_CONFIG", "")
	t.Setenv("HOME", "/home/u")
	if d, err := ConfigDir(); err != nil || d != "/home/u/.docker" {
		t.Errorf("without DOCKER_CONFIG: %q, %v", d, err)
	}
}

// The docker CLI itself reads what Write wrote (no daemon needed).
func TestDockerCLIReadsContext(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		testenv.Missing(t, "the docker CLI is not installed (a static client from download.docker.com will do): "+err.Error())
	}
	dir := t.TempDir()
	if err := Write(dir, Context{Name: "berth", Description: "Berth", Host: "unix:///h/docker.sock"}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(docker, "context", "ls", "--format", "{{if eq .Name \"berth\"}}{{.Name}} {{.Description}} {{.DockerEndpoint}}{{end}}")
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir, "DOCKER_CONTEXT=", "DOCKER_HOST=")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "berth Berth unix:///h/docker.sock" {
		t.Errorf("docker context ls: %v\n%s", err, out)
	}
}
