package daemon

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/network"
	"github.com/berthvm/berth/core/runtime"
	"github.com/berthvm/berth/core/volume"
)

// requestTypes are the bodies of Berth's main API calls, by kind.
var requestTypes = []func() any{
	func() any { return new(api.ContainerSpec) },         // POST /v1/containers
	func() any { return new(api.ExecSpec) },              // POST /v1/containers/{id}/exec
	func() any { return new(api.NetworkCreateRequest) },  // POST /v1/networks
	func() any { return new(api.VolumeCreateRequest) },   // POST /v1/volumes
	func() any { return new(api.ContainerUpdate) },       // POST /v1/containers/{id}/update
	func() any { return new(api.NetworkConnectRequest) }, // POST /v1/networks/{id}/connect
}

// FuzzRequestBody decodes any body as each of Berth's main requests (as
// the handlers do, unknown fields refused) and validates it as the
// runtime, the network manager and the volume manager do before acting.
// A body that fails is an invalid argument (a 400, never a 500); one that
// decodes encodes, as the client would send it, to a body that decodes
// to the same; a container spec that passes CheckSpec gets resources the
// host has; a subnet that passes CheckSubnet has its gateway, host
// gateway, uplink address and members inside it, all distinct.
func FuzzRequestBody(f *testing.F) {
	for kind, b := range []string{
		`{"name":"web","image":"alpine","cmd":["sh"],"env":["A=b"],"ports":[{"hostPort":8080,"containerPort":80,"proto":"tcp"}],` +
			`"mounts":[{"type":"tmpfs","target":"/t"}],"memoryMiB":512,"cpus":2,"restartPolicy":{"name":"on-failure","maximumRetryCount":2}}`,
		`{"cmd":["ls","-l"],"env":["X=1"],"tty":true,"size":{"rows":24,"cols":80}}`,
		`{"name":"app","subnet":"10.90.0.0/24","internal":true}`,
		`{"name":"data","labels":{"a":"b"},"options":{"size":"1g"}}`,
		`{"memoryMiB":1024,"cpus":2,"restartPolicy":{"name":"always"}}`,
		`{"container":"web","aliases":["db"]}`,
	} {
		f.Add(uint8(kind), b)
		f.Add(uint8(kind), `{"unknown":1}`)
	}
	f.Add(uint8(0), `{"image":"a","memoryMiB":-1,"cpus":9223372036854775807}`)
	f.Add(uint8(2), `{"name":"n","subnet":"10.1.2.3/29"}`)
	f.Add(uint8(2), `{"name":"n","subnet":"10.1.0.0/16"}`)
	host := api.Capabilities{CPUs: 4, MemoryMiB: 8192}
	hostNets := []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")}
	used := []netip.Prefix{netip.MustParsePrefix("10.89.0.0/24")}

	f.Fuzz(func(t *testing.T, kind uint8, body string) {
		mk := requestTypes[int(kind)%len(requestTypes)]
		v := mk()
		if err := decodeBody(httptest.NewRequest("POST", "/", strings.NewReader(body)), v); err != nil {
			if statusOf(err) != 400 {
				t.Fatalf("decode %s: %v is a %d", body, err, statusOf(err))
			}
			return
		}
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("encode %T %+v: %v", v, v, err)
		}
		w := mk()
		if err := decodeBody(httptest.NewRequest("POST", "/", bytes.NewReader(raw)), w); err != nil {
			t.Fatalf("the daemon refuses %s, the client's encoding of %s: %v", raw, body, err)
		}
		if again, _ := json.Marshal(w); !bytes.Equal(again, raw) {
			t.Fatalf("%s decodes as %s, then as %s", body, raw, again)
		}
		switch req := v.(type) {
		case *api.ContainerSpec:
			if err := runtime.CheckSpec(*req, host); err != nil {
				if api.CodeOf(err) != api.CodeInvalidArgument {
					t.Fatalf("CheckSpec(%s): %v", body, err)
				}
				return
			}
			cpus, mem, err := runtime.Resources(*req, host)
			if err != nil || cpus < 1 || cpus > host.CPUs || mem < runtime.MinMemoryMiB || mem > host.MemoryMiB {
				t.Fatalf("CheckSpec passes %s, which gets %d CPUs, %d MiB, %v", body, cpus, mem, err)
			}
		case *api.NetworkCreateRequest:
			p, err := netip.ParsePrefix(req.Subnet)
			if err != nil || network.CheckSubnet(p, used, hostNets) != nil {
				return
			}
			p = p.Masked()
			gw, hostGW, uplink := network.Gateway(p), network.HostGateway(p), network.UplinkAddress(p)
			member, err := network.Allocate(p, map[netip.Addr]bool{})
			if err != nil {
				t.Fatalf("subnet %s: %v", p, err)
			}
			seen := map[netip.Addr]bool{}
			for _, a := range []netip.Addr{gw, hostGW, uplink, member} {
				if !p.Contains(a) || seen[a] || a == p.Addr() {
					t.Fatalf("subnet %s: gateway %s, host gateway %s, uplink %s, first member %s", p, gw, hostGW, uplink, member)
				}
				seen[a] = true
			}
		case *api.VolumeCreateRequest:
			if req.Name != "" && volume.CheckName(req.Name) == nil && strings.ContainsAny(req.Name, "/\x00") {
				t.Fatalf("volume name %q is accepted", req.Name)
			}
		}
	})
}
