package nethost

import (
	"net"
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
	if !as.Connected {
		t.Error("the attachment is not connected to the VM's end after its frames")
	}
	if n := st.Refused[DropNotOnNetwork.String()]; n != 2 {
		t.Errorf("the guard refused %d dials as %q; want 2 (%v)", n, DropNotOnNetwork, st.Refused)
	}
}
