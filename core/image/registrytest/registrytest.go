// Package registrytest starts a real registry server (Debian's
// docker-registry, CNCF distribution 2.8) on a free loopback port for
// tests, optionally behind htpasswd basic auth, with its storage in the
// test's temp dir. The server ends with the test. It is a test helper.
package registrytest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthvm/berth/core/testenv"
)

// Registry is a running registry.
type Registry struct {
	// Host is "127.0.0.1:<port>", the registry part of references.
	Host string
	// User and Password are set when the registry requires them.
	User, Password string
	Dir            string
}

// Options choose how the registry runs.
type Options struct {
	// Auth puts the registry behind htpasswd basic auth with User "berth"
	// and a fixed password.
	Auth bool
}

// Start runs a registry until the test ends.
func Start(t testing.TB, opts Options) *Registry {
	t.Helper()
	bin := testenv.Tool(t, "docker-registry", "docker-registry")
	dir := t.TempDir()
	r := &Registry{Dir: dir}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.Host = ln.Addr().String()
	ln.Close()
	auth := ""
	if opts.Auth {
		htpasswd := testenv.Tool(t, "htpasswd", "apache2-utils")
		r.User, r.Password = "berth", "s3cret-pass"
		out, err := exec.Command(htpasswd, "-Bbn", r.User, r.Password).Output()
		if err != nil {
			t.Fatalf("htpasswd: %v", err)
		}
		pw := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(pw, out, 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: berth-test\n    path: %s\n", pw)
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, filepath.Join(dir, "data"), r.Host, auth)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return r
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("registry on %s did not answer within 10s: %v\n%s", r.Host, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
