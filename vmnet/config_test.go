package vmnet

import (
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/berthvm/berth/core/api"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestConfigFor(t *testing.T) {
	mac, _ := net.ParseMAC("52:54:00:12:34:56")
	for _, tc := range []struct {
		prefix, start, end, mask string
	}{
		{"192.168.105.0/24", "192.168.105.1", "192.168.105.254", "255.255.255.0"},
		{"192.168.105.77/24", "192.168.105.1", "192.168.105.254", "255.255.255.0"}, // masked first
		{"10.77.0.0/16", "10.77.0.1", "10.77.255.254", "255.255.0.0"},
		{"172.16.4.0/22", "172.16.4.1", "172.16.7.254", "255.255.252.0"},
		{"192.168.9.8/30", "192.168.9.9", "192.168.9.10", "255.255.255.252"},
	} {
		c, err := ConfigFor(Shared, netip.MustParsePrefix(tc.prefix), mac)
		if err != nil {
			t.Fatalf("%s: %v", tc.prefix, err)
		}
		if c.StartAddress != addr(tc.start) || c.EndAddress != addr(tc.end) || c.SubnetMask != addr(tc.mask) || c.Mode != Shared || c.MAC.String() != mac.String() {
			t.Fatalf("%s: %+v; want %s-%s mask %s", tc.prefix, c, tc.start, tc.end, tc.mask)
		}
		if err := c.check(); err != nil {
			t.Fatalf("%s: ConfigFor's own config fails its check: %v", tc.prefix, err)
		}
	}
	for _, p := range []string{"192.168.9.8/31", "fd00::/64"} {
		if _, err := ConfigFor(Host, netip.MustParsePrefix(p), nil); !errors.Is(err, api.ErrInvalidArgument) {
			t.Fatalf("ConfigFor(%s) = %v", p, err)
		}
	}
}

func TestConfigAt(t *testing.T) {
	for _, tc := range []struct {
		prefix, start, end, mask string
	}{
		// A Berth network's uplink: the bridge at .253, vmnet's pool .254.
		{"10.89.0.0/24", "10.89.0.253", "10.89.0.254", "255.255.255.0"},
		{"10.89.0.0/29", "10.89.0.5", "10.89.0.6", "255.255.255.248"},
		{"172.20.0.0/16", "172.20.255.253", "172.20.255.254", "255.255.0.0"},
		{"192.168.105.0/24", "192.168.105.1", "192.168.105.254", "255.255.255.0"}, // ConfigFor's
	} {
		c, err := ConfigAt(Shared, netip.MustParsePrefix(tc.prefix), addr(tc.start), nil)
		if err != nil {
			t.Fatalf("%s at %s: %v", tc.prefix, tc.start, err)
		}
		if c.StartAddress != addr(tc.start) || c.EndAddress != addr(tc.end) || c.SubnetMask != addr(tc.mask) || c.Mode != Shared || c.MAC != nil {
			t.Fatalf("%s at %s: %+v; want %s-%s mask %s", tc.prefix, tc.start, c, tc.start, tc.end, tc.mask)
		}
		if err := c.check(); err != nil {
			t.Fatalf("%s at %s: ConfigAt's own config fails its check: %v", tc.prefix, tc.start, err)
		}
	}
	for _, tc := range []struct{ prefix, start string }{
		{"10.89.0.0/24", "10.89.0.254"}, // no room after it
		{"10.89.0.0/24", "10.89.0.255"}, // broadcast
		{"10.89.0.0/24", "10.89.0.0"},   // network
		{"10.89.0.0/24", "10.89.1.253"}, // outside
		{"10.89.0.0/24", "fd00::1"},
		{"10.89.0.0/31", "10.89.0.1"},
	} {
		if _, err := ConfigAt(Shared, netip.MustParsePrefix(tc.prefix), addr(tc.start), nil); !errors.Is(err, api.ErrInvalidArgument) {
			t.Errorf("ConfigAt(%s, %s) = %v", tc.prefix, tc.start, err)
		}
	}
}

