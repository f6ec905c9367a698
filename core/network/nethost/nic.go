package nethost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/vmnet"
)

// nic is one attached VM: its datagram socket (vmnet.ListenDatagram at
// Socket, sending to Peer by path, so the VM's process may start, stop
// and restart behind it: QEMU's -netdev dgram and the vm-host's
// connected socket alike), a datagram pair whose far end the engine's
// switch takes (AcceptVfkit), and a vmnet.Pump between the two that
// passes the VM's frames through Filter.Check.
type nic struct {
	a     Attachment
	mac   net.HardwareAddr // a's, parsed
	ip    netip.Addr
	stats *nicStats

	vm       *vmnet.DatagramPort
	toVM     *sharedPort         // vm, for the pump and the uplink's reader
	engine   *vmnet.DatagramPort // the pump's end of the pair
	switchC  net.Conn            // the switch's end
	cancel   context.CancelFunc
	pumped   chan struct{} // the pump returned
	accepted chan struct{} // the switch let go of its end
	base     uint64        // frames from the VM when attached
	failed   atomic.Pointer[string]
}

// nicStats are an attachment's counts; an attachment made again for the
// same VM keeps them.
type nicStats struct {
	pump    vmnet.Stats
	dropped [numReasons]atomic.Uint64
	// Frames the VM sent through the uplink, and frames from the uplink
	// to the VM (in pump's counts too: FromVM, not ToVM).
	toUplink, fromUplink atomic.Uint64
}

// sharedPort is a VM's port written by two: its pump (frames from the
// switch) and the uplink's reader. Port asks for one writer at a time.
type sharedPort struct {
	*vmnet.DatagramPort
	mu sync.Mutex
}

func (p *sharedPort) WriteFrame(f []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.DatagramPort.WriteFrame(f)
}

// routedPort is the engine's end of a VM's pump on a network with an
// uplink: frames from the VM go where routeFromVM says, the switch's
// come back as they are. SetReadDeadline is the pair's, so that Pump can
// stop without closing it.
type routedPort struct {
	*vmnet.DatagramPort // the pump's end of the switch's pair
	r                   *resolved
	up                  *uplink
	st                  *nicStats
}

func (p *routedPort) WriteFrame(f []byte) error {
	switch routeFromVM(p.r, p.up.phaseNow(), p.up.bridgeMAC(), f) {
	case toUplink:
		err := p.up.send(f)
		if err == nil {
			p.st.toUplink.Add(1)
		}
		return err
	case dropNotReady:
		p.up.notReady.Add(1)
		return errNotReady
	}
	return p.DatagramPort.WriteFrame(f)
}

// startNIC binds a's socket and starts moving its frames, through up
// where it says (nil: the network has no uplink).
func (e *engine) startNIC(a Attachment, f *Filter, st *nicStats, up *uplink) (_ *nic, err error) {
	vm, err := vmnet.ListenDatagram(a.Socket, a.Peer)
	if err != nil {
		return nil, fmt.Errorf("network %q: attach VM %q: %v: %w", e.r.Name, a.VM, err, api.ErrUnavailable)
	}
	// The VM's NIC sends frames of the network's MTU at most.
	vm.SetMaxFrame(e.r.MTU + 14)
	engine, switchC, err := vmnet.DatagramPair()
	if err != nil {
		vm.Close()
		return nil, fmt.Errorf("network %q: attach VM %q: %v: %w", e.r.Name, a.VM, err, api.ErrUnavailable)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &nic{a: a, mac: f.mac, ip: f.ip, stats: st, vm: vm, toVM: &sharedPort{DatagramPort: vm}, engine: engine, switchC: switchC,
		cancel: cancel, pumped: make(chan struct{}), accepted: make(chan struct{}), base: st.pump.FromVM.Frames.Load()}
	var toEngine vmnet.Port = engine
	if up != nil {
		toEngine = &routedPort{DatagramPort: engine, r: e.r, up: up, st: st}
	}
	go func() {
		defer close(n.accepted)
		if err := e.accept(ctx, switchC); err != nil && !errors.Is(err, net.ErrClosed) {
			slog.Debug("the switch let go of an attachment", "network", e.r.Name, "vm", a.VM, "err", err)
		}
	}()
	fromVM := func(frame []byte) bool {
		if why := f.Check(frame); why != Pass {
			st.dropped[why].Add(1)
			return false
		}
		return true
	}
	go func() {
		defer close(n.pumped)
		err := vmnet.Pump(ctx, n.toVM, toEngine, vmnet.PumpOptions{FromVM: fromVM, Stats: &st.pump})
		if err != nil && ctx.Err() == nil {
			msg := err.Error()
			n.failed.Store(&msg)
			slog.Error("an attachment stopped moving frames", "network", e.r.Name, "vm", a.VM, "err", err)
		}
	}()
	return n, nil
}

// stop ends the pump, closes every socket and removes the VM's socket
// file.
func (n *nic) stop() {
	n.cancel()
	<-n.pumped
	n.vm.Close()
	n.switchC.Close()
	n.engine.Close()
	select {
	case <-n.accepted:
	case <-time.After(5 * time.Second):
		slog.Warn("the switch did not let go of a detached VM", "vm", n.a.VM)
	}
}

// running reports whether the pump still moves frames.
func (n *nic) running() bool {
	select {
	case <-n.pumped:
		return false
	default:
		return true
	}
}

// heard reports whether a frame from the VM passed since attaching.
func (n *nic) heard() bool { return n.stats.pump.FromVM.Frames.Load() > n.base }

func (n *nic) status() AttachmentStatus {
	from, to := n.stats.pump.FromVM.Load(), n.stats.pump.ToVM.Load()
	as := AttachmentStatus{Attachment: n.a, Heard: n.heard(),
		FramesFromVM: from.Frames, BytesFromVM: from.Bytes, FramesToVM: to.Frames, BytesToVM: to.Bytes,
		LostToVM: to.NoPeer + to.BufferFull + to.WriteErrors + to.TooLarge, Strangers: n.vm.Strangers(),
		FramesToUplink: n.stats.toUplink.Load(), FramesFromUplink: n.stats.fromUplink.Load()}
	add := func(why string, k uint64) {
		if k == 0 {
			return
		}
		if as.DroppedBy == nil {
			as.DroppedBy = map[string]uint64{}
		}
		as.DroppedBy[why] += k
		as.Dropped += k
	}
	for why := Reason(1); why < numReasons; why++ {
		add(why.String(), n.stats.dropped[why].Load())
	}
	add("larger than the network's MTU", from.TooLarge)
	if msg := n.failed.Load(); msg != nil {
		as.Error = *msg
	}
	return as
}

// announceAfter are the delays at which a silent attachment's VM is
// asked for its MAC (see engine.probe).
var announceAfter = []time.Duration{0, time.Second, 3 * time.Second}

// announce gets a VM that runs already (its socket is there: this
// process restarted) but has said nothing yet to answer an ARP request
// from the gateway, so that the switch learns where its MAC is. A VM
// about to boot talks by itself, and is not asked: a request nobody
// answers leaves a failed neighbor entry behind, and gvisor (this
// version) reads such an entry's address without its lock when the
// VM's own ARP then updates it (google/gvisor#14242 fixes it upstream).
func (e *engine) announce(n *nic) {
	if _, err := os.Stat(n.a.Peer); err != nil {
		return
	}
	ip := netip.MustParseAddr(n.a.IP)
	for _, d := range announceAfter {
		select {
		case <-n.pumped:
			return
		case <-time.After(d):
		}
		if n.heard() {
			return
		}
		e.probe(ip)
	}
}
