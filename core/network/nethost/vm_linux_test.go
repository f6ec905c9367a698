package nethost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/testenv"
)

// The real-VM tests boot QEMU guests (the agent's initramfs, a busybox
// disk) with the QEMU driver, whose socket NIC is -netdev dgram between
// hypervisor.NICSocket (the attachment's Peer) and the network's Socket.

// guest is one booted VM on a network, running one container.
type guest struct {
	name, ip, mac string
	plan          *Plan
	serve         string // if set, the container runs httpd serving this
	att           Attachment
	m             hypervisor.Machine
	c             *agent.Client
}

var execs atomic.Int64

// sh runs script in the guest's container and returns its output and
// exit status.
func (g *guest) sh(ctx context.Context, script string) (hvtest.Result, error) {
	id := "x" + strconv.FormatInt(execs.Add(1), 10)
	p, err := g.c.Exec(ctx, "c", id, proto.ProcessSpec{Args: []string{"sh", "-c", script}, Env: []string{"PATH=/bin"}},
		agent.Stdio{Stdout: true, Stderr: true})
	if err != nil {
		return hvtest.Result{}, err
	}
	return hvtest.Collect(ctx, p, "")
}

// check is one thing a guest tries: ok says whether it must succeed
// (with want in its output) or fail.
type check struct {
	g      *guest
	script string
	ok     bool
	want   string
}

// fetch is an HTTP GET in the guest that gives up after 4 seconds.
func fetch(url string) string { return "timeout 4 wget -q -O - " + url }

// runChecks runs checks at once (the failing ones wait out their
// timeouts together).
func runChecks(t *testing.T, checks ...check) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hvtest.Timeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]string, len(checks))
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.g.sh(ctx, c.script)
			switch {
			case err != nil:
				errs[i] = err.Error()
			case c.ok && (r.Exit.Code != 0 || !strings.Contains(r.Stdout, c.want)):
				errs[i] = fmt.Sprintf("failed (%v): stdout %q stderr %q; want %q", r.Exit, r.Stdout, r.Stderr, c.want)
			case !c.ok && r.Exit.Code == 0:
				errs[i] = fmt.Sprintf("succeeded: stdout %q", r.Stdout)
			}
		}()
	}
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			t.Errorf("%s: %s: %s", checks[i].g.name, checks[i].script, e)
		}
	}
}

// hostAddress is an IPv4 address of this host that is not loopback: an
// "outside" address a container reaches through the host.
func hostAddress(t *testing.T) string {
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String()
			}
		}
	}
	testenv.Missing(t, "this host has no IPv4 address besides loopback to stand for the outside")
	return ""
}

// serveHTTP serves body on addr until the test ends and returns the port.
func serveHTTP(t *testing.T, addr, body string) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func attachmentStatus(t *testing.T, c *Client, vm string) AttachmentStatus {
	t.Helper()
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range st.Attachments {
		if a.VM == vm {
			return a
		}
	}
	t.Fatalf("no attachment %q in %+v", vm, st.Attachments)
	return AttachmentStatus{}
}

