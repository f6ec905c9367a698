package nethost

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

func basePlan() Plan {
	return Plan{ID: "n1", Name: "app", Subnet: "10.89.1.0/24", Gateway: "10.89.1.1",
		Blocked: []string{"10.89.2.0/24", "10.89.3.0/24"}}
}

func TestPlanValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Plan)
		want string // "" valid; else a piece of the message
	}{
		{"valid", func(p *Plan) {}, ""},
		{"host access defaults its address", func(p *Plan) { p.HostAccess = true }, ""},
		{"host access with an address", func(p *Plan) { p.HostAccess, p.HostIP = true, "10.89.1.200" }, ""},
		{"no id", func(p *Plan) { p.ID = "" }, "id and a name"},
		{"no name", func(p *Plan) { p.Name = "" }, "id and a name"},
		{"not a prefix", func(p *Plan) { p.Subnet = "10.89.1.0" }, "not an IPv4 prefix"},
		{"IPv6", func(p *Plan) { p.Subnet, p.Gateway = "fd00::/64", "fd00::1" }, "not an IPv4 prefix"},
		{"host bits", func(p *Plan) { p.Subnet = "10.89.1.7/24" }, "did you mean 10.89.1.0/24"},
		{"too small", func(p *Plan) { p.Subnet, p.Gateway = "10.89.1.0/30", "10.89.1.1" }, "between 8 and 29"},
		{"loopback", func(p *Plan) { p.Subnet, p.Gateway = "127.3.0.0/16", "127.3.0.1" }, "loopback"},
		{"this network", func(p *Plan) { p.Subnet, p.Gateway = "0.0.0.0/8", "0.0.0.1" }, "this network"},
		{"link-local", func(p *Plan) { p.Subnet, p.Gateway = "169.254.0.0/24", "169.254.0.1" }, "link-local"},
		{"multicast", func(p *Plan) { p.Subnet, p.Gateway = "239.0.0.0/24", "239.0.0.1" }, "multicast"},
		{"gateway outside", func(p *Plan) { p.Gateway = "10.89.2.1" }, "outside the subnet"},
		{"gateway is the network", func(p *Plan) { p.Gateway = "10.89.1.0" }, "network or broadcast"},
		{"gateway is broadcast", func(p *Plan) { p.Gateway = "10.89.1.255" }, "network or broadcast"},
		{"gateway garbage", func(p *Plan) { p.Gateway = "gw" }, "not an IPv4 address"},
		{"host address without access", func(p *Plan) { p.HostIP = "10.89.1.254" }, ""},
		{"bad host address without access", func(p *Plan) { p.HostIP = "10.1.1.1" }, "outside the subnet"},
		{"host address outside", func(p *Plan) { p.HostAccess, p.HostIP = true, "10.1.1.1" }, "outside the subnet"},
		{"host address is the gateway", func(p *Plan) { p.HostAccess, p.HostIP = true, "10.89.1.1" }, "both 10.89.1.1"},
		{"vmnet uplink", func(p *Plan) { p.Uplink = UplinkVmnet }, ""},
		{"TAP uplink", func(p *Plan) { p.Uplink = "tap:berth0" }, ""},
		{"uplink with an address", func(p *Plan) { p.Uplink, p.UplinkIP = UplinkVmnet, "10.89.1.100" }, ""},
		{"unknown uplink", func(p *Plan) { p.Uplink = "slirp" }, `uplink "slirp" is none of`},
		{"TAP uplink without a name", func(p *Plan) { p.Uplink = "tap:" }, "a TAP device's name"},
		{"TAP uplink with a path", func(p *Plan) { p.Uplink = "tap:../eth0" }, "a TAP device's name"},
		{"TAP uplink with a long name", func(p *Plan) { p.Uplink = "tap:sixteen-chars-xx" }, "a TAP device's name"},
		{"uplink address outside", func(p *Plan) { p.Uplink, p.UplinkIP = UplinkVmnet, "10.89.2.253" }, "outside the subnet"},
		{"uplink address is broadcast", func(p *Plan) { p.Uplink, p.UplinkIP = UplinkVmnet, "10.89.1.255" }, "network or broadcast"},
		{"uplink address is the gateway", func(p *Plan) { p.Uplink, p.UplinkIP = UplinkVmnet, "10.89.1.1" }, "the uplink address and the gateway are both"},
		{"uplink address is the host's", func(p *Plan) { p.Uplink, p.UplinkIP, p.HostAccess = UplinkVmnet, "10.89.1.254", true }, "the uplink address and the host address"},
		{"uplink address without an uplink", func(p *Plan) { p.UplinkIP = "10.89.1.253" }, ""},
		{"bad uplink address without an uplink", func(p *Plan) { p.UplinkIP = "10.89.7.253" }, "outside the subnet"},
		{"internal network with an uplink", func(p *Plan) { p.Uplink, p.Internal = UplinkVmnet, true }, ""},
		{"blocked garbage", func(p *Plan) { p.Blocked = []string{"x"} }, "blocked subnet"},
		{"blocked overlaps", func(p *Plan) { p.Blocked = []string{"10.89.0.0/16"} }, "overlaps the network's own"},
		{"MTU too small", func(p *Plan) { p.MTU = 100 }, "MTU 100"},
		{"MTU too big", func(p *Plan) { p.MTU = 70000 }, "MTU 70000"},
		{"bad domain", func(p *Plan) { p.DNSDomain = "berth_internal" }, "not a domain name"},
		{"domain with a dot at the end", func(p *Plan) { p.DNSDomain = "Example.test." }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := basePlan()
			tc.edit(&p)
			err := p.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `network "`) {
				t.Fatalf("Validate = %v; want an invalid argument naming the network and saying %q", err, tc.want)
			}
		})
	}
}

