package netconf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/api"
)

// The guest's DHCP client: DISCOVER → OFFER → REQUEST → ACK on one
// interface, renewal of the lease in the background, and a RELEASE when
// the guest powers off (vmnet leases last a day by default, and every
// container is a new MAC: released leases keep its pool from running
// dry). The exchange is written against dhcpConn so tests drive it with
// an in-memory server; dhcpsock_linux.go has the real sockets.

// dhcpConn reaches the DHCP servers on one interface.
type dhcpConn interface {
	// send broadcasts one DHCP message from src (the zero Addr, i.e.
	// 0.0.0.0, while the interface has no address).
	send(msg []byte, src netip.Addr) error
	// recv returns the next DHCP message for the client port, or
	// os.ErrDeadlineExceeded once deadline passes.
	recv(deadline time.Time) ([]byte, error)
	close() error
}

// dhcpClient runs exchanges for one interface.
type dhcpClient struct {
	conn dhcpConn
	mac  net.HardwareAddr
	name string // the interface, for messages
	// Retransmission: the first wait for a reply, doubled after each
	// silence up to maxWait. Servers on a VM's virtual network answer in
	// milliseconds, so the first retry comes early.
	firstWait, maxWait time.Duration
	// requestTries is how many REQUESTs go unanswered before the client
	// starts over with a DISCOVER.
	requestTries int
}

func newDHCPClient(conn dhcpConn, mac net.HardwareAddr, name string) *dhcpClient {
	return &dhcpClient{conn: conn, mac: mac, name: name, firstWait: 500 * time.Millisecond, maxWait: 4 * time.Second, requestTries: 4}
}

// errNoReply means a request went unanswered for all its tries.
var errNoReply = errors.New("no reply")

// nakError is a server's refusal.
type nakError struct {
	server netip.Addr
	msg    string
}