// TestNetworksWithVMs runs two networks with two VMs each: network A
// (default: a way out, no host access), started by a core that is then
// killed; network B internal, with host access.
func TestNetworksWithVMs(t *testing.T) {
	testenv.Tool(t, qemu.Binary(hypervisor.AMD64), "qemu-system-x86")
	f := hvtest.Get(t, hypervisor.AMD64)
	began := time.Now()
	outside := hostAddress(t)
	loopPort := serveHTTP(t, "127.0.0.1:0", "host loopback")
	outPort := serveHTTP(t, net.JoinHostPort(outside, "0"), "host outside")
	dir := shortDir(t)
	ctx := testCtx(t, 5*time.Minute)

	planA := Plan{ID: "neta", Name: "neta", Subnet: "10.89.11.0/24", Gateway: "10.89.11.1", Blocked: []string{"10.89.12.0/24"}}
	planB := Plan{ID: "netb", Name: "netb", Subnet: "10.89.12.0/24", Gateway: "10.89.12.1", Internal: true, HostAccess: true,
		Blocked: []string{"10.89.11.0/24"}}
	a1 := &guest{name: "a1", ip: "10.89.11.2", mac: "52:54:00:0b:00:02", plan: &planA, serve: "hello from a1"}
	a2 := &guest{name: "a2", ip: "10.89.11.3", mac: "52:54:00:0b:00:03", plan: &planA}
	b1 := &guest{name: "b1", ip: "10.89.12.2", mac: "52:54:00:0c:00:02", plan: &planB}
	b2 := &guest{name: "b2", ip: "10.89.12.3", mac: "52:54:00:0c:00:03", plan: &planB, serve: "hello from b2"}
	guests := []*guest{a1, a2, b1, b2}
	if err := os.MkdirAll(filepath.Join(dir, "nics"), 0o700); err != nil {
		t.Fatal(err)
	}
	states := map[string]*State{"neta": {}, "netb": {}}
	for _, g := range guests {
		g.att = Attachment{VM: g.name, MAC: g.mac, IP: g.ip, Socket: filepath.Join(dir, "nics", g.name+".sock"),
			Peer: hypervisor.NICSocket(filepath.Join(dir, "vm-"+g.name), 0)}
		s := states[g.plan.ID]
		s.Attachments = append(s.Attachments, g.att)
		s.Records = append(s.Records, Record{Name: g.name, IP: g.ip})
	}

	// Network A's process is started by a core child, which syncs it
	// (attachments and names) and is killed later on.
	spec, _ := json.Marshal(coreSpec{RunDir: filepath.Join(dir, "neta"), Log: filepath.Join(dir, "neta.log"), Plan: planA, State: states["neta"]})
	handleA, core := startCore(t, string(spec))
	clientA := NewClient(handleA.RunDir)
	netB := startNet(t, dir, planB)
	if _, _, err := netB.Sync(ctx, *states["netb"]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkLog(t, filepath.Join(dir, "neta.log")) })

	// Boot the four VMs at once.
	bootAll(ctx, t, f, guests)
	t.Logf("four VMs booted and configured in %v", time.Since(began).Round(time.Millisecond))

	loopURL := func(host string) string { return fmt.Sprintf("http://%s:%d/", host, loopPort) }
	outURL := fmt.Sprintf("http://%s:%d/", outside, outPort)

	t.Run("names and isolation", func(t *testing.T) {
		start := time.Now()
		runChecks(t,
			check{g: a2, script: fetch("http://a1/"), ok: true, want: "hello from a1"},
			check{g: a2, script: fetch("http://a1.berth.internal/"), ok: true, want: "hello from a1"},
			check{g: b1, script: fetch("http://b2/"), ok: true, want: "hello from b2"},
			// Network A's names are not network B's.
			check{g: b1, script: fetch("http://a1/")},
			// Nor its addresses, either way.
			check{g: b1, script: fetch("http://10.89.11.2/")},
			check{g: a2, script: fetch("http://10.89.12.3/")},
		)
		if n := attachmentStatus(t, clientA, "a2").DroppedBy[DropOtherNetwork.String()]; n == 0 {
			t.Errorf("a2's frames to network B were not dropped as %q", DropOtherNetwork)
		}
		if n := attachmentStatus(t, netB.Client, "b1").DroppedBy[DropOtherNetwork.String()]; n == 0 {
			t.Errorf("b1's frames to network A were not dropped as %q", DropOtherNetwork)
		}
		t.Logf("in %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("the host", func(t *testing.T) {
		start := time.Now()
		runChecks(t,
			// A has a way out, to the host's other addresses too...
			check{g: a2, script: fetch(outURL), ok: true, want: "host outside"},
			// ... but not to its loopback: not through the gateway, not
			// through the host address, and host.berth.internal does not
			// resolve without host access.
			check{g: a2, script: fetch(loopURL("10.89.11.1"))},
			check{g: a2, script: fetch(loopURL("10.89.11.254"))},
			check{g: a2, script: fetch(loopURL("host.berth.internal"))},
			// B is internal: no way out, even to the host's address...
			check{g: b1, script: fetch(outURL)},
			// ... but it has host access: host.berth.internal is the
			// host's loopback.
			check{g: b1, script: fetch(loopURL("host.berth.internal")), ok: true, want: "host loopback"},
		)
		// (The host address of A is nobody's: the guest's ARP for it
		// goes unanswered and no frame is sent. Crafted frames to it are
		// TestCraftedFramesToTheHost's and TestFilter's.)
		st, err := clientA.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Refused[DropNotOnNetwork.String()] == 0 {
			t.Errorf("the gateway did not refuse to dial its own address for a2 (%v)", st.Refused)
		}
		if b := attachmentStatus(t, netB.Client, "b1"); b.DroppedBy[DropNoWayOut.String()] == 0 {
			t.Errorf("b1's frames out of the internal network were not dropped (%v)", b.DroppedBy)
		}
		t.Logf("in %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("published port", func(t *testing.T) {
		start := time.Now()
		fw, err := clientA.Expose(ctx, Forward{Proto: "tcp", HostIP: "127.0.0.1", GuestIP: a1.ip, GuestPort: 80})
		if err != nil {
			t.Fatal(err)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d/", fw.HostPort)
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hello from a1\n" {
			t.Fatalf("GET %s = %q", url, body)
		}
		other := fw
		other.GuestIP = a2.ip
		if _, err := clientA.Expose(ctx, other); !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), strconv.Itoa(int(fw.HostPort))) {
			t.Fatalf("publishing the port again to another container: %v", err)
		}
		// Internal networks publish nothing.
		if _, err := netB.Expose(ctx, Forward{Proto: "tcp", HostIP: "127.0.0.1", GuestIP: b2.ip, GuestPort: 80}); !errors.Is(err, api.ErrInvalidArgument) {
			t.Fatalf("publishing on an internal network: %v", err)
		}
		st, err := clientA.Status(ctx)
		if err != nil || len(st.Forwards) != 1 || st.Forwards[0].Connections != 1 {
			t.Fatalf("forwards: %+v, %v", st.Forwards, err)
		}
		if err := clientA.Unexpose(ctx, fw.Key()); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", fw.HostPort))
		if err != nil {
			t.Fatalf("the port is still taken after unpublishing: %v", err)
		}
		ln.Close()
		t.Logf("in %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("a VM restarts", func(t *testing.T) {
		// A new VM process takes over an attachment (a restarted
		// container) without the core attaching again: frames go to
		// Peer by path, whoever binds it.
		start := time.Now()
		a1.c.Close()
		if err := a1.m.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := a1.boot(ctx, qemu.New(), f); err != nil {
			t.Fatal(err)
		}
		runChecks(t, check{g: a2, script: fetch("http://a1/"), ok: true, want: "hello from a1"})
		if a := attachmentStatus(t, clientA, "a1"); !a.Heard || a.Error != "" {
			t.Errorf("a1 after its restart: %+v", a)
		}
		t.Logf("in %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("its process crashes", func(t *testing.T) {
		// The VMs keep running; a new process for the network takes
		// their sockets over when the core syncs it (QEMU sends by path;
		// a vm-host's connected socket would need its VM restarted).
		start := time.Now()
		old := netB
		if err := syscall.Kill(old.Handle().PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-old.Done()
		nb, err := Start(ctx, old.Handle().RunDir, planB, os.Args[0], filepath.Join(dir, "netb2.log"))
		if err != nil {
			t.Fatal(err)
		}
		netB = nb
		t.Cleanup(func() { nb.Stop(context.Background()); checkLog(t, filepath.Join(dir, "netb2.log")) })
		res, _, err := nb.Sync(ctx, *states["netb"])
		if err != nil || len(res.Attached) != 2 || !res.Records {
			t.Fatalf("sync of the new process: %+v, %v", res, err)
		}
		runChecks(t,
			check{g: b1, script: fetch("http://b2/"), ok: true, want: "hello from b2"},
			check{g: b1, script: fetch(loopURL("host.berth.internal")), ok: true, want: "host loopback"},
		)
		t.Logf("in %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("survives its core", func(t *testing.T) {
		start := time.Now()
		before := attachmentStatus(t, clientA, "a2")
		killCore(t, core)
		if !running(handleA) {
			t.Fatal("network A's process died with its core")
		}
		runChecks(t, check{g: a2, script: fetch("http://a1/"), ok: true, want: "hello from a1"})
		// A new core adopts the process by its handle and tells it the
		// state it already has: nothing changes, traffic counts on.
		p, err := Adopt(ctx, handleA)
		if err != nil {
			t.Fatal(err)
		}
		res, st, err := p.Sync(ctx, *states["neta"])
		if err != nil || res.Changed() {
			t.Fatalf("sync after adoption: %+v, %v", res, err)
		}
		var after AttachmentStatus
		for _, a := range st.Attachments {
			if a.VM == "a2" {
				after = a
			}
		}
		if after.FramesFromVM <= before.FramesFromVM || after.BytesToVM <= before.BytesToVM {
			t.Errorf("a2's counters went from %+v to %+v", before, after)
		}
		runChecks(t, check{g: a2, script: fetch("http://a1.berth.internal/"), ok: true, want: "hello from a1"})

		// Stop: no process, no run directory, no socket is left.
		for _, n := range []*Process{p, netB} {
			if err := n.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			waitGone(t, n.Handle())
			if _, err := os.Stat(n.Handle().RunDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: run directory after stop: %v", n.Handle().Name, err)
			}
		}
		for _, g := range guests {
			if _, err := os.Stat(g.att.Socket); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: attachment socket after stop: %v", g.name, err)
			}
		}
		t.Logf("in %v", time.Since(start).Round(time.Millisecond))
	})
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}

// boot starts the guest's VM (the network has bound its socket already),
// configures its address and starts its container.
// bootAll boots guests at once on the stock QEMU driver; each VM is
// killed when the test ends, and a guest that did not boot fails it.
func bootAll(ctx context.Context, t *testing.T, f *hvtest.Fixtures, guests []*guest) {
	t.Helper()
	d := qemu.New()
	var wg sync.WaitGroup
	errs := make([]error, len(guests))
	for i, g := range guests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.boot(ctx, d, f)
		}()
	}
	wg.Wait()
	for i, g := range guests {
		if g.m != nil {
			t.Cleanup(func() {
				if g.c != nil {
					g.c.Close()
				}
				_ = g.m.Kill()
			})
		}
		if errs[i] != nil {
			t.Fatalf("boot %s: %v", g.name, errs[i])
		}
	}
}