func TestConfigEntries(t *testing.T) {
	mac, _ := net.ParseMAC("52:54:00:12:34:56")
	good := Config{Mode: Shared, StartAddress: addr("192.168.105.1"), EndAddress: addr("192.168.105.254"), SubnetMask: addr("255.255.255.0"), MAC: mac}
	with := func(f func(*Config)) Config { c := good; f(&c); return c }
	for _, tc := range []struct {
		name string
		cfg  Config
		want []xpcEntry
		err  string
	}{
		{"shared, a range and a MAC", good, []xpcEntry{
			{Key: keyOperationMode, Kind: xpcUint64, Uint: 1001},
			{Key: keyStartAddress, Kind: xpcString, Str: "192.168.105.1"},
			{Key: keyEndAddress, Kind: xpcString, Str: "192.168.105.254"},
			{Key: keySubnetMask, Kind: xpcString, Str: "255.255.255.0"},
			{Key: keyAllocateMAC, Kind: xpcBool, Bool: false},
		}, ""},
		{"host, vmnet's range, vmnet's MAC", Config{Mode: Host}, []xpcEntry{{Key: keyOperationMode, Kind: xpcUint64, Uint: 1000}}, ""},
		{"bridged", with(func(c *Config) { c.Mode = 1002 }), nil, "only host and shared"},
		{"no mode", with(func(c *Config) { c.Mode = 0 }), nil, "only host and shared"},
		{"a partial range", with(func(c *Config) { c.SubnetMask = netip.Addr{} }), nil, "together"},
		{"IPv6", with(func(c *Config) { c.StartAddress = addr("fd00::1") }), nil, "IPv4 only"},
		{"a bad mask", with(func(c *Config) { c.SubnetMask = addr("255.0.255.0") }), nil, "not a valid mask"},
		{"a /31", with(func(c *Config) { c.SubnetMask = addr("255.255.255.254") }), nil, "no room"},
		{"public", with(func(c *Config) { c.StartAddress, c.EndAddress = addr("8.8.8.1"), addr("8.8.8.9") }), nil, "RFC 1918"},
		{"two subnets", with(func(c *Config) { c.EndAddress = addr("192.168.106.9") }), nil, "one subnet"},
		{"backwards", with(func(c *Config) { c.StartAddress, c.EndAddress = addr("192.168.105.9"), addr("192.168.105.2") }), nil, "before the end"},
		{"the network address", with(func(c *Config) { c.StartAddress = addr("192.168.105.0") }), nil, "network or broadcast"},
		{"the broadcast address", with(func(c *Config) { c.EndAddress = addr("192.168.105.255") }), nil, "network or broadcast"},
		{"a short MAC", with(func(c *Config) { c.MAC = mac[:5] }), nil, "6 bytes"},
		{"a multicast MAC", with(func(c *Config) { c.MAC = net.HardwareAddr{1, 0, 0x5e, 0, 0, 1} }), nil, "multicast"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.entries()
			if tc.err != "" {
				if !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("entries = %v, want an invalid argument saying %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("entries = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	// vmnet_darwin.c numbers its keys as xpcKey does.
	for k, name := range map[xpcKey]string{keyOperationMode: "vmnet_operation_mode_key", keyStartAddress: "vmnet_start_address_key",
		keyEndAddress: "vmnet_end_address_key", keySubnetMask: "vmnet_subnet_mask_key", keyAllocateMAC: "vmnet_allocate_mac_address_key"} {
		if k.String() != name {
			t.Errorf("key %d is %s, want %s", int(k), k, name)
		}
	}
}

func TestBatchSize(t *testing.T) {
	for _, tc := range []struct {
		p    Params
		want int
	}{
		{Params{MaxPacketSize: 1514}, 128},                                              // before macOS 15: no limit reported
		{Params{MaxPacketSize: 1514, ReadMaxPackets: 256}, 128},                         // macOS 26.4's report
		{Params{MaxPacketSize: 1514, ReadMaxPackets: 200}, 128},                         // the old documented limit
		{Params{MaxPacketSize: 1514, ReadMaxPackets: 32}, 32},                           // a smaller limit wins
		{Params{MaxPacketSize: 65550}, 16},                                              // TSO
		{Params{MaxPacketSize: 65550, ReadMaxPackets: 8}, 8},                            // TSO, smaller limit
		{Params{MaxPacketSize: 65535}, 128},                                             // just under 64 KiB
		{Params{MaxPacketSize: 1514, ReadMaxPackets: 1, WriteMaxPackets: 1}, 1},         // the least
		{Params{MaxPacketSize: 9014, ReadMaxPackets: 1 << 40, WriteMaxPackets: 0}, 128}, // absurd limits change nothing
	} {
		if got := batchSize(tc.p); got != tc.want {
			t.Errorf("batchSize(%+v) = %d, want %d", tc.p, got, tc.want)
		}
	}
}

func TestParamsCheck(t *testing.T) {
	for _, n := range []uint64{0, 13, 1<<20 + 1} {
		if err := (Params{MaxPacketSize: n}).check(); !errors.Is(err, api.ErrUnsupported) {
			t.Errorf("max packet size %d: %v", n, err)
		}
	}
	if err := (Params{MaxPacketSize: 1514}).check(); err != nil {
		t.Error(err)
	}
}

func TestDescriptors(t *testing.T) {
	// The layout vmnet_darwin.c's struct berth_pkt asserts.
	var d pktDesc
	if unsafe.Sizeof(d) != 24 || unsafe.Offsetof(d.IovLen) != 8 || unsafe.Offsetof(d.IovCnt) != 16 || unsafe.Offsetof(d.Flags) != 20 {
		t.Fatalf("pktDesc layout: size %d, offsets %d %d %d", unsafe.Sizeof(d), unsafe.Offsetof(d.IovLen), unsafe.Offsetof(d.IovCnt), unsafe.Offsetof(d.Flags))
	}
	// After a read vmnet has shrunk sizes and may have set flags; a
	// reset restores every field of every descriptor.
	ds := []pktDesc{{Size: 60, IovLen: 1514, IovCnt: 1, Flags: 7}, {Size: 0, IovLen: 3, IovCnt: 0, Flags: 1}, {}}
	resetForRead(ds, 1514)
	for i, d := range ds {
		if d != (pktDesc{Size: 1514, IovLen: 1514, IovCnt: 1}) {
			t.Fatalf("descriptor %d after reset: %+v", i, d)
		}
	}
	if w := forWrite(42); w != (pktDesc{Size: 42, IovLen: 42, IovCnt: 1}) {
		t.Fatalf("forWrite(42) = %+v", w)
	}
}

func TestPadFrame(t *testing.T) {
	var buf [vmnetMinFrame]byte
	for _, n := range []int{0, 4, 14, 42, 60, 63, 64, 65, 1514} {
		f := testFrame(max(n, 14), uint32(n))[:n]
		buf = [vmnetMinFrame]byte{0: 0xff, 63: 0xff} // stale bytes must not leak into the padding
		got := padFrame(f, &buf)
		if len(got) != max(n, vmnetMinFrame) || string(got[:n]) != string(f) {
			t.Fatalf("%d bytes padded to %d: the frame changed", n, len(got))
		}
		for i := n; i < len(got); i++ {
			if got[i] != 0 {
				t.Fatalf("%d bytes: padding byte %d is %#x", n, i, got[i])
			}
		}
	}
}

func TestStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		op    Op
		s     Status
		is    []error
		isNot []error
		says  string
	}{
		{OpStart, StatusInvalidAccess, []error{api.ErrUnsupported}, []error{api.ErrInvalidArgument}, "vmnet needs root, or macOS 26 and a program signed with the virtualization entitlement"},
		{OpStart, StatusInvalidArgument, []error{api.ErrInvalidArgument}, []error{ErrFrameRefused}, "range must be private"},
		{OpStart, StatusSharingServiceBusy, []error{api.ErrUnavailable}, nil, "try again"},
		{OpStart, statusNoAnswer, []error{api.ErrUnavailable}, nil, "did not answer"},
		{OpStart, StatusMemFailure, []error{api.ErrUnavailable}, nil, "out of memory"},
		{OpWrite, StatusBufferExhausted, []error{ErrBufferFull}, []error{api.ErrUnavailable}, "buffers are full"},
		{OpWrite, StatusPacketTooBig, []error{ErrFrameTooLarge}, nil, "max packet size"},
		{OpWrite, StatusInvalidArgument, []error{ErrFrameRefused}, []error{api.ErrInvalidArgument}, "refused the frame"},
		{OpRead, StatusInvalidArgument, nil, []error{ErrFrameRefused, api.ErrInvalidArgument}, "refused an argument"},
		{OpRead, StatusFailure, []error{api.ErrUnavailable}, []error{ErrBufferFull}, "vmnet failed"},
		{OpStop, 1010, nil, []error{api.ErrUnavailable, ErrBufferFull}, "status 1010"},
	} {
		err := statusError(tc.op, tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.HasPrefix(err.Error(), "vmnet: "+string(tc.op)+": ") {
			t.Errorf("%s %d: %v, want it to say %q", tc.op, tc.s, err, tc.says)
		}
		for _, target := range tc.is {
			if !errors.Is(err, target) {
				t.Errorf("%v is not %v", err, target)
			}
		}
		for _, target := range tc.isNot {
			if errors.Is(err, target) {
				t.Errorf("%v is %v", err, target)
			}
		}
	}
	if err := statusError(OpRead, StatusSuccess); err != nil {
		t.Errorf("success is %v", err)
	}
	// Pump's reading of them.
	for s, want := range map[Status]writeOutcome{StatusBufferExhausted: retryLater, StatusPacketTooBig: dropTooLarge,
		StatusInvalidArgument: dropRefused, StatusTooManyPackets: dropRefused, StatusFailure: portGone, StatusSetupIncomplete: portGone} {
		if got := classifyWrite(statusError(OpWrite, s)); got != want {
			t.Errorf("a write's %s: outcome %d, want %d", s.name(), got, want)
		}
	}
}

func TestAvailable(t *testing.T) {
	for _, tc := range []struct {
		major int
		root  bool
		ok    bool
		says  string
	}{
		{26, false, true, "without root"},
		{27, false, true, "without root"},
		{16, false, true, "without root"}, // macOS 26 as an older SDK reports it
		{15, false, false, "needs root"},
		{15, true, true, "running as root"},
		{13, true, true, "running as root"},
		{13, false, false, "com.apple.vm.networking"},
		{12, true, false, "older than Berth's minimum"},
		{0, true, false, "unknown"},
	} {
		ok, why := Available(tc.major, tc.root)
		if ok != tc.ok || !strings.Contains(why, tc.says) {
			t.Errorf("Available(%d, %v) = %v, %q; want %v and %q", tc.major, tc.root, ok, why, tc.ok, tc.says)
		}
	}
}
