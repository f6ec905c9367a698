package nethost

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/testenv"
)

// benchBytes is what each transfer moves: large enough that a transfer
// takes seconds under TCG, so the exec round trip around it is noise.
const benchBytes = 16 << 20

// BenchmarkThroughput moves benchBytes over HTTP (busybox httpd and wget)
// between the same two guests (kernel, initramfs, busybox disk, one CPU,
// 256 MiB), on Berth's network (this package's process, the guests' NICs
// on -netdev dgram) and on QEMU's own user-mode networking (-netdev user,
// slirp, each guest its own), in the same run: container to container
// (under slirp: to the host's published port of the other guest, the
// only way one slirp guest reaches another), and host to a published
// port. Each reports MB/s; the ratio berth/qemu-user is the figure, and
// berth-mtu1500/berth what the network's MTU is worth.
func BenchmarkThroughput(b *testing.B) {
	testenv.Tool(b, qemu.Binary(hypervisor.AMD64), "qemu-system-x86")
	f := hvtest.Get(b, hypervisor.AMD64)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "bnb")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// "berth" is a network as core/network plans one without an uplink
	// (network.JumboMTU); "berth-mtu1500" has Ethernet's MTU, as a network
	// with a vmnet uplink does.
	for _, mode := range []string{"berth", "berth-mtu1500", "qemu-user"} {
		client, published, stop, err := benchGuests(ctx, f, dir, mode)
		if err != nil {
			stop()
			b.Fatalf("%s: %v", mode, err)
		}
		url := "http://10.89.21.2/big"
		if mode == "qemu-user" {
			url = fmt.Sprintf("http://10.0.2.2:%d/big", published)
		}
		b.Run(mode+"/container-to-container", func(b *testing.B) {
			b.SetBytes(benchBytes)
			for b.Loop() {
				r, err := client.sh(ctx, "wget -q -O /dev/null "+url)
				if err != nil || r.Exit.Code != 0 {
					b.Fatalf("wget: %v %+v", err, r)
				}
			}
		})
		b.Run(mode+"/host-to-published-port", func(b *testing.B) {
			b.SetBytes(benchBytes)
			for b.Loop() {
				resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/big", published))
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != benchBytes {
					b.Fatalf("got %d bytes: %v", n, err)
				}
			}
		})
		stop()
	}
}

// benchGuests boots a server (httpd serving benchBytes at /big) and a
// client, on Berth's network or each on its own slirp, and returns the
// host port that reaches the server's port 80.
func benchGuests(ctx context.Context, f *hvtest.Fixtures, dir, mode string) (client *guest, hostPort int, stop func(), err error) {
	var cleanups []func()
	stop = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	plan := Plan{ID: "bench", Name: "bench", Subnet: "10.89.21.0/24", Gateway: "10.89.21.1", MTU: 9000}
	if mode == "berth-mtu1500" {
		plan.MTU = DefaultMTU
	}
	server := &guest{name: "server", ip: "10.89.21.2", mac: "52:54:00:15:00:02", plan: &plan}
	client = &guest{name: "client", ip: "10.89.21.3", mac: "52:54:00:15:00:03", plan: &plan}
	guests := []*guest{server, client}
	var d hypervisor.Driver
	switch mode {
	case "berth", "berth-mtu1500":
		p, err := Start(ctx, filepath.Join(dir, mode), plan, os.Args[0], filepath.Join(dir, "net.log"))
		if err != nil {
			return nil, 0, stop, err
		}
		cleanups = append(cleanups, func() { _ = p.Stop(context.Background()) })
		st := State{}
		for _, g := range guests {
			g.att = Attachment{VM: g.name, MAC: g.mac, IP: g.ip, Socket: filepath.Join(dir, g.name+".sock"),
				Peer: hypervisor.NICSocket(filepath.Join(dir, "vm-"+g.name), 0)}
			st.Attachments = append(st.Attachments, g.att)
		}
		if _, _, err := p.Sync(ctx, st); err != nil {
			return nil, 0, stop, err
		}
		fw, err := p.Expose(ctx, Forward{Proto: "tcp", HostIP: "127.0.0.1", GuestIP: server.ip, GuestPort: 80})
		if err != nil {
			return nil, 0, stop, err
		}
		hostPort = int(fw.HostPort)
		d = qemu.New()
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, 0, stop, err
		}
		hostPort = l.Addr().(*net.TCPAddr).Port
		l.Close()
		d = qemu.New(qemu.WithArgs(slirpArgs(hostPort)))
		for _, g := range guests {
			g.att = Attachment{Peer: filepath.Join(dir, "vm-"+g.name, "x")}
		}
	}
	for _, g := range guests {
		if err := g.benchBoot(ctx, d, f, mode, g == server); err != nil {
			return nil, 0, stop, fmt.Errorf("%s: %w", g.name, err)
		}
		cleanups = append(cleanups, func() { g.c.Close(); _ = g.m.Kill() })
	}
	return client, hostPort, stop, nil
}

