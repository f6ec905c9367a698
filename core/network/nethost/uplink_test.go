package nethost

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/vmnet"
)

// farEnd plays the uplink's far end on the other side of a socket pair.
type farEnd struct {
	c *net.UnixConn
}

func (f farEnd) recv(t *testing.T, what string, want func([]byte) bool) []byte {
	t.Helper()
	b := make([]byte, 2048)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = f.c.SetReadDeadline(deadline)
		n, err := f.c.Read(b)
		if err != nil {
			t.Fatalf("the far end got no %s: %v", what, err)
		}
		if want(b[:n]) {
			return append([]byte(nil), b[:n]...)
		}
	}
}

func (f farEnd) send(t *testing.T, frame []byte) {
	t.Helper()
	if _, err := f.c.Write(frame); err != nil {
		t.Fatal(err)
	}
}

// testUplink starts an uplink for a plan with one, whose port is one end
// of a socket pair; the other end is the far end.
func testUplink(t *testing.T, open openPort) (*uplink, *resolved) {
	t.Helper()
	p := basePlan()
	p.Uplink = "tap:test"
	r, err := p.resolve()
	if err != nil {
		t.Fatal(err)
	}
	u := startUplink(r, open)
	t.Cleanup(u.close)
	return u, r
}

func pairPort(t *testing.T) (openPort, farEnd) {
	a, b, err := vmnet.DatagramPair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return func(context.Context) (vmnet.Port, error) { return a, nil }, farEnd{b}
}

