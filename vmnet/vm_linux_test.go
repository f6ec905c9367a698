package vmnet

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/testenv"
)

// The real-packet tests: QEMU guests (hvtest's kernel, initramfs, agent
// and busybox disk) whose NICs are unix datagram sockets, as every
// Berth VM's is, with this package's pump on the network's side. What a
// Mac runs differently is only the engine at the far end of the pump
// (vmnet's calls, or gvisor-tap-vsock) and the hypervisor on the near
// end (vz's file-handle attachment, the same kind of socket).

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-vmnet-test-")
	if err != nil {
		panic(err)
	}
	hvtest.SetWorkDir(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// vmRunDir is the run directory of the VM whose network listens at sock;
// vmSide is where that VM binds its own end (QEMU's -netdev dgram, as the
// QEMU backend attaches every socket NIC).
func vmRunDir(sock string) string { return strings.TrimSuffix(sock, ".sock") + "-vm" }
func vmSide(sock string) string   { return hypervisor.NICSocket(vmRunDir(sock), 0) }

// guest is one booted VM with a container to run commands in.
type guest struct {
	name string
	mac  string
	m    hypervisor.Machine
	c    *agent.Client
}

// bootGuests boots one VM per NIC socket, at once (two cores, TCG).
func bootGuests(t *testing.T, nics map[string]string) map[string]*guest {
	t.Helper()
	testenv.Tool(t, qemu.Binary(hypervisor.AMD64), "qemu-system-x86")
	f := hvtest.Get(t, hypervisor.AMD64)
	d := qemu.New()
	guests := map[string]*guest{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(nics))
	i := 0
	for name, sock := range nics {
		i++
		g := &guest{name: name, mac: fmt.Sprintf("52:54:00:77:00:%02x", i)}
		cfg := hypervisor.VMConfig{
			ID: name, Arch: hypervisor.AMD64, CPUs: 1, MemoryMiB: 256,
			Kernel: f.Kernel.Path, Initrd: f.Initrd,
			Disks:    []hypervisor.Disk{{ID: "base", Path: f.BaseDisk, ReadOnly: true}},
			Networks: []hypervisor.Network{{Mode: hypervisor.NetworkSocket, MAC: g.mac, Socket: sock}},
			RunDir:   vmRunDir(sock),
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), hvtest.Timeout)
			defer cancel()
			m, err := d.Start(ctx, cfg)
			if err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				return
			}
			g.m = m
			mu.Lock()
			guests[name] = g
			mu.Unlock()
			if g.c, err = hvtest.Connect(ctx, m); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	wg.Wait()
	for _, g := range guests {
		t.Cleanup(func() {
			if g.c != nil {
				g.c.Close()
			}
			if g.m.State() == hypervisor.Running {
				_ = g.m.Kill()
			}
			os.Remove(vmSide(nics[g.name]))
		})
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return guests
}

// setUp gives g its address and a container (on the busybox disk).
func (g *guest) setUp(t *testing.T, address string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hvtest.Timeout)
	defer cancel()
	if err := g.c.ConfigureNetwork(ctx, proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: g.mac, Address: address}}}); err != nil {
		t.Fatalf("%s: configure %s: %v", g.name, address, err)
	}
	if err := g.c.CreateContainer(ctx, proto.ContainerConfig{ID: "c", Base: proto.Device{Serial: "base"}, Hostname: g.name}); err != nil {
		t.Fatalf("%s: %v", g.name, err)
	}
	if _, err := g.c.Start(ctx, "c", "main", proto.ProcessSpec{Args: []string{"sleep", "3600"}}, agent.Stdio{}); err != nil {
		t.Fatalf("%s: %v", g.name, err)
	}
}

var execs sync.Map // per guest name: a counter for process ids

func sh(script string) proto.ProcessSpec {
	return proto.ProcessSpec{Args: []string{"sh", "-c", script}, Env: []string{"PATH=/bin"}}
}

