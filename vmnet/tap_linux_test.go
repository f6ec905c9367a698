package vmnet

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/testenv"
)

// TestOpenTap opens TAP devices that exist and refuses what is not one.
func TestOpenTap(t *testing.T) {
	for _, name := range []string{"", "a/b", "a b", "a:b", "..", "sixteen-chars-xx"} {
		if _, err := OpenTap(name); !errors.Is(err, api.ErrInvalidArgument) {
			t.Errorf("OpenTap(%q) = %v", name, err)
		}
	}
	if _, err := OpenTap("bnotthere0"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("OpenTap of a missing device = %v", err)
	}
	testenv.Root(t)
	testenv.Tool(t, "ip", "iproute2")
	if _, err := OpenTap("lo"); err == nil || !strings.Contains(err.Error(), "not a TAP device") {
		t.Errorf("OpenTap(lo) = %v", err)
	}
	name := fmt.Sprintf("bvtap%d", os.Getpid()%100000)
	ipCmd(t, "tuntap", "add", "dev", name, "mode", "tap")
	t.Cleanup(func() { exec.Command("ip", "link", "del", name).Run() })
	ipCmd(t, "link", "set", name, "mtu", "1400")
	p, err := OpenTap(name)
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxFrame() != 1414 {
		t.Errorf("MaxFrame = %d; want the MTU (1400) + 14", p.MaxFrame())
	}
	if _, err := OpenTap(name); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("opening it twice = %v", err)
	}
	// Down: the kernel takes no frame, and the pump should go on.
	frame := testFrame(60, 1)
	if err := p.WriteFrame(frame); !errors.Is(err, ErrNoPeer) {
		t.Errorf("a write to a device that is down = %v", err)
	}
	if err := p.WriteFrame(testFrame(1415, 2)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("a frame over the MTU = %v", err)
	}
	ipCmd(t, "link", "set", name, "up")
	if err := p.WriteFrame(frame); err != nil {
		t.Errorf("a write to a device that is up = %v", err)
	}
	done := make(chan error, 1)
	go func() {
		for { // the kernel speaks on a device once it is up (IPv6)
			if _, err := p.ReadFrame(make([]byte, 2000)); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	p.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrame after Close = %v", err)
	}
	// The device stays the administrator's.
	if _, err := net.InterfaceByName(name); err != nil {
		t.Errorf("the device went with the port: %v", err)
	}
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// TestRealPacketsWithKernel puts a QEMU guest's NIC socket and a TAP
// device in a network namespace of the test's own on the two sides of a
// pump. The namespace's kernel answers ARP and ping and serves HTTP
// (busybox httpd, from the host); the guest fetches 1 MiB from it and
// the namespace fetches the guest's page: a real network stack at the
// far end, both directions, TCP opened from either side.
func TestRealPacketsWithKernel(t *testing.T) {
	testenv.Root(t)
	testenv.Tool(t, "ip", "iproute2")
	kdir, _ := kernel.Dir()
	bb, err := kernel.Busybox(kdir, "amd64")
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	start := time.Now()

	// The namespace and its TAP device (made here, opened by OpenTap,
	// then moved there: the open descriptor follows the device).
	ns := fmt.Sprintf("berth-vmnet-%d", os.Getpid())
	tap := fmt.Sprintf("bvmnet%d", os.Getpid()%100000)
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ipCmd(t, "tuntap", "add", "dev", tap, "mode", "tap")
	t.Cleanup(func() {
		exec.Command("ip", "-n", ns, "link", "del", tap).Run()
		exec.Command("ip", "link", "del", tap).Run()
	})
	tp, err := OpenTap(tap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() }) // after the pump stops (cleanups run last first)
	ipCmd(t, "link", "set", tap, "netns", ns)
	ipCmd(t, "-n", ns, "addr", "add", "10.78.0.1/24", "dev", tap)
	ipCmd(t, "-n", ns, "link", "set", tap, "up")
	ipCmd(t, "-n", ns, "link", "set", "lo", "up")

	// The namespace serves 1 MiB of random bytes.
	www := t.TempDir()
	big := make([]byte, 1<<20)
	rand.Read(big)
	sum := md5.Sum(big)
	if err := os.WriteFile(filepath.Join(www, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	httpd := exec.Command("ip", "netns", "exec", ns, bb, "httpd", "-f", "-p", "10.78.0.1:8080", "-h", www)
	if err := httpd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { httpd.Process.Kill(); httpd.Wait() })

	dir := shortDir(t)
	sock := filepath.Join(dir, "net.sock")
	vmPort, err := ListenDatagram(sock, vmSide(sock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vmPort.Close() })
	vmPort.SetMaxFrame(1514)
	var st Stats
	runPump(t, vmPort, tp, PumpOptions{Stats: &st})

	g := bootGuests(t, map[string]string{"three": sock})["three"]
	booted := time.Now()
	g.setUp(t, "10.78.0.2/24")
	g.serve(t)

	if r := g.run(t, "busybox ping -c 2 -W 5 -s 1472 10.78.0.1", time.Minute); r.Exit.Code != 0 || !strings.Contains(r.Stdout, "1480 bytes from 10.78.0.1") {
		t.Fatalf("ping from the guest to the namespace: %+v", r)
	}
	t0 := time.Now()
	r := g.run(t, "busybox timeout 120 busybox wget -q -O /tmp/big http://10.78.0.1:8080/big && busybox md5sum /tmp/big", 3*time.Minute)
	if got, _, _ := strings.Cut(r.Stdout, " "); r.Exit.Code != 0 || got != hex.EncodeToString(sum[:]) {
		t.Fatalf("1 MiB from the namespace: MD5 %q, want %x: %+v", got, sum, r)
	}
	t.Logf("1 MiB over TCP from the kernel through the pump in %v", time.Since(t0).Round(time.Millisecond))
	var out []byte
	for range 10 { // the guest's httpd may still be starting
		if out, err = exec.Command("ip", "netns", "exec", ns, bb, "timeout", "10", bb, "wget", "-q", "-O", "-", "http://10.78.0.2:8080/").CombinedOutput(); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil || string(out) != "hello from three\n" {
		t.Fatalf("GET from the namespace to the guest: %v: %q", err, out)
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, bb, "ping", "-c", "2", "-W", "5", "10.78.0.2").CombinedOutput(); err != nil {
		t.Fatalf("ping from the namespace to the guest: %v: %s", err, out)
	}
	from, to := st.FromVM.Load(), st.ToVM.Load()
	t.Logf("guest → kernel: %+v", from)
	t.Logf("kernel → guest: %+v", to)
	// The 1 MiB came to the guest: 725 full frames or more; the guest's
	// ACKs are fewer (GRO, delayed ACKs). Frames drop only when nobody
	// listens (the kernel talks before the guest has booted) or a
	// receiver is full (QEMU: see TestRealPacketsBetweenGuests).
	if to.Frames < 725 || from.Frames < 10 || unexpectedDrops(from) || unexpectedDrops(to) {
		t.Fatalf("counters: from the guest %+v, to it %+v", from, to)
	}
	t.Logf("boot %v, traffic %v, total %v", booted.Sub(start).Round(time.Millisecond), time.Since(booted).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
