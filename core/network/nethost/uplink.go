package nethost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthvm/berth/vmnet"
)

// uplink is a network's way out through a port of its own (Plan.Uplink):
// a vmnet interface on macOS, a TAP device on Linux. The VMs' pumps hand
// it the frames routeFromVM sends there (send); its reader gives each VM
// what routeFromUplink finds for it. Until the port is open and the far
// end's MAC is known, frames for it are dropped; if the port cannot be
// opened, the far end never answers, or the port fails, the uplink is
// down for good and the gateway's user-mode NAT is the way out, as on a
// network without one.
type uplink struct {
	r *resolved

	phase   atomic.Uint32 // uplinkPhase
	why     atomic.Pointer[string]
	bridge  atomic.Pointer[net.HardwareAddr]
	members atomic.Pointer[members]
	port    atomic.Pointer[vmnet.Port] // set once open

	ctx    context.Context // the uplink's life: ends with close or when it goes down
	cancel context.CancelFunc
	done   chan struct{} // run returned

	shutMu sync.Mutex
	shutIt bool // the port is closed

	wmu  sync.Mutex // WriteFrame one at a time, as Port asks; wbuf
	wbuf []byte

	framesOut, bytesOut atomic.Uint64
	framesIn, bytesIn   atomic.Uint64
	notReady, lostOut   atomic.Uint64
	lostIn, asked       atomic.Uint64
	dropped             [numUplinkDrops]atomic.Uint64
}

// How long the far end has to answer the gateway's ARP, and how often
// it is asked meanwhile (vmnet's bridge answers at once; a TAP device's
// kernel once the device is up and has the address).
var (
	uplinkAnswerTimeout = 10 * time.Second
	uplinkAskEvery      = 250 * time.Millisecond
)

// openPort opens a port for an uplink.
type openPort func(ctx context.Context) (vmnet.Port, error)

// uplinkPort opens r's uplink: vmnet.Start in shared mode with the far
// end (the Mac's bridge) at r.uplinkIP, or vmnet.OpenTap. Either fails
// where the OS has no such thing (api.ErrUnsupported).
func uplinkPort(r *resolved) openPort {
	return func(ctx context.Context) (vmnet.Port, error) {
		if r.Uplink != UplinkVmnet {
			return vmnet.OpenTap(strings.TrimPrefix(r.Uplink, UplinkTapPrefix))
		}
		cfg, err := vmnet.ConfigAt(vmnet.Shared, r.subnet, r.uplinkIP, nil)
		if err != nil {
			return nil, err
		}
		i, err := vmnet.Start(ctx, cfg)
		if i == nil {
			return nil, err // not i: a nil *Interface in a Port is not nil
		}
		return i, err
	}
}

// startUplink starts r's uplink with open, in the background: the
// network serves at once, without a way out until the uplink is up or
// down.
func startUplink(r *resolved, open openPort) *uplink {
	u := &uplink{r: r, done: make(chan struct{})}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	u.members.Store(newMembers())
	go u.run(open)
	return u
}

func (u *uplink) run(open openPort) {
	defer close(u.done)
	octx, cancel := context.WithTimeout(u.ctx, 30*time.Second)
	port, err := open(octx)
	cancel()
	if err != nil {
		u.down(fmt.Errorf("start %s: %w", u.r.Uplink, err))
		return
	}
	u.port.Store(&port)
	if u.ctx.Err() != nil { // closed while opening
		u.shut()
		return
	}
	if max := port.MaxFrame(); max < u.r.MTU+14 {
		slog.Warn("the uplink carries smaller frames than the network's MTU: larger ones to outside are dropped",
			"network", u.r.Name, "uplink", u.r.Uplink, "max_frame", max, "mtu", u.r.MTU)
	}
	u.wbuf = make([]byte, port.MaxFrame())
	asking := make(chan struct{})
	go func() {
		defer close(asking)
		u.ask(port)
	}()
	u.read(port)
	<-asking
}

