package runtime

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/hypervisor/vz"
	"github.com/berthvm/berth/core/network"
	"github.com/berthvm/berth/core/state"
)

func netRecord() state.ContainerRecord {
	var rec state.ContainerRecord
	rec.ID = "0123456789abcdef0123"
	rec.MAC = "02:aa:bb:cc:dd:ee"
	return rec
}

func natNIC(rec state.ContainerRecord) []hypervisor.Network {
	return []hypervisor.Network{{Mode: hypervisor.NetworkNAT, MAC: rec.MAC}}
}

// On Berth's networks the guest is told the core's addresses, whatever
// the backend: no DHCP on the boot path.
func TestGuestNetworkOnBerthNetworks(t *testing.T) {
	rec := netRecord()
	rec.Networks = []api.ContainerNetwork{
		{Network: "app", IP: "10.89.1.2", Prefix: 24, Gateway: "10.89.1.1", MAC: "02:00:00:00:00:01"},
		{Network: "db", IP: "10.89.2.7", Prefix: 24, Gateway: "10.89.2.1", MAC: "02:00:00:00:00:02"},
	}
	sockets := []hypervisor.Network{{Mode: hypervisor.NetworkSocket, MTU: 9000}, {Mode: hypervisor.NetworkSocket, MTU: 1500}}
	want := proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: "02:00:00:00:00:01", Address: "10.89.1.2/24", MTU: 9000},
		{MAC: "02:00:00:00:00:02", Address: "10.89.2.7/24", MTU: 1500}}, Gateway: "10.89.1.1"}
	for _, addressing := range []hypervisor.Addressing{hypervisor.AddressStatic, hypervisor.AddressDHCP} {
		if got := guestNetwork(rec, sockets, addressing); !reflect.DeepEqual(got, want) {
			t.Fatalf("%v: got %+v, want %+v", addressing, got, want)
		}
	}
	told := network.Guest{DNS: []string{"10.89.1.1"}, Search: []string{network.Domain}, Hosts: [][2]string{{"10.89.1.254", "host.docker.internal"}}}
	a, err := addrsFor(rec, want, proto.NetworkStatus{}, told)
	if err != nil || !reflect.DeepEqual(a, guestAddrs{IP: "10.89.1.2", DNS: told.DNS, Search: told.Search, Hosts: told.Hosts}) {
		t.Fatalf("addrsFor = %+v, %v", a, err)
	}
	rec.Spec.Hostname = "web"
	cc := guestContainer(rec, a, nil)
	if !reflect.DeepEqual(cc.Hosts, []proto.HostEntry{{IP: "10.89.1.2", Names: []string{"web"}}, {IP: "10.89.1.254", Names: []string{"host.docker.internal"}}}) {
		t.Fatalf("hosts %+v", cc.Hosts)
	}

	// --network none: no NIC, loopback only, the image's resolver.
	if got := guestNetwork(rec, nil, hypervisor.AddressDHCP); len(got.Interfaces) != 0 || got.Gateway != "" {
		t.Fatalf("no NIC: %+v", got)
	}
	a, err = addrsFor(rec, proto.NetworkConfig{}, proto.NetworkStatus{}, network.Guest{})
	if cc := guestContainer(rec, a, nil); err != nil || len(cc.Hosts) != 0 || cc.DNS != nil {
		t.Fatalf("no NIC: %+v, %v", cc, err)
	}
}

