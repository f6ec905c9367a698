package nethost

import (
	"net/netip"
	"slices"
	"testing"
)

// From a real /proc/net/tcp and tcp6 (trimmed to the columns parsed).
const procNetTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4711 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4712 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 4713 1 0000000000000000 20 4 30 10 -1
   3: 0202000A:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 0 1 0000000000000000 100 0 0 10 0
garbage line
`

const procNetTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5002 1 0000000000000000 100 0 0 10 0
`

func TestParseProcNet(t *testing.T) {
	socks := parseProcNet(procNetTCP)
	if len(socks) != 4 {
		t.Fatalf("parsed %d sockets: %+v", len(socks), socks)
	}
	if s := socks[0]; s.Local != netip.MustParseAddrPort("127.0.0.1:8080") || s.State != tcpListen || s.Inode != 4711 {
		t.Errorf("first socket %+v", s)
	}
	if s := socks[3]; s.Local != netip.MustParseAddrPort("10.0.2.2:80") {
		t.Errorf("fourth socket %+v", s)
	}
	socks6 := parseProcNet(procNetTCP6)
	if len(socks6) != 2 || socks6[0].Local != netip.MustParseAddrPort("[::]:8081") || socks6[1].Local != netip.MustParseAddrPort("[::1]:53") {
		t.Fatalf("tcp6: %+v", socks6)
	}
	all := append(socks, socks6...)
	cases := []struct {
		proto, host string
		port        uint16
		want        []uint64
	}{
		{"tcp", "127.0.0.1", 8080, []uint64{4711}}, // the listener, not the connection
		{"tcp", "", 8080, []uint64{4711}},
		{"tcp", "0.0.0.0", 8080, []uint64{4711}},
		{"tcp", "10.0.0.5", 8080, nil},
		{"tcp", "127.0.0.1", 22, []uint64{4712}}, // held by the wildcard
		{"tcp", "127.0.0.1", 8081, []uint64{5001}},
		{"tcp", "::1", 53, []uint64{5002}},
		{"tcp", "127.0.0.1", 53, nil},
		{"tcp", "10.0.2.2", 80, nil},                     // inode 0: a socket no process holds
		{"udp", "127.0.0.1", 8080, []uint64{4711, 4713}}, // UDP: any state
	}
	for _, tc := range cases {
		if got := holdingInodes(all, tc.proto, tc.host, tc.port); !slices.Equal(got, tc.want) {
			t.Errorf("holdingInodes(%s %s:%d) = %v; want %v", tc.proto, tc.host, tc.port, got, tc.want)
		}
	}
}

func TestSocketInode(t *testing.T) {
	if n, ok := socketInode("socket:[4711]"); !ok || n != 4711 {
		t.Errorf("socketInode = %d, %v", n, ok)
	}
	for _, s := range []string{"pipe:[4711]", "/dev/null", "socket:[x]", "socket:[12"} {
		if _, ok := socketInode(s); ok {
			t.Errorf("socketInode(%q) ok", s)
		}
	}
}

func TestOverlaps(t *testing.T) {
	k := func(ip string, port uint16) ForwardKey { return ForwardKey{"tcp", ip, port} }
	cases := []struct {
		a, b ForwardKey
		want bool
	}{
		{k("127.0.0.1", 80), k("127.0.0.1", 80), true},
		{k("127.0.0.1", 80), k("127.0.0.2", 80), false},
		{k("127.0.0.1", 80), k("", 80), true},
		{k("0.0.0.0", 80), k("192.0.2.2", 80), true},
		{k("::", 80), k("::1", 80), true},
		{k("127.0.0.1", 80), k("127.0.0.1", 81), false},
		{k("127.0.0.1", 80), ForwardKey{"udp", "127.0.0.1", 80}, false},
	}
	for _, tc := range cases {
		if got := overlaps(tc.a, tc.b); got != tc.want {
			t.Errorf("overlaps(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}
