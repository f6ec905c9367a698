package network

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/network/nethost"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestSubnets(t *testing.T) {
	used := []netip.Prefix{pfx("10.89.0.0/24"), pfx("10.89.1.0/24")}
	host := []netip.Prefix{pfx("10.89.2.0/23"), pfx("192.168.1.0/24")}
	got, err := ChooseSubnet(used, host)
	if err != nil || got != pfx("10.89.4.0/24") {
		t.Fatalf("ChooseSubnet = %v, %v; want 10.89.4.0/24 (0,1 taken, 2-3 the host's)", got, err)
	}
	for _, tc := range []struct {
		subnet string
		err    string
		is     error
	}{
		{"172.30.0.0/16", "", nil},
		{"10.89.0.128/25", "overlaps network subnet 10.89.0.0/24", api.ErrConflict},
		{"192.168.1.0/28", "overlaps this host's network 192.168.1.0/24", api.ErrConflict},
		{"fd00::/64", "only IPv4", api.ErrInvalidArgument},
		{"10.0.0.0/8", "must be /16 to /29", api.ErrInvalidArgument},
		{"10.99.0.0/30", "must be /16 to /29", api.ErrInvalidArgument},
	} {
		err := CheckSubnet(pfx(tc.subnet), used, host)
		if (tc.err == "") != (err == nil) || err != nil && (!strings.Contains(err.Error(), tc.err) || !errors.Is(err, tc.is)) {
			t.Errorf("CheckSubnet(%s) = %v, want %q", tc.subnet, err, tc.err)
		}
	}
}

func TestAddresses(t *testing.T) {
	p := pfx("10.89.3.0/24")
	if Gateway(p) != netip.MustParseAddr("10.89.3.1") || HostGateway(p) != netip.MustParseAddr("10.89.3.254") ||
		UplinkAddress(p) != netip.MustParseAddr("10.89.3.253") {
		t.Fatalf("gateway %s, host gateway %s, uplink %s", Gateway(p), HostGateway(p), UplinkAddress(p))
	}
	// The core's addresses are nethost's defaults.
	if HostGateway(p) != nethost.DefaultHostIP(p) || UplinkAddress(p) != nethost.DefaultUplinkIP(p) {
		t.Fatalf("nethost's host %s and uplink %s", nethost.DefaultHostIP(p), nethost.DefaultUplinkIP(p))
	}
	used := map[netip.Addr]bool{netip.MustParseAddr("10.89.3.2"): true}
	if a, err := Allocate(p, used); err != nil || a != netip.MustParseAddr("10.89.3.3") {
		t.Fatalf("Allocate = %v, %v", a, err)
	}
	// A /24 gives .2 to .252: never the uplink's .253, the host's .254.
	full := map[netip.Addr]bool{}
	for i := 0; i < 251; i++ {
		a, err := Allocate(p, full)
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		full[a] = true
	}
	if a, err := Allocate(p, full); !errors.Is(err, api.ErrUnavailable) || full[UplinkAddress(p)] || full[HostGateway(p)] || !full[netip.MustParseAddr("10.89.3.252")] {
		t.Fatalf("a full /24 gave %v, %v", a, err)
	}
	small := pfx("10.89.9.0/29") // .1 gateway, .2-.4 members, .5 uplink, .6 host gateway, .7 broadcast
	full = map[netip.Addr]bool{}
	for i := 0; i < 3; i++ {
		a, err := Allocate(small, full)
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		full[a] = true
	}
	if a, err := Allocate(small, full); !errors.Is(err, api.ErrUnavailable) || full[netip.MustParseAddr("10.89.9.5")] {
		t.Fatalf("a full subnet gave %v, %v (members %v)", a, err, full)
	}
	if m := MAC("c1", "n1"); m != MAC("c1", "n1") || m == MAC("c1", "n2") || !strings.HasPrefix(m, "02:") {
		t.Fatalf("MAC %s not stable, distinct and local", m)
	}
}