func TestPlanDefaults(t *testing.T) {
	p := basePlan()
	p.HostAccess = true
	p.DNSDomain = "Example.test."
	r, err := p.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if r.MTU != DefaultMTU || r.DNSDomain != "example.test" || r.HostIP != "10.89.1.254" || r.hostIP != netip.MustParseAddr("10.89.1.254") {
		t.Fatalf("defaults: MTU %d, domain %q, host %q", r.MTU, r.DNSDomain, r.HostIP)
	}
	p = basePlan()
	p.HostIP = "10.89.1.254" // ignored without host access
	if r, _ = p.resolve(); r.DNSDomain != DefaultDNSDomain || r.hostIP.IsValid() || r.HostIP != "" {
		t.Fatalf("without host access: domain %q, host %v %q", r.DNSDomain, r.hostIP, r.HostIP)
	}
}

// TestPlanUplink: the uplink's address defaults below the host's, and
// an internal network drops its uplink (no way out).
func TestPlanUplink(t *testing.T) {
	p := basePlan()
	p.Uplink = UplinkVmnet
	r, err := p.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if r.Uplink != UplinkVmnet || r.UplinkIP != "10.89.1.253" || r.uplinkIP != netip.MustParseAddr("10.89.1.253") {
		t.Fatalf("uplink %q at %q (%v)", r.Uplink, r.UplinkIP, r.uplinkIP)
	}
	if _, err := r.memberIP("address", "10.89.1.253"); err == nil || !strings.Contains(err.Error(), "uplink's far end") {
		t.Fatalf("a member at the uplink's address: %v", err)
	}
	p.Uplink, p.UplinkIP = "", "10.89.1.77" // checked, then ignored
	if r, err = p.resolve(); err != nil || r.Uplink != "" || r.UplinkIP != "" || r.uplinkIP.IsValid() {
		t.Fatalf("without an uplink: %q %q %v, %v", r.Uplink, r.UplinkIP, r.uplinkIP, err)
	}
	if _, err := r.memberIP("address", "10.89.1.253"); err != nil {
		t.Fatalf("without an uplink, its address is an address like any: %v", err)
	}
	p.Uplink, p.Internal = "tap:berth0", true
	if r, err = p.resolve(); err != nil || r.Uplink != "" || r.uplinkIP.IsValid() {
		t.Fatalf("an internal network kept its uplink: %q %v, %v", r.Uplink, r.uplinkIP, err)
	}
	for subnet, want := range map[string]string{"10.89.1.0/24": "10.89.1.253", "10.0.0.0/8": "10.255.255.253", "10.89.1.8/29": "10.89.1.13"} {
		if got := DefaultUplinkIP(netip.MustParsePrefix(subnet)); got.String() != want {
			t.Errorf("DefaultUplinkIP(%s) = %s; want %s", subnet, got, want)
		}
	}
}