// ask sends the gateway's ARP question for the far end until it answers,
// and takes the uplink down if it does not in time.
func (u *uplink) ask(port vmnet.Port) {
	q := whoHasBridge(u.r)
	deadline := time.Now().Add(uplinkAnswerTimeout)
	var lastErr error
	for uplinkPhase(u.phase.Load()) == uplinkStarting {
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("%s at %s did not answer ARP in %v", u.r.Uplink, u.r.uplinkIP, uplinkAnswerTimeout)
			if lastErr != nil {
				msg += " (the last question failed: " + lastErr.Error() + ")"
			}
			u.down(errors.New(msg))
			return
		}
		u.wmu.Lock()
		err := port.WriteFrame(q)
		u.wmu.Unlock()
		if err != nil {
			lastErr = err // a TAP device that is not up yet: ask again
		} else {
			u.asked.Add(1)
		}
		select {
		case <-u.ctx.Done():
			return
		case <-time.After(uplinkAskEvery):
		}
	}
}

// read takes every frame from the port until it is closed or fails.
func (u *uplink) read(port vmnet.Port) {
	buf := make([]byte, port.MaxFrame())
	for {
		n, err := port.ReadFrame(buf)
		if err != nil {
			if u.ctx.Err() != nil {
				return
			}
			if errors.Is(err, vmnet.ErrFrameTooLarge) {
				u.dropped[uplinkDropMalformed].Add(1)
				continue
			}
			u.down(fmt.Errorf("read from %s: %w", u.r.Uplink, err))
			return
		}
		frame := buf[:n]
		if mac, ok := bridgeMAC(u.r, frame); ok {
			u.learn(mac)
		}
		m, why := routeFromUplink(u.members.Load(), frame)
		if why != uplinkPass {
			u.dropped[why].Add(1)
			continue
		}
		u.deliver(m, frame)
	}
}

// learn takes mac as the far end's; the first one brings the uplink up.
func (u *uplink) learn(mac net.HardwareAddr) {
	if old := u.bridge.Load(); old == nil || old.String() != mac.String() {
		u.bridge.Store(&mac)
		if old != nil {
			slog.Info("the uplink's far end has a new MAC", "network", u.r.Name, "mac", mac.String(), "was", old.String())
		}
	}
	if u.phase.CompareAndSwap(uint32(uplinkStarting), uint32(uplinkUp)) {
		slog.Info("uplink up: the way out", "network", u.r.Name, "uplink", u.r.Uplink, "address", u.r.UplinkIP, "mac", mac.String())
	}
}

