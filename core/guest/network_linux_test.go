package guest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
)

// configure_network over the protocol, between a host and guests with and
// without DHCP support.
func TestApplyNetworkProtocol(t *testing.T) {
	dhcp := proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: "02:00:00:00:00:01", Address: proto.AddressDHCP}}}
	static := proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: "02:00:00:00:00:01", Address: "10.0.2.15/24"}}, Gateway: "10.0.2.2"}

	t.Run("guest without DHCP", func(t *testing.T) {
		h := newHarness(t, ServerOptions{})
		c := h.connect()
		if c.Info().Has(proto.FeatureDHCP) {
			t.Fatal("a guest without System.Network announces DHCP")
		}
		_, err := c.ApplyNetwork(ctx(t), dhcp)
		if !errors.Is(err, api.ErrUnsupported) || !strings.Contains(err.Error(), "rebuild the initramfs") {
			t.Fatalf("DHCP on an old guest: %v", err)
		}
		if h.sys.net != nil {
			t.Fatalf("the config was sent anyway: %+v", h.sys.net)
		}
		// Static addresses work as before; the empty reply is a zero status.
		st, err := c.ApplyNetwork(ctx(t), static)
		if err != nil || !reflect.DeepEqual(st, proto.NetworkStatus{}) || h.sys.net == nil || h.sys.net.Gateway != "10.0.2.2" {
			t.Fatalf("static on an old guest: %+v, %v, sent %+v", st, err, h.sys.net)
		}
	})

	t.Run("guest with DHCP", func(t *testing.T) {
		h := newHarness(t, ServerOptions{})
		got := make(chan proto.NetworkConfig, 1)
		canceled := make(chan struct{})
		reply := proto.NetworkStatus{
			Interfaces: []proto.InterfaceStatus{{MAC: "02:00:00:00:00:01", Name: "eth0", Address: "192.168.64.3/24", MTU: 1500,
				Lease: &proto.Lease{Server: "192.168.64.1", Router: "192.168.64.1", DNS: []string{"192.168.64.1"}, Domain: "lan", Duration: time.Hour}}},
			Gateway: "192.168.64.1", DNS: []string{"192.168.64.1"}, Search: []string{"lan"},
		}
		h.srv.opts.System.Network = func(ctx context.Context, cfg proto.NetworkConfig) (proto.NetworkStatus, error) {
			got <- cfg
			if cfg.Interfaces[0].MAC == "02:00:00:00:00:09" {
				return proto.NetworkStatus{}, fmt.Errorf("no DHCP offer on eth1 (MAC 02:00:00:00:00:09) within 1s: %w", api.ErrUnavailable)
			}
			if cfg.Interfaces[0].MAC == "02:00:00:00:00:0a" {
				<-ctx.Done() // a DHCP exchange still running when the host leaves
				close(canceled)
				return proto.NetworkStatus{}, ctx.Err()
			}
			return reply, nil
		}
		c := h.connect()
		if !c.Info().Has(proto.FeatureDHCP) {
			t.Fatalf("features %v", c.Info().Features)
		}
		callCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		st, err := c.ApplyNetwork(callCtx, dhcp)
		if err != nil || !reflect.DeepEqual(st, reply) {
			t.Fatalf("status %+v, %v", st, err)
		}
		// The guest's DHCP deadline comes before the host's.
		if sent := <-got; sent.Timeout <= 15*time.Second || sent.Timeout > 18*time.Second {
			t.Fatalf("timeout sent %v for a 20s call", sent.Timeout)
		}
		// An explicit timeout is kept.
		withTimeout := dhcp
		withTimeout.Timeout = 3 * time.Second
		if _, err := c.ApplyNetwork(callCtx, withTimeout); err != nil {
			t.Fatal(err)
		}
		if sent := <-got; sent.Timeout != 3*time.Second {
			t.Fatalf("timeout sent %v, want 3s", sent.Timeout)
		}
		// Errors keep their message and sentinel across the wire.
		bad := proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: "02:00:00:00:00:09", Address: proto.AddressDHCP}}}
		if _, err := c.ApplyNetwork(callCtx, bad); !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "no DHCP offer on eth1") {
			t.Fatalf("err = %v", err)
		}
		<-got
		// The guest gives up a running exchange when the session ends.
		slow := proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: "02:00:00:00:00:0a", Address: proto.AddressDHCP}}}
		errc := make(chan error, 1)
		go func() { _, err := c.ApplyNetwork(callCtx, slow); errc <- err }()
		<-got
		c.Close()
		if err := <-errc; err == nil {
			t.Fatal("the call survived the session")
		}
		select {
		case <-canceled:
		case <-time.After(5 * time.Second):
			t.Fatal("the guest kept going after the session ended")
		}
	})
}