func TestGuestNetworkPerBackend(t *testing.T) {
	rec := netRecord()
	static := proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: rec.MAC, Address: "10.0.2.15/24"}}, Gateway: "10.0.2.2"}
	dhcp := proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: rec.MAC, Address: proto.AddressDHCP}}, Timeout: 10 * time.Second}
	for _, c := range []struct {
		name string
		info hypervisor.Info
		want proto.NetworkConfig
	}{
		{"qemu", qemu.Info(), static},                      // slirp: fixed addresses, no DHCP round trip
		{"vz", vz.Info(), dhcp},                            // vmnet: addresses only by DHCP
		{"undeclared", hypervisor.Info{Name: "x"}, static}, // a backend that declares nothing
	} {
		t.Run(c.name, func(t *testing.T) {
			got := guestNetwork(rec, natNIC(rec), c.info.Addressing)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestAddrsFor(t *testing.T) {
	rec := netRecord()
	static := guestNetwork(rec, natNIC(rec), hypervisor.AddressStatic)
	dhcp := guestNetwork(rec, natNIC(rec), hypervisor.AddressDHCP)
	lease := func(addr, router string, dns, search []string) proto.NetworkStatus {
		return proto.NetworkStatus{
			Interfaces: []proto.InterfaceStatus{{MAC: strings.ToUpper(rec.MAC), Name: "eth0", Address: addr,
				Lease: &proto.Lease{Server: router, Router: router, DNS: dns, Duration: 24 * time.Hour}}},
			Gateway: router, DNS: dns, Search: search,
		}
	}
	cases := []struct {
		name    string
		nc      proto.NetworkConfig
		st      proto.NetworkStatus
		want    guestAddrs
		wantErr error
		errText string
	}{
		{"static ignores an empty reply (older agent)", static, proto.NetworkStatus{},
			guestAddrs{IP: "10.0.2.15", DNS: []string{"10.0.2.3"}}, nil, ""},
		{"static ignores whatever the reply says", static, lease("192.168.64.9/24", "192.168.64.1", nil, nil),
			guestAddrs{IP: "10.0.2.15", DNS: []string{"10.0.2.3"}}, nil, ""},
		{"vmnet lease", dhcp, lease("192.168.64.9/24", "192.168.64.1", []string{"192.168.64.1"}, []string{"lan"}),
			guestAddrs{IP: "192.168.64.9", DNS: []string{"192.168.64.1"}, Search: []string{"lan"}}, nil, ""},
		{"slirp lease", dhcp, lease("10.0.2.15/24", "10.0.2.2", []string{"10.0.2.3"}, nil),
			guestAddrs{IP: "10.0.2.15", DNS: []string{"10.0.2.3"}}, nil, ""},
		{"no DNS in the lease: the router", dhcp, lease("192.168.64.9/24", "192.168.64.1", nil, nil),
			guestAddrs{IP: "192.168.64.9", DNS: []string{"192.168.64.1"}}, nil, ""},
		{"no DNS, no router: keep the image's", dhcp, lease("192.168.64.9/24", "", nil, nil),
			guestAddrs{IP: "192.168.64.9"}, nil, ""},
		{"no lease in the reply", dhcp, proto.NetworkStatus{}, guestAddrs{}, api.ErrUnavailable,
			"no DHCP lease for its NIC (MAC 02:aa:bb:cc:dd:ee)"},
		{"lease for another NIC", dhcp, func() proto.NetworkStatus {
			st := lease("192.168.64.9/24", "192.168.64.1", nil, nil)
			st.Interfaces[0].MAC = "02:00:00:00:00:01"
			return st
		}(), guestAddrs{}, api.ErrUnavailable, "no DHCP lease"},
		{"garbled address", dhcp, lease("192.168.64.9", "192.168.64.1", nil, nil), guestAddrs{}, api.ErrCorrupt,
			`reported address "192.168.64.9"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := addrsFor(rec, c.nc, c.st, network.Guest{})
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) || !strings.Contains(err.Error(), c.errText) {
					t.Fatalf("err = %v, want %v with %q", err, c.wantErr, c.errText)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestGuestContainerNetwork(t *testing.T) {
	rec := netRecord()
	rec.Spec.Hostname = "web"
	// The static case is what it always was.
	a, _ := addrsFor(rec, guestNetwork(rec, natNIC(rec), hypervisor.AddressStatic), proto.NetworkStatus{}, network.Guest{})
	cc := guestContainer(rec, a, nil)
	want := proto.ContainerConfig{ID: rec.ID, Base: proto.Device{Serial: diskBase}, Upper: proto.Device{Serial: diskUpper},
		Hostname: "web", Hosts: []proto.HostEntry{{IP: "10.0.2.15", Names: []string{"web"}}},
		DNS: &proto.DNS{Servers: []string{"10.0.2.3"}}}
	if !reflect.DeepEqual(cc, want) {
		t.Fatalf("static: %+v, want %+v", cc, want)
	}
	cc = guestContainer(rec, guestAddrs{IP: "192.168.64.9", DNS: []string{"192.168.64.1"}, Search: []string{"lan"}}, nil)
	if cc.Hosts[0].IP != "192.168.64.9" || !reflect.DeepEqual(cc.DNS, &proto.DNS{Servers: []string{"192.168.64.1"}, Search: []string{"lan"}}) {
		t.Fatalf("DHCP: %+v %+v", cc.Hosts, cc.DNS)
	}
	if cc = guestContainer(rec, guestAddrs{IP: "192.168.64.9"}, nil); cc.DNS != nil {
		t.Fatalf("no DNS servers must keep the image's resolv.conf, got %+v", cc.DNS)
	}
}
