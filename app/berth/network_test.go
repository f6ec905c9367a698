package main

// End-to-end tests of networks through the berth binary: real VMs on
// networks carried by real `berth net-host` processes (gvisor-tap-vsock).
// The VMs' NICs are unix datagram sockets, as on a Mac (vz's file-handle
// attachment); what no Linux host can show is vz itself on the other end
// of the socket, and macOS's vmnet.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

// serveLoopback serves body on 127.0.0.1 only, as a developer's local
// service would be, and returns its port.
func serveLoopback(t *testing.T, body string) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// freePort is a port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func httpGet(url string) (string, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func addressOn(t *testing.T, c api.Container, network string) string {
	t.Helper()
	for _, cn := range c.Networks {
		if cn.Network == network {
			return cn.IP
		}
	}
	t.Fatalf("container %s has no address on %s: %+v", c.Name, network, c.Networks)
	return ""
}

// webServer is busybox httpd serving body at / .
func webServer(body string) []string {
	return []string{"sh", "-c", "mkdir -p /www && echo " + body + " > /www/index.html && exec httpd -f -p 80 -h /www"}
}

// One daemon, a few networks and long-lived containers shared by the
// subtests (each boot costs seconds under TCG); the subtests run in
// order and each leaves things as it found them.
func TestNetworks(t *testing.T) {
	home := vmHome(t)
	for _, n := range [][]string{{"app"}, {"other"}, {"--host-access", "dev"}} {
		mustRun(t, home, append([]string{"network", "create"}, n...)...)
	}
	port := freePort(t)
	mustRun(t, home, append(run("-d", "--name", "web", "--network", "app", "-p", fmt.Sprintf("127.0.0.1:%d:80", port),
		"berth/demo"), webServer("hello-from-web")...)...)
	web := inspect(t, home, "web")
	webIP := addressOn(t, web, "app")
	if web.IPAddress != webIP || len(web.Ports) != 1 || web.Ports[0].HostPort != port {
		t.Fatalf("web: address %s (on app %s), ports %+v", web.IPAddress, webIP, web.Ports)
	}
	page := fmt.Sprintf("http://127.0.0.1:%d/", port)

	t.Run("by name on one network", func(t *testing.T) {
		out := mustRun(t, home, append(run("--rm", "--network", "app", "berth/demo", "sh", "-c"),
			"wget -q -O- http://web/ && wget -q -O- http://web.berth.internal/ && cat /etc/resolv.conf")...)
		if strings.Count(out, "hello-from-web") != 2 || !strings.Contains(out, "search berth.internal") {
			t.Fatalf("from a peer:\n%s", out)
		}
	})

	t.Run("another network cannot reach it", func(t *testing.T) {
		r := berth(t, home, append(run("--rm", "--network", "other", "berth/demo", "sh", "-c"),
			"nslookup web; echo dns=$?; nc -w 3 "+webIP+" 80 </dev/null; echo tcp=$?")...)
		if !strings.Contains(r.stdout, "dns=1") || !strings.Contains(r.stdout, "tcp=1") {
			t.Fatalf("from another network (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("published port", func(t *testing.T) {
		if got, err := httpGet(page); err != nil || strings.TrimSpace(got) != "hello-from-web" {
			t.Fatalf("GET %s: %q, %v", page, got, err)
		}
		if out := mustRun(t, home, "port", "web"); out != fmt.Sprintf("80/tcp -> 127.0.0.1:%d\n", port) {
			t.Fatalf("berth port: %q", out)
		}
		if out := mustRun(t, home, "ps"); !strings.Contains(out, fmt.Sprintf("127.0.0.1:%d->80/tcp", port)) {
			t.Fatalf("ps shows no port:\n%s", out)
		}
	})

	t.Run("a port in use fails the start clearly", func(t *testing.T) {
		// Taken by another container on the network…
		r := berth(t, home, append(run("--name", "twin", "--network", "app", "-p", fmt.Sprintf("127.0.0.1:%d:80", port),
			"berth/demo"), "true")...)
		if r.code == 0 || !strings.Contains(r.stderr, fmt.Sprintf("127.0.0.1:%d", port)) || !strings.Contains(r.stderr, "already published") {
			t.Fatalf("a port another container holds (exit %d): %s", r.code, r.stderr)
		}
		mustRun(t, home, "rm", "twin") // created, never started
		// …and by a process of the host, which is named.
		held, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		hp := held.Addr().(*net.TCPAddr).Port
		r = berth(t, home, append(run("--rm", "--network", "app", "-p", fmt.Sprintf("127.0.0.1:%d:80", hp), "berth/demo"), "true")...)
		if r.code == 0 || !strings.Contains(r.stderr, strconv.Itoa(hp)) || !strings.Contains(r.stderr, fmt.Sprintf("pid %d", os.Getpid())) {
			t.Fatalf("a port a host process holds (exit %d): %s", r.code, r.stderr)
		}
		if n := len(listAll(t, home)); n != 1 {
			t.Fatalf("%d containers after the failed runs, want web only", n)
		}
	})

	t.Run("network rm in use names its containers", func(t *testing.T) {
		r := berth(t, home, "network", "rm", "app")
		if r.code == 0 || !strings.Contains(r.stderr, "in use by container web") {
			t.Fatalf("network rm app (exit %d): %s", r.code, r.stderr)
		}
	})

	t.Run("the host's loopback is private unless asked for", func(t *testing.T) {
		lp := serveLoopback(t, "loopback-secret")
		gw := web.Networks[0].Gateway
		r := berth(t, home, append(run("--rm", "--network", "app", "berth/demo", "sh", "-c"),
			fmt.Sprintf("timeout 5 wget -q -O- http://%s:%d/; timeout 5 wget -q -O- http://host.berth.internal:%d/; true", gw, lp, lp))...)
		if strings.Contains(r.stdout, "loopback-secret") {
			t.Fatalf("a container reached the host's loopback:\n%s", r.stdout)
		}
		out := mustRun(t, home, append(run("--rm", "--network", "dev", "--add-host", "hg:host-gateway", "berth/demo", "sh", "-c"),
			fmt.Sprintf("wget -q -O- http://host.berth.internal:%d/; echo; wget -q -O- http://hg:%d/", lp, lp))...)
		if strings.Count(out, "loopback-secret") != 2 {
			t.Fatalf("with host access:\n%s", out)
		}
		r = berth(t, home, run("--rm", "--network", "app", "--add-host", "hg:host-gateway", "berth/demo", "true")...)
		if r.code == 0 || !strings.Contains(r.stderr, "--host-access") {
			t.Fatalf("host-gateway on a private network (exit %d): %s", r.code, r.stderr)
		}
	})

	t.Run("no network", func(t *testing.T) {
		out := mustRun(t, home, run("--rm", "--network", "none", "berth/demo", "sh", "-c", "ls /sys/class/net")...)
		if strings.Fields(out)[0] != "lo" || len(strings.Fields(out)) != 1 {
			t.Fatalf("--network none has NICs: %q", out)
		}
	})

	t.Run("stop frees the port, start keeps the address", func(t *testing.T) {
		mustRun(t, home, "stop", "web")
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatalf("the published port is still held after stop: %v", err)
		}
		l.Close()
		if c := inspect(t, home, "web"); len(c.Ports) != 0 || c.IPAddress != "" || addressOn(t, c, "app") != webIP {
			t.Fatalf("stopped: ports %+v, address %q, networks %+v", c.Ports, c.IPAddress, c.Networks)
		}
		// Joining a network takes effect at the next start.
		if r := berth(t, home, "network", "connect", "other", "web"); r.code != 0 {
			t.Fatalf("connect: %s", r.stderr)
		}
		mustRun(t, home, "start", "web")
		c := inspect(t, home, "web")
		if addressOn(t, c, "app") != webIP || len(c.Networks) != 2 {
			t.Fatalf("after start: %+v", c.Networks)
		}
		// (started: its process runs; httpd answers a moment later)
		waitFor(t, func() bool {
			got, err := httpGet(page)
			return err == nil && strings.TrimSpace(got) == "hello-from-web"
		})
		out := mustRun(t, home, append(run("--rm", "--network", "other", "berth/demo", "sh", "-c"), "wget -q -O- http://web/")...)
		if strings.TrimSpace(out) != "hello-from-web" {
			t.Fatalf("from the newly joined network: %q", out)
		}
	})

	t.Run("the network outlives a killed daemon", func(t *testing.T) {
		mustRun(t, home, append(run("-d", "--name", "pinger", "--network", "app", "berth/demo", "sh", "-c"),
			"i=0; while true; do wget -q -O- http://web/ >/dev/null && echo ok $i; i=$((i+1)); sleep 0.2; done")...)
		waitFor(t, func() bool { return strings.Contains(mustRun(t, home, "logs", "pinger"), "ok 3") })
		killDaemon(t, home)
		// No daemon: the published port and the containers' traffic go on.
		for range 3 {
			if got, err := httpGet(page); err != nil || strings.TrimSpace(got) != "hello-from-web" {
				t.Fatalf("the published port with no daemon: %q, %v", got, err)
			}
			time.Sleep(300 * time.Millisecond)
		}
		// A new daemon re-adopts everything, and the output the guest kept
		// meanwhile reaches the log: the pings went on.
		waitFor(t, func() bool {
			var last int
			fmt.Sscanf(lastLine(mustRun(t, home, "logs", "pinger")), "ok %d", &last)
			return last >= 10
		})
		daemonLog, _ := os.ReadFile(filepath.Join(home, "daemon.log"))
		if !strings.Contains(string(daemonLog), `msg="re-adopted network" network=app`) {
			t.Fatal("the network was not re-adopted")
		}
		out := mustRun(t, home, append(run("--rm", "--network", "app", "berth/demo"), "wget", "-q", "-O-", "http://web/")...)
		if strings.TrimSpace(out) != "hello-from-web" {
			t.Fatalf("names after re-adoption: %q", out)
		}
		mustRun(t, home, "rm", "-f", "pinger")
	})

	t.Run("networks stop with their last container", func(t *testing.T) {
		mustRun(t, home, "rm", "-f", "web")
		var list []api.Network
		if err := json.Unmarshal([]byte(mustRun(t, home, "network", "ls", "--format", "json")), &list); err != nil {
			t.Fatal(err)
		}
		for _, n := range list {
			if n.State != api.NetworkStopped || len(n.Members) != 0 {
				t.Fatalf("network %s: %s with %d members", n.Name, n.State, len(n.Members))
			}
		}
		if out := mustRun(t, home, "network", "prune", "-f"); !strings.Contains(out, "app") || !strings.Contains(out, "other") {
			t.Fatalf("prune: %s", out)
		}
		if runs, _ := os.ReadDir(filepath.Join(home, "networks")); len(runs) != 0 {
			t.Fatalf("network run directories left: %v", runs)
		}
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// BenchmarkStartLatency times `berth run --rm … true` (create, boot, run,
// remove) through the CLI and daemon: with no network, on a network whose
// process already runs (another member keeps it up), and on a network
// whose process starts and stops with the container. The differences are
// what networking adds to a start.
func BenchmarkStartLatency(b *testing.B) {
	home := vmHome(b)
	for _, n := range []string{"warm", "cold"} {
		if r := berth(b, home, "network", "create", n); r.code != 0 {
			b.Fatal(r.stderr)
		}
	}
	if r := berth(b, home, run("-d", "--name", "keeper", "--network", "warm", "berth/demo", "sleep", "3600")...); r.code != 0 {
		b.Fatal(r.stderr)
	}
	for _, c := range []struct{ name, network string }{
		{"network=none", "none"}, {"network=running", "warm"}, {"network=starting", "cold"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if r := berth(b, home, run("--rm", "--network", c.network, "berth/demo", "true")...); r.code != 0 {
					b.Fatal(r.stderr)
				}
			}
		})
	}
}