func (g *guest) boot(ctx context.Context, d hypervisor.Driver, f *hvtest.Fixtures) error {
	runDir := filepath.Dir(g.att.Peer)
	cfg := hypervisor.VMConfig{ID: g.name, Arch: hypervisor.AMD64, CPUs: 1, MemoryMiB: 256,
		Kernel: f.Kernel.Path, Initrd: f.Initrd, RunDir: runDir,
		Disks:    []hypervisor.Disk{{ID: "base", Path: f.BaseDisk, ReadOnly: true}},
		Networks: []hypervisor.Network{{Mode: hypervisor.NetworkSocket, MAC: g.mac, Socket: g.att.Socket}}}
	m, err := d.Start(ctx, cfg)
	if err != nil {
		return err
	}
	g.m = m
	if g.c, err = hvtest.Connect(ctx, m); err != nil {
		return err
	}
	if err := g.c.ConfigureNetwork(ctx, proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: g.mac, Address: g.ip + "/24"}},
		Gateway: g.plan.Gateway}); err != nil {
		return err
	}
	if err := g.c.CreateContainer(ctx, proto.ContainerConfig{ID: "c", Base: proto.Device{Serial: "base"}, Hostname: g.name,
		DNS: &proto.DNS{Servers: []string{g.plan.Gateway}, Search: []string{DefaultDNSDomain}}}); err != nil {
		return err
	}
	main := []string{"sleep", "3600"}
	if g.serve != "" {
		main = []string{"sh", "-c", "mkdir -p /www && echo '" + g.serve + "' > /www/index.html && exec httpd -f -p 80 -h /www"}
	}
	if _, err := g.c.Start(ctx, "c", "main", proto.ProcessSpec{Args: main, Env: []string{"PATH=/bin"}}, agent.Stdio{}); err != nil {
		return err
	}
	if g.serve == "" {
		return nil
	}
	// httpd is up once it answers its own container.
	for {
		r, err := g.sh(ctx, "wget -q -O - http://127.0.0.1/")
		if err == nil && strings.Contains(r.Stdout, g.serve) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("httpd did not come up: %v %+v", err, r)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