func (e *nakError) Error() string {
	s := "DHCP server " + e.server.String() + " refused the request (NAK)"
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

// serverText is a server's message (option 56) fit for logs and errors:
// printable ASCII, at most 200 bytes.
func serverText(b []byte) string {
	out := make([]byte, 0, min(len(b), 200))
	for _, c := range b {
		if len(out) == cap(out) {
			break
		}
		if c >= ' ' && c <= '~' {
			out = append(out, c)
		}
	}
	return string(out)
}

func (c *dhcpClient) who() string { return fmt.Sprintf("%s (MAC %s)", c.name, c.mac) }

// acquire gets a new lease within timeout.
func (c *dhcpClient) acquire(ctx context.Context, timeout time.Duration) (dhcpLease, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	var offered, server netip.Addr
	var lastNak *nakError
	// failed explains a failure to get a lease: how far the exchange got.
	failed := func(err error) error {
		switch {
		case errors.Is(ctx.Err(), context.Canceled):
			return fmt.Errorf("DHCP on %s: %w: %w", c.who(), ctx.Err(), api.ErrCanceled)
		case ctx.Err() == nil:
			return fmt.Errorf("DHCP on %s: %w", c.who(), err)
		case lastNak != nil:
			return fmt.Errorf("no DHCP lease on %s within %v: %w: %w", c.who(), timeout, lastNak, api.ErrUnavailable)
		case server.IsValid():
			return fmt.Errorf("no DHCP acknowledgement on %s from server %s for %s within %v: %w",
				c.who(), server, offered, timeout, api.ErrUnavailable)
		}
		return fmt.Errorf("no DHCP offer on %s within %v: %w", c.who(), timeout, api.ErrUnavailable)
	}
	for {
		xid := rand.Uint32()
		offer, err := c.exchange(ctx, start, xid, netip.Addr{}, 0,
			func(secs uint16) dhcpMsg { return discoverMsg(xid, c.mac, secs) },
			func(m dhcpMsg) bool {
				return m.msgType() == dhcpOffer && m.addrOpt(optServerID).IsValid() && m.yiaddr.IsValid()
			})
		if err != nil {
			return dhcpLease{}, failed(err)
		}
		offered, server = offer.yiaddr, offer.addrOpt(optServerID)
		reply, err := c.exchange(ctx, start, xid, netip.Addr{}, c.requestTries,
			func(secs uint16) dhcpMsg { return selectMsg(xid, c.mac, secs, offer) },
			func(m dhcpMsg) bool {
				t := m.msgType()
				return (t == dhcpAck || t == dhcpNak) && m.addrOpt(optServerID) == server
			})
		if errors.Is(err, errNoReply) {
			continue // the server went quiet: start over
		}
		if err != nil {
			return dhcpLease{}, failed(err)
		}
		if reply.msgType() == dhcpNak {
			lastNak = &nakError{server: server, msg: serverText(reply.opts[optMessage])}
			slog.Warn("dhcp: offer refused, starting over", "interface", c.name, "address", offered, "err", lastNak)
			select { // a server that refuses everything must not make the client spin
			case <-ctx.Done():
				return dhcpLease{}, failed(ctx.Err())
			case <-time.After(c.firstWait):
			}
			continue
		}
		l, err := leaseFrom(reply)
		if err != nil {
			return dhcpLease{}, fmt.Errorf("DHCP server %s on %s: %w", server, c.who(), err)
		}
		if !l.server.IsValid() {
			l.server = server
		}
		return l, nil
	}
}

// renew asks for cur to be extended. A NAK comes back as *nakError: the
// address must not be used any more.
func (c *dhcpClient) renew(ctx context.Context, cur dhcpLease) (dhcpLease, error) {
	start := time.Now()
	xid := rand.Uint32()
	addr := cur.addr.Addr()
	reply, err := c.exchange(ctx, start, xid, addr, 0,
		func(secs uint16) dhcpMsg { return renewMsg(xid, c.mac, secs, addr) },
		func(m dhcpMsg) bool { t := m.msgType(); return t == dhcpAck || t == dhcpNak })
	if err != nil {
		return dhcpLease{}, fmt.Errorf("renew the DHCP lease of %s on %s: %w", addr, c.who(), err)
	}
	if reply.msgType() == dhcpNak {
		return dhcpLease{}, &nakError{server: reply.addrOpt(optServerID), msg: serverText(reply.opts[optMessage])}
	}
	l, err := leaseFrom(reply)
	if err != nil {
		return dhcpLease{}, fmt.Errorf("renew on %s: %w", c.who(), err)
	}
	if !l.server.IsValid() {
		l.server = cur.server
	}
	return l, nil
}

// release gives l back to its server; no reply is expected.
func (c *dhcpClient) release(l dhcpLease) error {
	return c.conn.send(encodeDHCP(releaseMsg(rand.Uint32(), c.mac, l)), l.addr.Addr())
}

// exchange sends build's message and waits for a reply to xid that
// accept likes, retransmitting with backoff until ctx ends or, when
// tries > 0, that many sends went unanswered (errNoReply).
func (c *dhcpClient) exchange(ctx context.Context, start time.Time, xid uint32, src netip.Addr, tries int,
	build func(secs uint16) dhcpMsg, accept func(dhcpMsg) bool) (dhcpMsg, error) {
	wait := c.firstWait
	for n := 0; tries == 0 || n < tries; n++ {
		if err := ctx.Err(); err != nil {
			return dhcpMsg{}, err
		}
		secs := uint16(min(time.Since(start)/time.Second, 0xffff))
		if err := c.conn.send(encodeDHCP(build(secs)), src); err != nil {
			return dhcpMsg{}, fmt.Errorf("send: %w", err)
		}
		until := time.Now().Add(wait)
		if dl, ok := ctx.Deadline(); ok && dl.Before(until) {
			until = dl
		}
		for {
			b, err := c.conn.recv(until)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return dhcpMsg{}, fmt.Errorf("receive: %w", err)
			}
			m, err := decodeDHCP(b)
			if err != nil {
				slog.Debug("dhcp: ignored a message", "interface", c.name, "err", err)
				continue
			}
			if answers(m, xid, c.mac) && accept(m) {
				return m, nil
			}
		}
		wait = min(wait*2, c.maxWait)
	}
	return dhcpMsg{}, errNoReply
}

// Renewal timing. Retries between T1 and the end of the lease wait half
// the time left, but at least renewRetryMin (RFC 2131 says 60 s; a
// virtual network's server is local, and vmnet leases can be set to a
// minute, so retries come sooner).
const renewRetryMin = 10 * time.Second

// nextRenewal is when a lease granted at granted should next be renewed:
// T1, then retries until it expires, then every renewRetryMin (the
// address is kept: a container without network is worse than a lease
// the local server no longer knows). Zero for an infinite lease.
func nextRenewal(now, granted time.Time, l dhcpLease) time.Time {
	if l.duration == 0 {
		return time.Time{}
	}
	if t1 := granted.Add(l.renew); now.Before(t1) {
		return t1
	}
	if expiry := granted.Add(l.duration); now.Before(expiry) {
		return now.Add(max(expiry.Sub(now)/2, renewRetryMin))
	}
	return now.Add(renewRetryMin)
}

// leaseKeeper renews one interface's lease until stopped.
type leaseKeeper struct {
	dial  func() (*dhcpClient, error)
	apply func(old, cur dhcpLease) error // called when a renewal changes the lease
	// attempt bounds one renewal or re-acquisition.
	attempt time.Duration

	lease   dhcpLease
	granted time.Time
}

// run keeps the lease until ctx ends.
func (k *leaseKeeper) run(ctx context.Context) {
	for {
		at := nextRenewal(time.Now(), k.granted, k.lease)
		if at.IsZero() {
			return
		}
		t := time.NewTimer(time.Until(at))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		k.renewOnce(ctx)
	}
}

