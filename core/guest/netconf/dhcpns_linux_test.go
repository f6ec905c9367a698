package netconf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/testenv"
)

// inNetns runs f on a thread that has entered the named network
// namespace. The thread is never unlocked, so it dies with the goroutine
// instead of going back to the scheduler's pool in the wrong namespace.
// Sockets keep the namespace they were made in, whatever thread uses
// them later.
func inNetns(name string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter network namespace %s: %w", name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// The client against an independent server, busybox's udhcpd, over a
// veth pair between two network namespaces (the host's network is never
// touched): the whole guest path (link up, DHCP over the packet socket,
// address, MTU, default route, status), a renewal, the release at power
// off, the UDP fallback, and the error when no server answers.
func TestDHCPAgainstUdhcpd(t *testing.T) {
	testenv.Root(t)
	ipTool := testenv.Tool(t, "ip", "iproute2")
	bb := testenv.Tool(t, "busybox", "busybox-static")
	if out, _ := exec.Command(bb, "udhcpd", "--help").CombinedOutput(); !bytes.Contains(out, []byte("DHCP server")) {
		testenv.Missing(t, bb+" has no udhcpd applet: install busybox-static")
	}
	ip := func(args ...string) (string, error) {
		out, err := exec.Command(ipTool, args...).CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := ip(args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	suffix := strconv.Itoa(os.Getpid())
	srvNS, cliNS := "berth-dhcpd-"+suffix, "berth-dhcpc-"+suffix
	for _, ns := range []string{srvNS, cliNS} {
		if _, err := ip("netns", "add", ns); err != nil {
			if strings.Contains(err.Error(), "ermission") || strings.Contains(err.Error(), "not permitted") {
				testenv.Missing(t, "cannot create network namespaces here: "+err.Error())
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = ip("netns", "del", ns) })
	}
	const mac = "02:42:ac:11:00:02"
	must("-n", srvNS, "link", "add", "d0", "type", "veth", "peer", "name", "eth0", "netns", cliNS)
	must("-n", cliNS, "link", "set", "eth0", "address", mac)
	must("-n", srvNS, "addr", "add", "192.168.77.1/24", "dev", "d0")
	must("-n", srvNS, "link", "set", "d0", "up")

	dir := t.TempDir()
	leases := filepath.Join(dir, "leases")
	conf := filepath.Join(dir, "udhcpd.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`start 192.168.77.100
end 192.168.77.150
interface d0
lease_file %s
option subnet 255.255.255.0
option router 192.168.77.1
option dns 192.168.77.1 192.168.77.53
option domain berth.test
option mtu 1400
option lease 600
`, leases)), 0o644); err != nil {
		t.Fatal(err)
	}
	var srvLog bytes.Buffer
	// ip netns exec execs busybox in place: cmd.Process is udhcpd itself.
	// -a 100: udhcpd ARP-pings an address before offering it; the
	// default waits 2 s for an answer that never comes here.
	srv := exec.Command(ipTool, "netns", "exec", srvNS, bb, "udhcpd", "-f", "-a", "100", conf)
	srv.Stdout, srv.Stderr = &srvLog, &srvLog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stopServer := func() {
		if !stopped {
			stopped = true
			_ = srv.Process.Kill()
			_ = srv.Wait()
		}
	}
	t.Cleanup(stopServer)
	defer func() {
		if t.Failed() {
			t.Logf("udhcpd:\n%s", srvLog.String())
		}
	}()
	t.Cleanup(func() { _ = inNetns(cliNS, func() error { ReleaseLeases(); return nil }) })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var st proto.NetworkStatus
	start := time.Now()
	err := inNetns(cliNS, func() error {
		var err error
		st, err = Apply(ctx, proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: mac, Address: proto.AddressDHCP}}, Timeout: 10 * time.Second})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lease in %v: %+v", time.Since(start).Round(time.Millisecond), st)
	if len(st.Interfaces) != 1 || st.Interfaces[0].Lease == nil {
		t.Fatalf("status %+v", st)
	}
	is := st.Interfaces[0]
	got, err := netip.ParsePrefix(is.Address)
	if err != nil || got.Bits() != 24 || !netip.MustParsePrefix("192.168.77.0/24").Contains(got.Addr()) || got.Addr().As4()[3] < 100 {
		t.Fatalf("address %q", is.Address)
	}
	want := proto.NetworkStatus{
		Interfaces: []proto.InterfaceStatus{{MAC: mac, Name: "eth0", Address: is.Address, MTU: 1400,
			Lease: &proto.Lease{Server: "192.168.77.1", Router: "192.168.77.1", DNS: []string{"192.168.77.1", "192.168.77.53"},
				Domain: "berth.test", Duration: 600 * time.Second}}},
		Gateway: "192.168.77.1", DNS: []string{"192.168.77.1", "192.168.77.53"}, Search: []string{"berth.test"},
	}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("status\n got  %+v %+v\n want %+v %+v", st, *st.Interfaces[0].Lease, want, *want.Interfaces[0].Lease)
	}
	// What the kernel now has, seen by ip(8).
	if out := must("-n", cliNS, "-4", "addr", "show", "dev", "eth0"); !strings.Contains(out, "inet "+is.Address) ||
		!strings.Contains(out, "mtu 1400") || !strings.Contains(out, "state UP") {
		t.Fatalf("eth0 in the client namespace:\n%s", out)
	}
	if out := must("-n", cliNS, "-4", "route"); !strings.Contains(out, "default via 192.168.77.1 dev eth0") {
		t.Fatalf("routes in the client namespace:\n%s", out)
	}
	// The address works: the server's side answers a ping from it.
	if out, err := exec.Command(ipTool, "netns", "exec", cliNS, bb, "ping", "-c", "1", "-W", "5", "192.168.77.1").CombinedOutput(); err != nil {
		t.Fatalf("ping the server from the leased address: %v\n%s", err, out)
	}

	t.Run("renew", func(t *testing.T) {
		err := inNetns(cliNS, func() error {
			nic, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			conn, err := openPacketConn(nic.Index)
			if err != nil {
				return err
			}
			defer conn.close()
			bindings.Lock()
			cur := bindings.byIndex[nic.Index].keeper.lease
			bindings.Unlock()
			l, err := newDHCPClient(conn, nic.HardwareAddr, nic.Name).renew(ctx, cur)
			if err != nil {
				return err
			}
			if l.addr != cur.addr || l.duration != 600*time.Second {
				return fmt.Errorf("renewed lease %+v, had %+v", l, cur)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	// waitReleased waits for udhcpd to show the client's lease as
	// released: it writes its lease file on SIGUSR1, and dumpleases
	// shows a released lease as expired.
	waitReleased := func(t *testing.T) {
		t.Helper()
		_ = os.Remove(leases) // only a fresh write counts
		deadline := time.Now().Add(5 * time.Second)
		for {
			_ = srv.Process.Signal(syscall.SIGUSR1)
			time.Sleep(100 * time.Millisecond)
			out, _ := exec.Command(bb, "dumpleases", "-f", leases).CombinedOutput()
			line := ""
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, mac) {
					line = l
				}
			}
			if strings.Contains(line, "expired") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("lease not released:\n%s", out)
			}
		}
	}

	t.Run("released at power off", func(t *testing.T) {
		if err := inNetns(cliNS, func() error { ReleaseLeases(); return nil }); err != nil {
			t.Fatal(err)
		}
		waitReleased(t)
		bindings.Lock()
		n := len(bindings.byIndex)
		bindings.Unlock()
		if n != 0 {
			t.Fatalf("%d bindings left after the release", n)
		}
	})

	t.Run("released when a later step fails", func(t *testing.T) {
		err := inNetns(cliNS, func() error {
			_, err := Apply(ctx, proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: mac, Address: proto.AddressDHCP},
				{Name: "no-such-nic", Address: "10.9.9.9/24"}}, Timeout: 10 * time.Second})
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "no such network interface") {
			t.Fatalf("err = %v", err)
		}
		waitReleased(t)
	})

	t.Run("UDP fallback", func(t *testing.T) {
		must("-n", cliNS, "addr", "flush", "dev", "eth0")
		err := inNetns(cliNS, func() error {
			conn, err := openUDPConn("eth0")
			if err != nil {
				return err
			}
			defer conn.close()
			l, err := newDHCPClient(conn, net.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0, 2}, "eth0").acquire(ctx, 10*time.Second)
			if err != nil {
				return err
			}
			if !netip.MustParsePrefix("192.168.77.0/24").Contains(l.addr.Addr()) || l.router != netip.MustParseAddr("192.168.77.1") {
				return fmt.Errorf("lease over UDP: %+v", l)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("no server", func(t *testing.T) {
		stopServer()
		must("-n", cliNS, "addr", "flush", "dev", "eth0")
		start := time.Now()
		err := inNetns(cliNS, func() error {
			_, err := Apply(ctx, proto.NetworkConfig{Interfaces: []proto.Interface{{Name: "eth0", Address: proto.AddressDHCP}}, Timeout: time.Second})
			return err
		})
		wantMsg := "no DHCP offer on eth0 (MAC " + mac + ") within 1s"
		if err == nil || !strings.Contains(err.Error(), wantMsg) || !errors.Is(err, api.ErrUnavailable) {
			t.Fatalf("err = %v, want %q", err, wantMsg)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("gave up after %v, the timeout was 1s", d)
		}
		if out := must("-n", cliNS, "-4", "addr", "show", "dev", "eth0"); strings.Contains(out, "inet ") {
			t.Fatalf("an address was set without a lease:\n%s", out)
		}
	})
}