func TestDefaultHostIP(t *testing.T) {
	for subnet, want := range map[string]string{
		"10.89.1.0/24":   "10.89.1.254",
		"10.89.0.0/16":   "10.89.255.254",
		"172.30.8.0/21":  "172.30.15.254",
		"192.168.7.0/29": "192.168.7.6",
		"10.0.0.0/8":     "10.255.255.254",
	} {
		if got := DefaultHostIP(netip.MustParsePrefix(subnet)); got.String() != want {
			t.Errorf("DefaultHostIP(%s) = %s; want %s", subnet, got, want)
		}
	}
}

func TestAttachmentCheck(t *testing.T) {
	p := basePlan()
	p.HostAccess = true
	r, err := p.resolve()
	if err != nil {
		t.Fatal(err)
	}
	good := Attachment{VM: "vm1", MAC: "52:54:00:AA:00:01", IP: "10.89.1.2", Socket: "/run/b/n1/vm1.sock", Peer: "/run/b/vm1/nic.sock"}
	a, err := good.check(r)
	if err != nil || a.MAC != "52:54:00:aa:00:01" {
		t.Fatalf("check = %+v, %v", a, err)
	}
	cases := []struct {
		name string
		edit func(*Attachment)
		want string
	}{
		{"no VM", func(a *Attachment) { a.VM = "" }, "no VM"},
		{"bad MAC", func(a *Attachment) { a.MAC = "52:54:00" }, "not an Ethernet address"},
		{"multicast MAC", func(a *Attachment) { a.MAC = "01:00:5e:00:00:01" }, "multicast"},
		{"gateway MAC", func(a *Attachment) { a.MAC = GatewayMAC }, "gateway's"},
		{"address outside", func(a *Attachment) { a.IP = "10.89.2.2" }, "outside"},
		{"the gateway's address", func(a *Attachment) { a.IP = "10.89.1.1" }, "gateway's"},
		{"the host's address", func(a *Attachment) { a.IP = "10.89.1.254" }, "stands for the host"},
		{"broadcast address", func(a *Attachment) { a.IP = "10.89.1.255" }, "broadcast"},
		{"relative socket", func(a *Attachment) { a.Socket = "vm1.sock" }, "not absolute"},
		{"long peer", func(a *Attachment) { a.Peer = "/" + strings.Repeat("x", 110) }, "longer than 103"},
		{"same ends", func(a *Attachment) { a.Peer = a.Socket + "/" }, "both"},
	}
	for _, tc := range cases {
		a := good
		tc.edit(&a)
		if _, err := a.check(r); !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: check = %v; want %q", tc.name, err, tc.want)
		}
	}
}