// deliver writes frame to m's VM, retrying a full socket briefly as a
// pump does (and dropping after, so that one VM cannot stall the others).
func (u *uplink) deliver(m *member, frame []byte) {
	for try := 0; ; try++ {
		err := m.out.toVM.WriteFrame(frame)
		if err == nil {
			m.out.stats.fromUplink.Add(1)
			u.bytesIn.Add(uint64(len(frame)))
			u.framesIn.Add(1) // last: a reader of framesIn sees the rest counted
			return
		}
		if !errors.Is(err, vmnet.ErrBufferFull) || try == 10 {
			u.lostIn.Add(1)
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// errNotReady drops a frame for an uplink that is still starting (a pump
// counts it as refused and goes on).
var errNotReady = fmt.Errorf("the uplink is not up yet: %w", vmnet.ErrFrameRefused)

// send writes a VM's frame to the far end: a pump's write, with a pump's
// errors (a full port is retried; anything else drops the frame, never
// ends the VM's pump).
func (u *uplink) send(frame []byte) error {
	mac, port := u.bridge.Load(), u.port.Load()
	if mac == nil || port == nil {
		u.notReady.Add(1)
		return errNotReady
	}
	u.wmu.Lock()
	defer u.wmu.Unlock()
	if len(frame) > len(u.wbuf) {
		u.lostOut.Add(1)
		return fmt.Errorf("a %d-byte frame, the uplink takes %d: %w", len(frame), len(u.wbuf), vmnet.ErrFrameTooLarge)
	}
	b := u.wbuf[:len(frame)]
	copy(b, frame)
	copy(b[0:6], *mac)
	err := (*port).WriteFrame(b)
	switch {
	case err == nil:
		u.framesOut.Add(1)
		u.bytesOut.Add(uint64(len(frame)))
		return nil
	case errors.Is(err, vmnet.ErrBufferFull):
		return err
	case errors.Is(err, vmnet.ErrNoPeer), errors.Is(err, vmnet.ErrFrameTooLarge):
		u.lostOut.Add(1)
		return err
	}
	u.lostOut.Add(1)
	return fmt.Errorf("uplink: %v: %w", err, vmnet.ErrFrameRefused)
}

// bridgeMAC is the far end's MAC, nil until known.
func (u *uplink) bridgeMAC() net.HardwareAddr {
	if m := u.bridge.Load(); m != nil {
		return *m
	}
	return nil
}

// phaseNow is the uplink's phase for routeFromVM.
func (u *uplink) phaseNow() uplinkPhase { return uplinkPhase(u.phase.Load()) }

// down takes the uplink down for good (the gateway's NAT is the way out
// from now on) and closes its port.
func (u *uplink) down(err error) {
	if u.ctx.Err() != nil {
		return // closing: not a failure
	}
	for {
		p := u.phase.Load()
		if uplinkPhase(p) == uplinkDown {
			return
		}
		if u.phase.CompareAndSwap(p, uint32(uplinkDown)) {
			break
		}
	}
	msg := err.Error()
	u.why.Store(&msg)
	slog.Warn("uplink down: the gateway's user-mode NAT is the way out", "network", u.r.Name, "uplink", u.r.Uplink, "err", err)
	u.cancel()
	u.shut()
}

// shut closes the port, once it is open, once.
func (u *uplink) shut() {
	u.shutMu.Lock()
	defer u.shutMu.Unlock()
	p := u.port.Load()
	if p == nil || u.shutIt {
		return
	}
	u.shutIt = true
	if err := (*p).Close(); err != nil {
		slog.Debug("close the uplink", "network", u.r.Name, "err", err)
	}
}

// close stops the uplink (the network is stopping) and waits for it; a
// port still opening is closed once open.
func (u *uplink) close() {
	u.cancel()
	u.shut()
	<-u.done
	u.shut() // opened meanwhile
}

// setMembers tells the reader the network's VMs.
func (u *uplink) setMembers(atts map[string]*nic) {
	var ms []*member
	for _, n := range atts {
		ms = append(ms, &member{mac: [6]byte(n.mac), ip: n.ip, out: n})
	}
	u.members.Store(newMembers(ms...))
}

func (u *uplink) status() *UplinkStatus {
	st := &UplinkStatus{Kind: u.r.Uplink, Address: u.r.UplinkIP, State: u.phaseNow().String(),
		FramesOut: u.framesOut.Load(), BytesOut: u.bytesOut.Load(), FramesIn: u.framesIn.Load(), BytesIn: u.bytesIn.Load(),
		NotReady: u.notReady.Load(), LostOut: u.lostOut.Load(), LostIn: u.lostIn.Load(), ARPRequests: u.asked.Load()}
	if why := u.why.Load(); why != nil {
		st.Error = *why
	}
	if mac := u.bridge.Load(); mac != nil {
		st.BridgeMAC = mac.String()
	}
	for why := uplinkDrop(1); why < numUplinkDrops; why++ {
		if n := u.dropped[why].Load(); n > 0 {
			if st.Dropped == nil {
				st.Dropped = map[string]uint64{}
			}
			st.Dropped[why.String()] = n
		}
	}
	return st
}