func waitPhase(t *testing.T, u *uplink, want uplinkPhase) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for u.phaseNow() != want {
		if time.Now().After(deadline) {
			t.Fatalf("uplink %v; want %v (%+v)", u.phaseNow(), want, u.status())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestUplink runs an uplink against a far end played by the test: the
// ARP question, nothing out until the answer, then frames out with the
// far end's MAC and frames in to the VM they are for.
func TestUplink(t *testing.T) {
	open, far := pairPort(t)
	u, r := testUplink(t, open)
	bridge, _ := net.ParseMAC(bridgeMACString)

	// The gateway asks who the far end is.
	q := far.recv(t, "ARP question", func(f []byte) bool {
		op, _, _, tpa, ok := parseARP(f)
		return ok && op == arpRequest && tpa == r.uplinkIP
	})
	if !bytes.Equal(q, whoHasBridge(r)) {
		t.Fatalf("question %x", q)
	}
	out := pkt{dst: "93.184.216.34", proto: protoTCP, dport: 443}.build()
	if err := u.send(out); !errors.Is(err, vmnet.ErrFrameRefused) || u.phaseNow() != uplinkStarting {
		t.Fatalf("a frame out before the answer: %v (%v)", err, u.phaseNow())
	}

	// A VM on the network: its end of another pair.
	vmEnd, vmConn, err := vmnet.DatagramPair()
	if err != nil {
		t.Fatal(err)
	}
	defer vmEnd.Close()
	defer vmConn.Close()
	vm := farEnd{vmConn}
	mac, _ := net.ParseMAC(vmMAC)
	n := &nic{mac: mac, ip: netip.MustParseAddr("10.89.1.2"), toVM: &sharedPort{DatagramPort: vmEnd}, stats: &nicStats{}}
	u.setMembers(map[string]*nic{"vm": n})

	// The far end answers; the uplink is up.
	far.send(t, pkt{etherType: etherTypeARP, dstMAC: GatewayMAC, srcMAC: bridgeMACString, arpOp: arpReply,
		arpSHA: bridgeMACString, arpSPA: "10.89.1.253", arpTPA: "10.89.1.1"}.build())
	waitPhase(t, u, uplinkUp)

	// Out: the far end's MAC as destination, the rest as sent.
	if err := u.send(out); err != nil {
		t.Fatal(err)
	}
	got := far.recv(t, "frame out", func(f []byte) bool { return len(f) == len(out) })
	if !bytes.Equal(got[0:6], bridge) || !bytes.Equal(got[6:], out[6:]) {
		t.Fatalf("out %x; sent %x", got, out)
	}
	if !bytes.Equal(out[0:6], r.gwMAC) {
		t.Fatal("send changed the pump's frame")
	}

	// In: the far end's question for the VM, and a frame to it; a frame
	// for another address is not the VM's.
	ask := pkt{etherType: etherTypeARP, dstMAC: bcastMAC, srcMAC: bridgeMACString, arpSHA: bridgeMACString,
		arpSPA: "10.89.1.253", arpTPA: "10.89.1.2"}.build()
	far.send(t, ask)
	far.send(t, pkt{dstMAC: vmMAC, srcMAC: bridgeMACString, src: "10.89.1.9", dst: "10.89.1.2", proto: protoUDP, dport: 9}.build())
	far.send(t, pkt{dstMAC: vmMAC, srcMAC: bridgeMACString, src: "93.184.216.34", dst: "10.89.1.2", proto: protoTCP, dport: 40000}.build())
	if got := vm.recv(t, "ARP question", func([]byte) bool { return true }); !bytes.Equal(got, ask) {
		t.Fatalf("the VM got %x; want %x", got, ask)
	}
	vm.recv(t, "UDP", func(f []byte) bool { return f[23] == protoUDP })
	vm.recv(t, "TCP", func(f []byte) bool { return f[23] == protoTCP })

	// A long frame passes whole; one over the port's size does not.
	big := pkt{dst: "93.184.216.34", proto: protoUDP}.build()
	big = append(big, make([]byte, 1400)...)
	if err := u.send(big); err != nil {
		t.Fatal(err)
	}
	far.recv(t, "a long frame", func(f []byte) bool { return len(f) == len(big) })

	// The reader counts a frame once the VM's socket took it, which may
	// be after the VM read it.
	for deadline := time.Now().Add(5 * time.Second); u.framesIn.Load() < 3 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	st := u.status()
	want := UplinkStatus{Kind: "tap:test", Address: "10.89.1.253", State: "up", BridgeMAC: bridgeMACString,
		FramesOut: 2, BytesOut: uint64(len(out) + len(big)), FramesIn: 3, NotReady: 1,
		// The far end's answer to the gateway is for no VM.
		Dropped: map[string]uint64{uplinkDropNoMember.String(): 1}}
	if st.ARPRequests == 0 || st.BytesIn == 0 {
		t.Fatalf("status %+v", st)
	}
	want.ARPRequests, want.BytesIn = st.ARPRequests, st.BytesIn
	if st.Kind != want.Kind || st.Address != want.Address || st.State != want.State || st.BridgeMAC != want.BridgeMAC ||
		st.FramesOut != want.FramesOut || st.BytesOut != want.BytesOut || st.FramesIn != want.FramesIn || st.NotReady != want.NotReady ||
		len(st.Dropped) != 1 || st.Dropped[uplinkDropNoMember.String()] != 1 || st.Error != "" {
		t.Fatalf("status %+v; want %+v", st, want)
	}
	if n.stats.fromUplink.Load() != 3 {
		t.Fatalf("the VM's count from the uplink: %d", n.stats.fromUplink.Load())
	}

	// A VM that went: frames for it are dropped.
	u.setMembers(map[string]*nic{})
	far.send(t, ask)
	deadline := time.Now().Add(5 * time.Second)
	for u.status().Dropped[uplinkDropBroadcast.String()] != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("status %+v", u.status())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestUplinkDown: an uplink that cannot open, whose far end never
// answers, or whose port fails, is down for good, with the reason.
func TestUplinkDown(t *testing.T) {
	t.Run("cannot open", func(t *testing.T) {
		u, _ := testUplink(t, func(context.Context) (vmnet.Port, error) { return nil, errors.New("vmnet refused") })
		waitPhase(t, u, uplinkDown)
		if st := u.status(); st.State != "down" || !strings.Contains(st.Error, "start tap:test: vmnet refused") {
			t.Fatalf("status %+v", st)
		}
	})
	t.Run("no answer", func(t *testing.T) {
		defer func(d, e time.Duration) { uplinkAnswerTimeout, uplinkAskEvery = d, e }(uplinkAnswerTimeout, uplinkAskEvery)
		uplinkAnswerTimeout, uplinkAskEvery = 300*time.Millisecond, 20*time.Millisecond
		open, _ := pairPort(t)
		u, _ := testUplink(t, open)
		waitPhase(t, u, uplinkDown)
		st := u.status()
		if !strings.Contains(st.Error, "tap:test at 10.89.1.253 did not answer ARP in 300ms") || st.ARPRequests < 5 {
			t.Fatalf("status %+v", st)
		}
		// The far end answering late changes nothing.
		u.learn(net.HardwareAddr{2, 0, 0, 0, 0, 1})
		if u.phaseNow() != uplinkDown {
			t.Fatal("a late answer brought a down uplink up")
		}
	})
	t.Run("the port fails", func(t *testing.T) {
		p := newBrokenPort()
		u, _ := testUplink(t, func(context.Context) (vmnet.Port, error) { return p, nil })
		p.read <- errors.New("vmnet: read: failure")
		waitPhase(t, u, uplinkDown)
		if st := u.status(); !strings.Contains(st.Error, "read from tap:test: vmnet: read: failure") {
			t.Fatalf("status %+v", st)
		}
		select { // closed by the failure, not by the test's close
		case <-p.shut:
		case <-time.After(5 * time.Second):
			t.Fatal("the port of a down uplink is still open")
		}
	})
	t.Run("closed while opening", func(t *testing.T) {
		p := newBrokenPort()
		opening := make(chan struct{})
		u, _ := testUplink(t, func(context.Context) (vmnet.Port, error) { <-opening; return p, nil })
		go func() { time.Sleep(50 * time.Millisecond); close(opening) }()
		u.close()
		if !p.closed() || u.phaseNow() != uplinkStarting || u.status().Error != "" {
			t.Fatalf("closed %v, phase %v, status %+v", p.closed(), u.phaseNow(), u.status())
		}
	})
}

// brokenPort reads what the test says, writes nothing anywhere.
type brokenPort struct {
	read chan error
	shut chan struct{}
}

func newBrokenPort() *brokenPort {
	return &brokenPort{read: make(chan error), shut: make(chan struct{})}
}

func (p *brokenPort) ReadFrame([]byte) (int, error) {
	select {
	case err := <-p.read:
		return 0, err
	case <-p.shut:
		return 0, net.ErrClosed
	}
}

func (p *brokenPort) WriteFrame([]byte) error { return nil }
func (p *brokenPort) MaxFrame() int           { return 1514 }
func (p *brokenPort) Close() error            { close(p.shut); return nil }
func (p *brokenPort) closed() bool {
	select {
	case <-p.shut:
		return true
	default:
		return false
	}
}