// renewOnce makes one renewal attempt; after a NAK it acquires a new
// lease. Failures are logged and retried at nextRenewal.
func (k *leaseKeeper) renewOnce(ctx context.Context) {
	c, err := k.dial()
	if err != nil {
		slog.Warn("dhcp: renewal", "err", err)
		return
	}
	defer c.conn.close()
	actx, cancel := context.WithTimeout(ctx, k.attempt)
	defer cancel()
	now := time.Now()
	l, err := c.renew(actx, k.lease)
	var nak *nakError
	if errors.As(err, &nak) {
		slog.Warn("dhcp: lease taken back, acquiring a new one", "interface", c.name, "address", k.lease.addr, "err", err)
		now = time.Now()
		l, err = c.acquire(ctx, k.attempt)
	}
	if err != nil {
		if ctx.Err() == nil {
			slog.Warn("dhcp: renewal failed, keeping the address", "interface", c.name, "address", k.lease.addr, "err", err)
		}
		return
	}
	if l.addr != k.lease.addr || l.router != k.lease.router {
		if err := k.apply(k.lease, l); err != nil {
			slog.Error("dhcp: apply the renewed lease", "interface", c.name, "address", l.addr, "err", err)
			return
		}
	}
	k.lease, k.granted = l, now
}

// dhcpBinding is a lease held on one guest interface and its renewal.
type dhcpBinding struct {
	nic    net.Interface
	keeper *leaseKeeper
	// ownsRoute: the default route goes via this lease's router, so a
	// renewal that changes the router moves it.
	ownsRoute bool
	cancel    context.CancelFunc
	done      chan struct{}
}

// bindings are the guest's leases by interface index.
var bindings struct {
	sync.Mutex
	byIndex map[int]*dhcpBinding
}

// acquireOn gets a lease on nic; start() then keeps it.
func acquireOn(ctx context.Context, nic *net.Interface, timeout time.Duration) (*dhcpBinding, error) {
	dial := func() (*dhcpClient, error) {
		conn, err := openDHCPConn(nic)
		if err != nil {
			return nil, fmt.Errorf("DHCP on %s (MAC %s): %w", nic.Name, nic.HardwareAddr, err)
		}
		return newDHCPClient(conn, nic.HardwareAddr, nic.Name), nil
	}
	c, err := dial()
	if err != nil {
		return nil, err
	}
	defer c.conn.close()
	granted := time.Now()
	l, err := c.acquire(ctx, timeout)
	if err != nil {
		return nil, err
	}
	b := &dhcpBinding{nic: *nic}
	b.keeper = &leaseKeeper{dial: dial, apply: b.apply, attempt: timeout, lease: l, granted: granted}
	return b, nil
}

// apply moves the interface to a renewed lease's address and router.
func (b *dhcpBinding) apply(old, cur dhcpLease) error {
	if cur.addr != old.addr {
		if err := addAddr(b.nic.Index, prefixNet(cur.addr)); err != nil {
			return fmt.Errorf("address %s on %s: %w", cur.addr, b.nic.Name, err)
		}
		if err := delAddr(b.nic.Index, prefixNet(old.addr)); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("remove address %s from %s: %w", old.addr, b.nic.Name, err)
		}
		slog.Warn("dhcp: address changed on renewal", "interface", b.nic.Name, "old", old.addr, "new", cur.addr)
	}
	if b.ownsRoute && cur.router.IsValid() && (cur.router != old.router || cur.addr != old.addr) {
		if err := addDefaultRoute(cur.router.AsSlice()); err != nil {
			return fmt.Errorf("default route via %s: %w", cur.router, err)
		}
	}
	return nil
}

// start keeps the lease in the background, replacing an earlier binding
// of the same interface (a host that configures the network again).
func (b *dhcpBinding) start() {
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel, b.done = cancel, make(chan struct{})
	bindings.Lock()
	if bindings.byIndex == nil {
		bindings.byIndex = map[int]*dhcpBinding{}
	}
	old := bindings.byIndex[b.nic.Index]
	bindings.byIndex[b.nic.Index] = b
	bindings.Unlock()
	if old != nil {
		old.stop()
	}
	go func() {
		defer close(b.done)
		b.keeper.run(ctx)
	}()
}

func (b *dhcpBinding) stop() {
	b.cancel()
	<-b.done
}

// ReleaseLeases stops renewing and gives every lease back. PID 1 calls it
// before powering off; a VM killed from outside keeps its lease until it
// expires.
func ReleaseLeases() {
	bindings.Lock()
	all := bindings.byIndex
	bindings.byIndex = nil
	bindings.Unlock()
	for _, b := range all {
		b.stop()
		b.release()
	}
}

// release gives the lease back (best effort: failures are logged).
func (b *dhcpBinding) release() {
	conn, err := openDHCPConn(&b.nic)
	if err != nil {
		slog.Warn("dhcp: release", "interface", b.nic.Name, "err", err)
		return
	}
	defer conn.close()
	if err := newDHCPClient(conn, b.nic.HardwareAddr, b.nic.Name).release(b.keeper.lease); err != nil {
		slog.Warn("dhcp: release", "interface", b.nic.Name, "err", err)
	}
}
