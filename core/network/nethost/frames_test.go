package nethost

import (
	"encoding/binary"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// fakeVM is a VM's end of an attachment driven by the test: it sends
// hand-made frames, as a guest with root could.
type fakeVM struct {
	conn   *net.UnixConn
	socket *net.UnixAddr
}

func newFakeVM(t *testing.T, a Attachment) *fakeVM {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: a.Peer, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fakeVM{conn: c, socket: &net.UnixAddr{Name: a.Socket, Net: "unixgram"}}
}

func (v *fakeVM) send(t *testing.T, frame []byte) {
	t.Helper()
	if _, err := v.conn.WriteToUnix(frame, v.socket); err != nil {
		t.Fatal(err)
	}
}

// loopbackServer counts the connections (TCP) or datagrams (UDP) that
// reach a socket bound to the host's 127.0.0.1 only.
type loopbackServer struct {
	port int
	got  chan string
}

func newLoopbackServer(t *testing.T) (tcp, udp *loopbackServer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	tcp = &loopbackServer{port: ln.Addr().(*net.TCPAddr).Port, got: make(chan string, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tcp.got <- "tcp from " + c.RemoteAddr().String()
			c.Close()
		}
	}()
	// The UDP socket takes the same port number, so one frame's port
	// fits both.
	pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(tcp.port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	udp = &loopbackServer{port: tcp.port, got: make(chan string, 16)}
	go func() {
		b := make([]byte, 2048)
		for {
			_, from, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			udp.got <- "udp from " + from.String()
		}
	}()
	return tcp, udp
}

func (s *loopbackServer) none(t *testing.T, what string) {
	t.Helper()
	select {
	case g := <-s.got:
		t.Fatalf("%s reached the host's loopback: %s", what, g)
	default:
	}
}

// TestCraftedFramesToTheHost sends, as a guest with root could, frames
// addressed to the host's loopback through the gateway. They must not
// get there; the one way in is the host address of a network with host
// access, which a SYN alone opens (the gateway dials on the SYN): proof
// that the frames dropped would have been dialed.
func TestCraftedFramesToTheHost(t *testing.T) {
	dir := shortDir(t)
	p := startNet(t, dir, Plan{ID: "raw", Name: "raw", Subnet: "10.89.7.0/24", Gateway: "10.89.7.1",
		HostAccess: true, Blocked: []string{"10.89.8.0/24"}})
	ctx := testCtx(t, 30*time.Second)
	a := Attachment{VM: "vm", MAC: vmMAC, IP: "10.89.7.2", Socket: filepath.Join(dir, "vm.sock"), Peer: filepath.Join(dir, "vm.peer")}
	if err := p.Attach(ctx, a); err != nil {
		t.Fatal(err)
	}
	vm := newFakeVM(t, a)
	tcpSrv, udpSrv := newLoopbackServer(t)
	port := uint16(tcpSrv.port)
	syn := func(dst string) pkt { return pkt{src: a.IP, dst: dst, proto: protoTCP, dport: port} }

	// Dropped by the frame filter.
	vm.send(t, syn("127.0.0.1").build())
	vm.send(t, pkt{src: a.IP, dst: "127.0.0.1", proto: protoUDP, dport: port}.build())
	vm.send(t, syn("127.1.2.3").build())
	vm.send(t, syn("0.0.0.0").build())
	vm.send(t, syn("10.89.8.5").build())
	spoofed := syn("10.89.7.254")
	spoofed.srcMAC = otherMAC
	vm.send(t, spoofed.build())
	// Past the filter, refused by the guard: the gateway's own address
	// (nothing of it to dial), and a broadcast to an unused address.
	vm.send(t, syn("10.89.7.1").build())
	bcast := syn("10.89.7.77")
	bcast.dstMAC = bcastMAC
	vm.send(t, bcast.build())
	// The way in: the host address, NATed to the host's 127.0.0.1.
	vm.send(t, syn("10.89.7.254").build())

	select {
	case g := <-tcpSrv.got:
		t.Logf("through the host address: %s", g)
	case <-time.After(10 * time.Second):
		t.Fatal("a SYN to the host address did not reach the host's loopback")
	}
	time.Sleep(300 * time.Millisecond)
	tcpSrv.none(t, "a crafted SYN")
	udpSrv.none(t, "a crafted datagram")

	st, err := p.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	as := st.Attachments[0]
	want := map[string]uint64{
		DropLoopback.String():     3,
		DropThisHost.String():     1,
		DropOtherNetwork.String(): 1,
		DropSpoofedMAC.String():   1,
	}
	for why, n := range want {
		if as.DroppedBy[why] != n {
			t.Errorf("dropped %q: %d; want %d (all: %v)", why, as.DroppedBy[why], n, as.DroppedBy)
		}
	}
	if as.Dropped != 6 {
		t.Errorf("dropped %d frames; want 6 (%v)", as.Dropped, as.DroppedBy)
	}
	if as.FramesFromVM != 3 {
		t.Errorf("%d frames passed; want 3", as.FramesFromVM)
	}
	if !as.Heard {
		t.Error("the attachment has not heard from the VM after its frames")
	}
	if n := st.Refused[DropNotOnNetwork.String()]; n != 2 {
		t.Errorf("the guard refused %d dials as %q; want 2 (%v)", n, DropNotOnNetwork, st.Refused)
	}
}

// udpEchoGuest plays a guest that answers ARP for its address and echoes
// UDP datagrams to port 7, from hand-made frames. It ends when the VM's
// socket is closed (at the test's cleanup, maybe while it answers a ping
// the test sent again meanwhile: a failed send is not the test's).
func udpEchoGuest(vm *fakeVM, mac net.HardwareAddr, ip netip.Addr) {
	reply := func(frame []byte) { _, _ = vm.conn.WriteToUnix(frame, vm.socket) }
	go func() {
		b := make([]byte, 65536)
		for {
			n, err := vm.conn.Read(b)
			if err != nil {
				return
			}
			f := b[:n]
			if len(f) < 14 {
				continue
			}
			switch binary.BigEndian.Uint16(f[12:14]) {
			case etherTypeARP:
				arp := f[14:]
				if len(arp) < 28 || binary.BigEndian.Uint16(arp[6:8]) != 1 || netip.AddrFrom4([4]byte(arp[24:28])) != ip {
					continue
				}
				r := append(append([]byte{}, arp[8:14]...), mac...)
				r = binary.BigEndian.AppendUint16(r, etherTypeARP)
				r = append(r, 0, 1, 8, 0, 6, 4, 0, 2)
				r = append(append(r, mac...), arp[24:28]...)
				r = append(append(r, arp[8:14]...), arp[14:18]...)
				reply(r)
			case etherTypeIPv4:
				h := f[14:]
				if len(h) < 28 || h[9] != protoUDP || netip.AddrFrom4([4]byte(h[16:20])) != ip {
					continue
				}
				ihl := int(h[0]&0x0f) * 4
				u := h[ihl:]
				if binary.BigEndian.Uint16(u[2:4]) != 7 {
					continue
				}
				payload := append([]byte("echo: "), u[8:binary.BigEndian.Uint16(u[4:6])]...)
				r := append(append([]byte{}, f[6:12]...), mac...)
				r = binary.BigEndian.AppendUint16(r, etherTypeIPv4)
				ipb := make([]byte, 20)
				ipb[0], ipb[8], ipb[9] = 0x45, 64, protoUDP
				binary.BigEndian.PutUint16(ipb[2:4], uint16(20+8+len(payload)))
				copy(ipb[12:16], h[16:20])
				copy(ipb[16:20], h[12:16])
				binary.BigEndian.PutUint16(ipb[10:12], ^checksum(ipb, 0))
				ub := make([]byte, 8, 8+len(payload))
				copy(ub[0:2], u[2:4])
				copy(ub[2:4], u[0:2])
				binary.BigEndian.PutUint16(ub[4:6], uint16(8+len(payload)))
				ub = append(ub, payload...)
				pseudo := append(append([]byte{}, ipb[12:20]...), 0, protoUDP, byte(len(ub)>>8), byte(len(ub)))
				binary.BigEndian.PutUint16(ub[6:8], ^checksum(ub, checksum(pseudo, 0)))
				reply(append(append(r, ipb...), ub...))
			}
		}
	}()
}

// TestPublishedUDP publishes a UDP port to a guest (made of hand-made
// frames: busybox has no UDP server) and talks to it from the host.
func TestPublishedUDP(t *testing.T) {
	dir := shortDir(t)
	p := startNet(t, dir, Plan{ID: "udp", Name: "udp", Subnet: "10.89.6.0/24", Gateway: "10.89.6.1"})
	ctx := testCtx(t, 30*time.Second)
	a := Attachment{VM: "vm", MAC: vmMAC, IP: "10.89.6.2", Socket: filepath.Join(dir, "vm.sock"), Peer: filepath.Join(dir, "vm.peer")}
	if err := p.Attach(ctx, a); err != nil {
		t.Fatal(err)
	}
	mac, _ := net.ParseMAC(vmMAC)
	udpEchoGuest(newFakeVM(t, a), mac, netip.MustParseAddr(a.IP))
	fw, err := p.Expose(ctx, Forward{Proto: "udp", HostIP: "127.0.0.1", GuestIP: a.IP, GuestPort: 7})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(fw.HostPort))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 100)
	// The first datagram may be lost while the gateway resolves the
	// guest's MAC: retry as a UDP client would.
	var got string
	for try := 0; try < 20 && got == ""; try++ {
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		if n, err := c.Read(buf); err == nil {
			got = string(buf[:n])
		}
	}
	if got != "echo: ping" {
		t.Fatalf("through the published UDP port: %q", got)
	}
	if err := p.Unexpose(ctx, fw.Key()); err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(fw.HostPort))))
	if err != nil {
		t.Fatalf("UDP port still taken after unexpose: %v", err)
	}
	pc.Close()
}