// run runs script in g's container and returns its result.
func (g *guest) run(t *testing.T, script string, timeout time.Duration) hvtest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	n, _ := execs.LoadOrStore(g.name, new(int))
	*n.(*int)++
	p, err := g.c.Exec(ctx, "c", fmt.Sprintf("x%d", *n.(*int)), sh(script), agent.Stdio{Stdout: true, Stderr: true})
	if err != nil {
		t.Fatalf("%s: %v", g.name, err)
	}
	r, err := hvtest.Collect(ctx, p, "")
	if err != nil {
		t.Fatalf("%s: %q: %v", g.name, script, err)
	}
	return r
}

// serve starts busybox httpd in g on port 8080 with an index page and a
// 1 MiB file of random bytes, and returns that file's MD5.
func (g *guest) serve(t *testing.T) string {
	t.Helper()
	r := g.run(t, "mkdir -p /tmp/www && echo hello from "+g.name+" > /tmp/www/index.html && "+
		"busybox dd if=/dev/urandom of=/tmp/www/big bs=64k count=16 2>/dev/null && busybox md5sum /tmp/www/big", 30*time.Second)
	sum, _, _ := strings.Cut(r.Stdout, " ")
	if r.Exit.Code != 0 || len(sum) != 32 {
		t.Fatalf("%s: %+v", g.name, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hvtest.Timeout)
	defer cancel()
	if _, err := g.c.Exec(ctx, "c", "httpd", sh("exec busybox httpd -f -p 8080 -h /tmp/www"), agent.Stdio{}); err != nil {
		t.Fatalf("%s: httpd: %v", g.name, err)
	}
	return sum
}

// fetch is a guest's script that GETs url to stdout, retrying for a few
// seconds (the server may still be starting). busybox 1.35's wget -T
// crashes: timeout bounds each try instead.
func fetch(url string, tries int) string {
	return fmt.Sprintf("for i in $(busybox seq %d); do busybox timeout 10 busybox wget -q -O - %s && exit 0; sleep 1; done; exit 1", tries, url)
}

// unexpectedDrops reports drops other than the two a live network has:
// a receiver that is full (a guest's QEMU, which Linux lets queue only 10
// datagrams from a sender it is not connected to) and a guest that is not
// there yet (the other guest, or the kernel, talks first).
func unexpectedDrops(c Count) bool { return c.Dropped() != c.BufferFull+c.NoPeer }

// TestRealPacketsBetweenGuests wires two QEMU guests to each other through
// two pumps and a datagram pair (a wire): guest one's NIC socket → its
// pump → the pair → the other pump → guest two's NIC socket, and back.
// Real kernels on both ends: ARP, ICMP at full MTU, TCP (busybox httpd and
// wget), a 1 MiB file checked by MD5, and a filter that drops IPv4 to one
// of guest two's two addresses while the other keeps working.
func TestRealPacketsBetweenGuests(t *testing.T) {
	start := time.Now()
	dir := shortDir(t)
	sock1, sock2 := filepath.Join(dir, "net1.sock"), filepath.Join(dir, "net2.sock")
	port1, err := ListenDatagram(sock1, vmSide(sock1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port1.Close() }) // after the pumps stop (cleanups run last first)
	port2, err := ListenDatagram(sock2, vmSide(sock2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port2.Close() })
	for _, p := range []*DatagramPort{port1, port2} {
		p.SetMaxFrame(1514) // the guests' MTU is 1500
	}
	wireA, b, err := DatagramPair()
	if err != nil {
		t.Fatal(err)
	}
	wireB := NewDatagramPort(b)
	t.Cleanup(func() { wireA.Close(); wireB.Close() })

	var stats1, stats2 Stats
	stop1 := runPump(t, port1, wireA, PumpOptions{Stats: &stats1})
	runPump(t, port2, wireB, PumpOptions{Stats: &stats2})

	guests := bootGuests(t, map[string]string{"one": sock1, "two": sock2})
	one, two := guests["one"], guests["two"]
	booted := time.Now()
	one.setUp(t, "10.77.0.2/24")
	two.setUp(t, "10.77.0.3/24")
	// A second address on guest two's NIC, for the filter below.
	if r := two.run(t, "dev=$(busybox ip -o link | busybox grep -i "+two.mac+" | busybox cut -d: -f2 | busybox tr -d ' ') && busybox ip addr add 10.77.0.4/24 dev $dev && busybox ip -4 addr show dev $dev", 30*time.Second); r.Exit.Code != 0 || !strings.Contains(r.Stdout, "10.77.0.4/24") {
		t.Fatalf("second address: %+v", r)
	}
	sum := two.serve(t)

	// ICMP both ways, the last at full MTU (1472 + 8 + 20 + 14 = 1514 bytes).
	if r := one.run(t, "busybox ping -c 2 -W 5 10.77.0.3 && busybox ping -c 2 -W 5 -s 1472 10.77.0.3", 60*time.Second); r.Exit.Code != 0 || !strings.Contains(r.Stdout, "1480 bytes from 10.77.0.3") {
		t.Fatalf("ping from one to two: %+v", r)
	}
	if r := two.run(t, "busybox ping -c 2 -W 5 -s 1472 10.77.0.2", 60*time.Second); r.Exit.Code != 0 || !strings.Contains(r.Stdout, "1480 bytes from 10.77.0.2") {
		t.Fatalf("ping from two to one: %+v", r)
	}
	// TCP: a page, then 1 MiB whose MD5 must match.
	if r := one.run(t, fetch("http://10.77.0.3:8080/", 10), 2*time.Minute); r.Exit.Code != 0 || r.Stdout != "hello from two\n" {
		t.Fatalf("GET from one to two: %+v", r)
	}
	t0 := time.Now()
	r := one.run(t, "busybox timeout 120 busybox wget -q -O /tmp/big http://10.77.0.3:8080/big && busybox md5sum /tmp/big", 3*time.Minute)
	if got, _, _ := strings.Cut(r.Stdout, " "); r.Exit.Code != 0 || got != sum {
		t.Fatalf("1 MiB from two to one: MD5 %q, want %q: %+v", got, sum, r)
	}
	t.Logf("1 MiB over TCP through two pumps in %v", time.Since(t0).Round(time.Millisecond))
	if r := one.run(t, fetch("http://10.77.0.4:8080/", 3), time.Minute); r.Exit.Code != 0 || r.Stdout != "hello from two\n" {
		t.Fatalf("GET from one to two's second address: %+v", r)
	}
	// The 1 MiB went from two to one: some 725 full frames that way, the
	// ACKs the other.
	for _, s := range []struct {
		name string
		c    *Counters
		min  uint64
	}{{"one → wire", &stats1.FromVM, 10}, {"wire → one", &stats1.ToVM, 725}, {"two → wire", &stats2.FromVM, 725}, {"wire → two", &stats2.ToVM, 10}} {
		c := s.c.Load()
		t.Logf("%s: %+v", s.name, c)
		if c.Frames < s.min || unexpectedDrops(c) {
			t.Fatalf("%s: %+v: want %d frames or more, and drops only for a full buffer or a guest not there yet", s.name, c, s.min)
		}
	}
	if port1.Strangers() != 0 || port2.Strangers() != 0 {
		t.Fatalf("strangers: %d, %d", port1.Strangers(), port2.Strangers())
	}

	// Guest one's pump restarts with a filter: IPv4 to 10.77.0.4 is
	// dropped on its way from the VM, the rest (ARP, 10.77.0.3) passes.
	if err := stop1(); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("stopping guest one's pump: %v", err)
	}
	runPump(t, port1, wireA, PumpOptions{Stats: &stats1, FromVM: DenyIPv4To(netip.MustParsePrefix("10.77.0.4/32"))})
	if r := one.run(t, "busybox timeout 5 busybox wget -q -O - http://10.77.0.4:8080/", time.Minute); r.Exit.Code == 0 {
		t.Fatalf("GET to the filtered address succeeded: %+v", r)
	}
	if r := one.run(t, fetch("http://10.77.0.3:8080/", 3), time.Minute); r.Exit.Code != 0 || r.Stdout != "hello from two\n" {
		t.Fatalf("GET past the filter: %+v", r)
	}
	if n := stats1.FromVM.Filtered.Load(); n == 0 {
		t.Fatal("the filter dropped nothing")
	} else {
		t.Logf("filter: %d frames to 10.77.0.4 dropped", n)
	}
	t.Logf("boot %v, traffic %v, total %v", booted.Sub(start).Round(time.Millisecond), time.Since(booted).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
