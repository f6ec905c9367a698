package vmnet

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/testenv"
)

// tapPort is a Port on a Linux TAP device: the frame source is the
// kernel's own network stack, as on a Mac it is vmnet's bridge in the
// kernel. One read or write is one frame (IFF_NO_PI: no packet header).
type tapPort struct{ f *os.File }

func openTap(name string) (*tapPort, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("/dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	// Non-blocking, so os.File polls it and deadlines work.
	return &tapPort{os.NewFile(uintptr(fd), name)}, nil
}

func (p *tapPort) ReadFrame(b []byte) (int, error)   { return p.f.Read(b) }
func (p *tapPort) WriteFrame(b []byte) error         { _, err := p.f.Write(b); return err }
func (p *tapPort) MaxFrame() int                     { return 1514 }
func (p *tapPort) Close() error                      { return p.f.Close() }
func (p *tapPort) SetReadDeadline(t time.Time) error { return p.f.SetReadDeadline(t) }

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

	// The namespace and its TAP device (made here, then moved there: the
	// open descriptor follows the device).
	ns := fmt.Sprintf("berth-vmnet-%d", os.Getpid())
	tap := fmt.Sprintf("bvmnet%d", os.Getpid()%100000)
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	tp, err := openTap(tap)
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