// TestConnectedEnd attaches a VM end made as the vm-host makes it for
// vz's FileHandle attachment (vz/netsock.go): bound at Peer, connected
// to Socket, greeting with "VFKT"; the gateway answers its ARP.
func TestConnectedEnd(t *testing.T) {
	dir := shortDir(t)
	p := startNet(t, dir, Plan{ID: "vz", Name: "vz", Subnet: "10.89.5.0/24", Gateway: "10.89.5.1"})
	ctx := testCtx(t, 30*time.Second)
	a := Attachment{VM: "vm", MAC: vmMAC, IP: "10.89.5.2", Socket: filepath.Join(dir, "vm.sock"), Peer: filepath.Join(dir, "vm.peer")}
	if err := p.Attach(ctx, a); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUnix("unixgram", &net.UnixAddr{Name: a.Peer, Net: "unixgram"}, &net.UnixAddr{Name: a.Socket, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("VFKT")); err != nil {
		t.Fatal(err)
	}
	mac, _ := net.ParseMAC(vmMAC)
	who := append(append([]byte{}, broadcastMAC...), mac...)
	who = binary.BigEndian.AppendUint16(who, etherTypeARP)
	who = append(who, 0, 1, 8, 0, 6, 4, 0, 1)
	who = append(append(who, mac...), 10, 89, 5, 2)
	who = append(append(who, 0, 0, 0, 0, 0, 0), 10, 89, 5, 1)
	gw, _ := net.ParseMAC(GatewayMAC)
	b := make([]byte, 2048)
	var reply []byte
	for try := 0; try < 20 && reply == nil; try++ {
		if _, err := c.Write(who); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		for {
			n, err := c.Read(b)
			if err != nil {
				break
			}
			// An ARP reply from the gateway saying it is 10.89.5.1.
			if n >= 42 && binary.BigEndian.Uint16(b[12:14]) == etherTypeARP && binary.BigEndian.Uint16(b[20:22]) == 2 &&
				string(b[22:28]) == string(gw) && netip.AddrFrom4([4]byte(b[28:32])) == netip.MustParseAddr("10.89.5.1") {
				reply = b[:n]
				break
			}
		}
	}
	if reply == nil {
		t.Fatal("no ARP reply from the gateway through a connected end")
	}
	// The reply can be read before its sender counts it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := p.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		as := st.Attachments[0]
		if as.Heard && as.Dropped == 0 && as.FramesFromVM > 0 && as.FramesToVM > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("attachment %+v", as)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var broadcastMAC = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