// slirpArgs is QEMU's command line with the NIC on its own user-mode
// networking, the server's port 80 forwarded from the host's hostPort.
func slirpArgs(hostPort int) qemu.ArgsFunc {
	return func(cfg hypervisor.VMConfig, h qemu.Host, _ qemu.Files) ([]string, error) {
		nics := cfg.Networks
		cfg.Networks = nil
		args, err := qemu.Cmdline(cfg, h)
		if err != nil {
			return nil, err
		}
		netdev := "user,id=net0"
		if cfg.ID == "server" {
			netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:80", hostPort)
		}
		return append(args, "-netdev", netdev, "-device", "virtio-net-device,netdev=net0,mac="+nics[0].MAC), nil
	}
}

// benchBoot boots g, gives it its address (slirp's fixed one under
// qemu-user) and starts its container: httpd serving benchBytes for the
// server.
func (g *guest) benchBoot(ctx context.Context, d hypervisor.Driver, f *hvtest.Fixtures, mode string, serve bool) error {
	cfg := hypervisor.VMConfig{ID: g.name, Arch: hypervisor.AMD64, CPUs: 1, MemoryMiB: 256,
		Kernel: f.Kernel.Path, Initrd: f.Initrd, RunDir: filepath.Dir(g.att.Peer),
		Disks:    []hypervisor.Disk{{ID: "base", Path: f.BaseDisk, ReadOnly: true}},
		Networks: []hypervisor.Network{{Mode: hypervisor.NetworkSocket, MAC: g.mac, Socket: g.att.Socket}}}
	nc := proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: g.mac, Address: g.ip + "/24", MTU: g.plan.MTU}}, Gateway: g.plan.Gateway}
	if mode == "qemu-user" {
		cfg.Networks[0] = hypervisor.Network{Mode: hypervisor.NetworkNAT, MAC: g.mac}
		nc = proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: g.mac, Address: "10.0.2.15/24"}}, Gateway: "10.0.2.2"}
	}
	m, err := d.Start(ctx, cfg)
	if err != nil {
		return err
	}
	g.m = m
	if g.c, err = hvtest.Connect(ctx, m); err != nil {
		_ = m.Kill()
		return err
	}
	if err := g.c.ConfigureNetwork(ctx, nc); err != nil {
		return err
	}
	if err := g.c.CreateContainer(ctx, proto.ContainerConfig{ID: "c", Base: proto.Device{Serial: "base"}, Hostname: g.name}); err != nil {
		return err
	}
	main := []string{"sleep", "3600"}
	if serve {
		main = []string{"sh", "-c", fmt.Sprintf("mkdir -p /www && head -c %d /dev/urandom > /www/big && exec httpd -f -p 80 -h /www", benchBytes)}
	}
	if _, err := g.c.Start(ctx, "c", "main", proto.ProcessSpec{Args: main, Env: []string{"PATH=/bin"}}, agent.Stdio{}); err != nil {
		return err
	}
	for serve {
		r, err := g.sh(ctx, "wget -q -O /dev/null http://127.0.0.1/big && echo up")
		if err == nil && strings.Contains(r.Stdout, "up") {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("httpd did not come up: %v %+v", err, r)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}