func TestForwardCheck(t *testing.T) {
	r, err := basePlan().resolve()
	if err != nil {
		t.Fatal(err)
	}
	f := Forward{Proto: "TCP", HostIP: "::ffff:127.0.0.1", HostPort: 8080, GuestIP: "10.89.1.2", GuestPort: 80}
	got, err := f.check(r, false)
	if err != nil || got.Proto != "tcp" || got.HostIP != "127.0.0.1" {
		t.Fatalf("check = %+v, %v", got, err)
	}
	if s := got.String(); s != "127.0.0.1:8080/tcp -> 10.89.1.2:80" {
		t.Errorf("String = %q", s)
	}
	if s := (ForwardKey{"udp", "::1", 53}).String(); s != "[::1]:53/udp" {
		t.Errorf("String = %q", s)
	}
	cases := []struct {
		name     string
		edit     func(*Forward)
		zeroPort bool
		want     string
	}{
		{"sctp", func(f *Forward) { f.Proto = "sctp" }, false, "neither tcp nor udp"},
		{"bad host address", func(f *Forward) { f.HostIP = "localhost" }, false, "not an IP address"},
		{"no host port in a state", func(f *Forward) { f.HostPort = 0 }, false, "no host port"},
		{"guest outside", func(f *Forward) { f.GuestIP = "10.89.3.2" }, false, "outside"},
		{"no guest port", func(f *Forward) { f.GuestPort = 0 }, true, "no container port"},
	}
	for _, tc := range cases {
		f := f
		tc.edit(&f)
		if _, err := f.check(r, tc.zeroPort); !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: check = %v; want %q", tc.name, err, tc.want)
		}
	}
	f.HostPort = 0
	if _, err := f.check(r, true); err != nil {
		t.Errorf("HostPort 0 in Expose: %v", err)
	}
	p := basePlan()
	p.Internal = true
	ri, _ := p.resolve()
	if _, err := (Forward{Proto: "tcp", HostPort: 1, GuestIP: "10.89.1.2", GuestPort: 1}).check(ri, false); err == nil || !strings.Contains(err.Error(), "internal") {
		t.Errorf("publishing on an internal network: %v", err)
	}
}

func TestRecordsAndStateCheck(t *testing.T) {
	r, err := basePlan().resolve()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := checkRecords(r, []Record{{"Web", "10.89.1.3"}, {"db", "10.89.1.2"}, {"web", "10.89.1.3"}, {"web", "10.89.1.4"}, {"my_app.v2", "10.89.1.5"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{{"db", "10.89.1.2"}, {"my_app.v2", "10.89.1.5"}, {"web", "10.89.1.3"}, {"web", "10.89.1.4"}}
	if len(rs) != len(want) {
		t.Fatalf("records = %v; want %v", rs, want)
	}
	for i := range want {
		if rs[i] != want[i] {
			t.Fatalf("records = %v; want %v", rs, want)
		}
	}
	for _, bad := range []Record{{"-x", "10.89.1.2"}, {"a b", "10.89.1.2"}, {"", "10.89.1.2"}, {"x", "10.89.2.2"}, {"x", "10.89.1.1"}} {
		if _, err := checkRecords(r, []Record{bad}); !errors.Is(err, api.ErrInvalidArgument) {
			t.Errorf("record %+v: %v", bad, err)
		}
	}
	a1 := Attachment{VM: "vm1", MAC: "52:54:00:00:00:01", IP: "10.89.1.2", Socket: "/r/1.sock", Peer: "/v/1.sock"}
	a2 := Attachment{VM: "vm2", MAC: "52:54:00:00:00:02", IP: "10.89.1.3", Socket: "/r/2.sock", Peer: "/v/2.sock"}
	f1 := Forward{Proto: "tcp", HostIP: "127.0.0.1", HostPort: 8080, GuestIP: "10.89.1.2", GuestPort: 80}
	if _, err := (State{Attachments: []Attachment{a1, a2}, Forwards: []Forward{f1}}).check(r); err != nil {
		t.Fatal(err)
	}
	dupIP := a2
	dupIP.IP = a1.IP
	dupSock := a2
	dupSock.Peer = a1.Socket
	f2 := f1
	f2.GuestPort = 81
	for name, s := range map[string]State{
		"same VM twice":      {Attachments: []Attachment{a1, a1}},
		"same address twice": {Attachments: []Attachment{a1, dupIP}},
		"a socket twice":     {Attachments: []Attachment{a1, dupSock}},
		"a port twice":       {Forwards: []Forward{f1, f2}},
		"a port of zero":     {Forwards: []Forward{{Proto: "tcp", GuestIP: "10.89.1.2", GuestPort: 80}}},
	} {
		if _, err := s.check(r); !errors.Is(err, api.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
