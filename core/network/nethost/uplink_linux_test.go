package nethost

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/testenv"
)

func ipCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// hostGet is GET http://addr/ from this host's namespace: the body, or
// the error.
func hostGet(addr string) string {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Status + ": " + string(b)
}

// outsideAddr is the far end's server: an address of TEST-NET-3 that only
// the test's namespace has. (This kind of machine sits in TEST-NET-1,
// 192.0.2.0/24, with its default route at 192.0.2.1.)
const outsideAddr = "203.0.113.80"

// TestUplinkWithVMs runs a network whose way out is a TAP device (the
// uplink, as vmnet's interface is on a Mac) with its far end in a
// network namespace of the test's own: the TAP device at the uplink
// address, and a server at outsideAddr, which exists only there, so that
// gvisor's NAT (dialing from this host's namespace) could not reach it.
// Three QEMU guests: c1 and c2 on that network, d1 on an internal network
// whose plan names the same uplink.
func TestUplinkWithVMs(t *testing.T) {
	testenv.Root(t)
	testenv.Tool(t, "ip", "iproute2")
	testenv.Tool(t, qemu.Binary(hypervisor.AMD64), "qemu-system-x86")
	f := hvtest.Get(t, hypervisor.AMD64)
	kdir, _ := kernel.Dir()
	bb, err := kernel.Busybox(kdir, "amd64")
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	began := time.Now()
	// From this host's namespace the server is not there (on this kind
	// of machine a proxy accepts every TCP connection, and says 404).
	if body := hostGet(outsideAddr); strings.Contains(body, "hello from outside") {
		t.Fatalf("%s serves the far end's page in this host's namespace: the test could not tell the uplink from the gateway's NAT", outsideAddr)
	}
	loopPort := serveHTTP(t, "127.0.0.1:0", "host loopback")
	dir := shortDir(t)
	ctx := testCtx(t, 5*time.Minute)

	ns := fmt.Sprintf("berth-uplink-%d", os.Getpid())
	tap := fmt.Sprintf("bnhup%d", os.Getpid()%100000)
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ipCmd(t, "tuntap", "add", "dev", tap, "mode", "tap")
	t.Cleanup(func() {
		exec.Command("ip", "-n", ns, "link", "del", tap).Run()
		exec.Command("ip", "link", "del", tap).Run()
	})

	planC := Plan{ID: "netc", Name: "netc", Subnet: "10.89.13.0/24", Gateway: "10.89.13.1", Uplink: UplinkTapPrefix + tap,
		Blocked: []string{"10.89.14.0/24"}}
	planD := Plan{ID: "netd", Name: "netd", Subnet: "10.89.14.0/24", Gateway: "10.89.14.1", Internal: true, Uplink: UplinkTapPrefix + tap,
		Blocked: []string{"10.89.13.0/24"}}
	// Network C's process opens the TAP device here, then the device
	// moves into the namespace (its open descriptor follows it) and gets
	// the uplink's address; the gateway's ARP question is answered once
	// it is up there.
	netC := startNet(t, dir, planC)
	ipCmd(t, "link", "set", tap, "netns", ns)
	ipCmd(t, "-n", ns, "addr", "add", "10.89.13.253/24", "dev", tap)
	ipCmd(t, "-n", ns, "link", "set", tap, "up")
	ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	// (On its loopback: the kernel takes a packet for any of its own
	// addresses on any interface. No dummy module on this kind of host.)
	ipCmd(t, "-n", ns, "addr", "add", outsideAddr+"/32", "dev", "lo")
	bridge := ""
	if fs := strings.Fields(ipCmd(t, "-n", ns, "-o", "link", "show", tap)); len(fs) > 2 {
		for i, f := range fs {
			if f == "link/ether" && i+1 < len(fs) {
				bridge = fs[i+1]
			}
		}
	}

	// The server out there: a page, and a CGI that says who asked.
	www := t.TempDir()
	if err := os.MkdirAll(filepath.Join(www, "cgi-bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("hello from outside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<20)
	rand.Read(big)
	sum := md5.Sum(big)
	if err := os.WriteFile(filepath.Join(www, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	cgi := "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"from $REMOTE_ADDR\"\n"
	if err := os.WriteFile(filepath.Join(www, "cgi-bin", "who"), []byte(cgi), 0o755); err != nil {
		t.Fatal(err)
	}
	httpd := exec.Command("ip", "netns", "exec", ns, bb, "httpd", "-f", "-p", outsideAddr+":80", "-h", www)
	if err := httpd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { httpd.Process.Kill(); httpd.Wait() })

	netD := startNet(t, dir, planD)
	c1 := &guest{name: "c1", ip: "10.89.13.2", mac: "52:54:00:0d:00:02", plan: &planC, serve: "hello from c1"}
	c2 := &guest{name: "c2", ip: "10.89.13.3", mac: "52:54:00:0d:00:03", plan: &planC}
	d1 := &guest{name: "d1", ip: "10.89.14.2", mac: "52:54:00:0e:00:02", plan: &planD}
	guests := []*guest{c1, c2, d1}
	if err := os.MkdirAll(filepath.Join(dir, "nics"), 0o700); err != nil {
		t.Fatal(err)
	}
	states := map[string]*State{"netc": {}, "netd": {}}
	for _, g := range guests {
		g.att = Attachment{VM: g.name, MAC: g.mac, IP: g.ip, Socket: filepath.Join(dir, "nics", g.name+".sock"),
			Peer: hypervisor.NICSocket(filepath.Join(dir, "vm-"+g.name), 0)}
		s := states[g.plan.ID]
		s.Attachments = append(s.Attachments, g.att)
		s.Records = append(s.Records, Record{Name: g.name, IP: g.ip})
	}
	for _, n := range []struct {
		p  *Process
		id string
	}{{netC, "netc"}, {netD, "netd"}} {
		if _, _, err := n.p.Sync(ctx, *states[n.id]); err != nil {
			t.Fatal(err)
		}
	}

	bootAll(ctx, t, f, guests)
	t.Logf("network up, far end ready, three VMs booted and configured in %v", time.Since(began).Round(time.Millisecond))

	st, err := netC.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u := st.Uplink; u == nil || u.State != "up" || u.Kind != "tap:"+tap || u.Address != "10.89.13.253" || u.BridgeMAC != bridge || bridge == "" {
		t.Fatalf("network C's uplink: %+v; want up, its far end %s", st.Uplink, bridge)
	}
	if st, err := netD.Status(ctx); err != nil || st.Uplink != nil {
		t.Fatalf("the internal network has an uplink: %+v, %v", st.Uplink, err)
	}
	loopURL := func(host string) string { return fmt.Sprintf("http://%s:%d/", host, loopPort) }

	t.Run("the way out is the uplink", func(t *testing.T) {
		start := time.Now()
		runChecks(t,
			// The server saw the container's own address: no NAT of this
			// process's, the far end's kernel answered it directly.
			check{g: c2, script: fetch("http://" + outsideAddr + "/cgi-bin/who"), ok: true, want: "from 10.89.13.3"},
			check{g: c1, script: fetch("http://" + outsideAddr + "/"), ok: true, want: "hello from outside"},
			// Names still resolve at the gateway, members talk through
			// the switch.
			check{g: c2, script: fetch("http://c1/"), ok: true, want: "hello from c1"},
			check{g: c2, script: fetch("http://c1.berth.internal/"), ok: true, want: "hello from c1"},
			// The internal network has no way out, though its plan
			// names the uplink.
			check{g: d1, script: fetch("http://" + outsideAddr + "/")},
		)
		// 1 MiB in, whole.
		t0 := time.Now()
		runChecks(t, check{g: c2, script: "timeout 60 wget -q -O /tmp/big http://" + outsideAddr + "/big && md5sum /tmp/big",
			ok: true, want: hex.EncodeToString(sum[:])})
		t.Logf("1 MiB from the far end through the uplink in %v", time.Since(t0).Round(time.Millisecond))
		// The far end reaches a member by its address (it asks its MAC
		// by ARP, which the uplink gives the member).
		out, err := exec.Command("ip", "netns", "exec", ns, bb, "timeout", "10", bb, "wget", "-q", "-O", "-", "http://10.89.13.2/").CombinedOutput()
		if err != nil || string(out) != "hello from c1\n" {
			t.Errorf("GET from the far end to c1: %v: %q", err, out)
		}
		st, err := netC.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		u := st.Uplink
		t.Logf("uplink: %+v", *u)
		if u.FramesOut < 10 || u.FramesIn < 10 || u.BytesOut == 0 || u.BytesIn == 0 || u.LostOut != 0 || u.NotReady != 0 {
			t.Errorf("uplink counters %+v", *u)
		}
		for _, a := range st.Attachments {
			t.Logf("%s: %d frames to the uplink, %d from it; %d from the VM, %d to it", a.VM, a.FramesToUplink, a.FramesFromUplink, a.FramesFromVM, a.FramesToVM)
			if a.FramesToUplink == 0 || a.FramesFromUplink == 0 {
				t.Errorf("%s's frames did not go through the uplink: %+v", a.VM, a)
			}
		}
		if b := attachmentStatus(t, netD.Client, "d1"); b.DroppedBy[DropNoWayOut.String()] == 0 || b.FramesToUplink != 0 {
			t.Errorf("d1's frames out of the internal network: %+v", b)
		}
		t.Logf("in %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("the host stays the gateway's", func(t *testing.T) {
		start := time.Now()
		runChecks(t,
			// The host's loopback: not through the gateway, nor the host
			// address (no host access), nor the uplink's far end, which
			// is nobody's on the network.
			check{g: c2, script: fetch(loopURL("10.89.13.1"))},
			check{g: c2, script: fetch(loopURL("10.89.13.254"))},
			check{g: c2, script: fetch(loopURL("10.89.13.253"))},
		)
		// A published port is the gateway's, as without an uplink.
		fw, err := netC.Expose(ctx, Forward{Proto: "tcp", HostIP: "127.0.0.1", GuestIP: c1.ip, GuestPort: 80})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", fw.HostPort))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hello from c1\n" {
			t.Fatalf("through the published port: %q", body)
		}
		st, err := netC.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Refused[DropNotOnNetwork.String()] == 0 {
			t.Errorf("the gateway did not refuse to dial its own address for c2 (%v)", st.Refused)
		}
		t.Logf("in %v", time.Since(start).Round(time.Millisecond))
	})
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}

// TestUplinkDownIsUserModeNAT starts networks whose uplink cannot start
// on Linux (vmnet, a TAP device that does not exist): each runs on
// the gateway's user-mode NAT, says why, and a SYN from a guest to an
// address outside reaches it through the host.
func TestUplinkDownIsUserModeNAT(t *testing.T) {
	outside := hostAddress(t)
	for i, tc := range []struct{ uplink, why string }{
		{UplinkVmnet, "vmnet.framework exists only on macOS"},
		{"tap:bnhmissing0", "TAP device bnhmissing0"},
	} {
		t.Run(tc.uplink, func(t *testing.T) {
			dir := shortDir(t)
			subnet := fmt.Sprintf("10.89.%d", 20+i)
			p := startNet(t, dir, Plan{ID: "down", Name: "down", Subnet: subnet + ".0/24", Gateway: subnet + ".1", Uplink: tc.uplink})
			ctx := testCtx(t, 30*time.Second)
			var st Status
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				var err error
				if st, err = p.Status(ctx); err != nil {
					t.Fatal(err)
				}
				if st.Uplink != nil && st.Uplink.State != "starting" || time.Now().After(deadline) {
					break
				}
			}
			if u := st.Uplink; u == nil || u.State != "down" || u.Kind != tc.uplink || u.Address != subnet+".253" || !strings.Contains(u.Error, tc.why) {
				t.Fatalf("uplink %+v; want down because %q", st.Uplink, tc.why)
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(outside, "0"))
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan string, 1)
			go func() {
				if c, err := ln.Accept(); err == nil {
					got <- c.RemoteAddr().String()
					c.Close()
				}
			}()
			a := Attachment{VM: "vm", MAC: vmMAC, IP: subnet + ".2", Socket: filepath.Join(dir, "vm.sock"), Peer: filepath.Join(dir, "vm.peer")}
			if err := p.Attach(ctx, a); err != nil {
				t.Fatal(err)
			}
			vm := newFakeVM(t, a)
			vm.send(t, pkt{src: a.IP, dst: outside, proto: protoTCP, dport: uint16(ln.Addr().(*net.TCPAddr).Port)}.build())
			select {
			case from := <-got:
				t.Logf("the gateway's NAT dialed %s from %s", ln.Addr(), from)
			case <-time.After(10 * time.Second):
				t.Fatal("a SYN to an address outside did not get out through the gateway's NAT")
			}
			if as := attachmentStatus(t, p.Client, "vm"); as.FramesToUplink != 0 || as.FramesFromVM != 1 {
				t.Fatalf("attachment %+v", as)
			}
		})
	}
}
