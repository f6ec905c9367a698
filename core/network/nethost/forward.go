package nethost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containers/gvisor-tap-vsock/pkg/services/forwarder"

	"github.com/berthvm/berth/core/api"
)

// forward is one published port: a listener on the host whose
// connections (or datagrams) the gateway carries to a guest.
type forward struct {
	f     Forward
	conns atomic.Uint64
	stop  func()
}

// dialTimeout bounds connecting to the guest for one host connection.
const dialTimeout = 10 * time.Second

// listenAddr is where f listens on the host.
func listenAddr(f Forward) string {
	return net.JoinHostPort(f.HostIP, strconv.Itoa(int(f.HostPort)))
}

// listenError words a failed listen on the host for the user.
func listenError(name string, f Forward, err error) error {
	what := fmt.Sprintf("network %q: cannot publish %s", name, f.Key())
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%s: the port is %s: free it or choose another host port: %w", what, portHolder(f.Proto, f.HostIP, f.HostPort), api.ErrConflict)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%s: permission denied (ports below 1024 may need privileges on this host): %w", what, api.ErrInvalidArgument)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("%s: %s is not an address of this host: %w", what, f.HostIP, api.ErrInvalidArgument)
	}
	return fmt.Errorf("%s: %v: %w", what, err, api.ErrUnavailable)
}

// startForward listens for f on the host; HostPort 0 is replaced by the
// port bound.
func (e *engine) startForward(f Forward) (*forward, error) {
	guest := netip.MustParseAddr(f.GuestIP)
	fw := &forward{f: f}
	switch f.Proto {
	case "tcp":
		ln, err := net.Listen("tcp", listenAddr(f))
		if err != nil {
			return nil, listenError(e.r.Name, f, err)
		}
		fw.f.HostPort = uint16(ln.Addr().(*net.TCPAddr).Port)
		var wg sync.WaitGroup
		var mu sync.Mutex
		open := map[net.Conn]bool{}
		ctx, cancel := context.WithCancel(context.Background())
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					if !errors.Is(err, net.ErrClosed) {
						slog.Warn("published port: accept", "port", fw.f.Key().String(), "err", err)
					}
					return
				}
				fw.conns.Add(1)
				mu.Lock()
				open[c] = true
				mu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					e.carryTCP(ctx, c, guest, f.GuestPort)
					mu.Lock()
					delete(open, c)
					mu.Unlock()
				}()
			}
		}()
		fw.stop = func() {
			ln.Close()
			cancel()
			// Unpublishing releases the port and everything on it.
			mu.Lock()
			for c := range open {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
		}
	case "udp":
		addr, err := net.ResolveUDPAddr("udp", listenAddr(f))
		if err != nil {
			return nil, listenError(e.r.Name, f, err)
		}
		uc, err := net.ListenUDP("udp", addr)
		if err != nil {
			return nil, listenError(e.r.Name, f, err)
		}
		fw.f.HostPort = uint16(uc.LocalAddr().(*net.UDPAddr).Port)
		p, err := forwarder.NewUDPProxy(uc, func() (net.Conn, error) { return e.dialUDP(guest, f.GuestPort) })
		if err != nil {
			uc.Close()
			return nil, listenError(e.r.Name, f, err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			p.Run()
		}()
		fw.stop = func() {
			p.Close()
			<-done
		}
	}
	return fw, nil
}

// carryTCP connects a host connection to the guest and copies both ways,
// passing on half-closes, until both directions end.
func (e *engine) carryTCP(ctx context.Context, c net.Conn, guest netip.Addr, port uint16) {
	defer c.Close()
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	g, err := e.dialTCP(dctx, guest, port)
	cancel()
	if err != nil {
		slog.Debug("published port: the container did not answer", "guest", guest, "port", port, "err", err)
		return
	}
	defer g.Close()
	stop := context.AfterFunc(ctx, func() { g.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			dst.Close()
		}
		done <- struct{}{}
	}
	go cp(g, c)
	go cp(c, g)
	<-done
	<-done
}
