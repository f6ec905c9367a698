package dockerapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

// fakeNetworks keeps networks by name; connects to a running container
// ask for a restart.
type fakeNetworks struct {
	mu   sync.Mutex
	nets map[string]api.Network
	reqs []api.NetworkCreateRequest
	// connects are the connects asked for: network, container, aliases.
	connects []string
}

func (f *fakeNetworks) Create(_ context.Context, req api.NetworkCreateRequest) (api.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.nets[req.Name]; ok {
		return api.Network{}, fmt.Errorf("network with name %s already exists: %w", req.Name, api.ErrAlreadyExists)
	}
	f.reqs = append(f.reqs, req)
	n := api.Network{ID: strings.Repeat("n", 64), Name: req.Name, Driver: "user", Subnet: req.Subnet, Labels: req.Labels}
	f.nets[n.Name] = n
	return n, nil
}

func (f *fakeNetworks) List(context.Context) ([]api.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Network
	for _, n := range f.nets {
		out = append(out, n)
	}
	return out, nil
}

func (f *fakeNetworks) Inspect(_ context.Context, ref string) (api.Network, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n, ok := f.nets[ref]; ok {
		return n, nil
	}
	return api.Network{}, fmt.Errorf("no network %s: %w", ref, api.ErrNotFound)
}

func (f *fakeNetworks) Remove(ctx context.Context, ref string) error {
	n, err := f.Inspect(ctx, ref)
	if err != nil {
		return err
	}
	if len(n.Members) > 0 {
		return fmt.Errorf("network %s has containers: %w", ref, api.ErrConflict)
	}
	f.mu.Lock()
	delete(f.nets, ref)
	f.mu.Unlock()
	return nil
}

func (f *fakeNetworks) Prune(ctx context.Context) ([]string, error) {
	var out []string
	list, _ := f.List(ctx)
	for _, n := range list {
		if !n.Default && len(n.Members) == 0 && f.Remove(ctx, n.Name) == nil {
			out = append(out, n.Name)
		}
	}
	return out, nil
}

func (f *fakeNetworks) Connect(ctx context.Context, netRef, ctrRef string, aliases []string) (bool, error) {
	if _, err := f.Inspect(ctx, netRef); err != nil {
		return false, err
	}
	f.mu.Lock()
	f.connects = append(f.connects, netRef+" "+ctrRef+" "+strings.Join(aliases, ","))
	f.mu.Unlock()
	return true, nil
}

func (f *fakeNetworks) Disconnect(ctx context.Context, netRef, ctrRef string) (bool, error) {
	_, err := f.Inspect(ctx, netRef)
	return false, err
}

func TestNetworks(t *testing.T) {
	nets := &fakeNetworks{nets: map[string]api.Network{
		"default": {ID: strings.Repeat("d", 64), Name: "default", Driver: "user", Subnet: "10.89.0.0/24", Gateway: "10.89.0.1",
			Default: true, Created: time.Unix(0, 0).UTC(),
			Members: []api.NetworkMember{{ContainerID: "c1", Name: "web", IP: "10.89.0.2", MAC: "02:00:00:00:00:01"}}},
	}}
	srv := httptest.NewServer(New(Config{Containers: newFake(running()), Networks: nets, Images: fakeImages{}}))
	defer srv.Close()
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/v1.47/networks/default", "", 200, `"Containers":{"c1":{"Name":"web","EndpointID":"c1","MacAddress":"02:00:00:00:00:01","IPv4Address":"10.89.0.2/24","IPv6Address":""}}`},
		{"GET", "/v1.47/networks/default", "", 200, `"IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"10.89.0.0/24","Gateway":"10.89.0.1"}]}`},
		{"GET", "/v1.47/networks/nope", "", 404, `{"message":"network nope not found"}`},
		{"POST", "/v1.47/networks/create", `{"Name":"app","Driver":"bridge","Labels":{"a":"b"},"IPAM":{"Driver":"default","Config":[{"Subnet":"10.90.0.0/24"}]}}`, 201, `{"Id":"nnnn`},
		{"POST", "/v1.47/networks/create", `{"Name":"app"}`, 409, "network with name app already exists"},
		{"POST", "/v1.47/networks/create", `{"Name":"o","Driver":"overlay"}`, 400, `network driver \"overlay\" is not supported by Berth`},
		{"POST", "/v1.47/networks/create", `{"Name":"g","IPAM":{"Config":[{"Subnet":"10.9.0.0/24","Gateway":"10.9.0.9"}]}}`, 400, "give only --subnet"},
		{"POST", "/v1.47/networks/create", `{"Name":"v6","EnableIPv6":true}`, 400, "IPv6"},
		{"GET", "/v1.47/networks", "", 200, `"Name":"app"`},
		{"GET", `/v1.47/networks?filters={"label":{"a=b":true}}`, "", 200, `[{"Name":"app"`},
		{"GET", `/v1.47/networks?filters={"type":{"builtin":true}}`, "", 200, `[{"Name":"default"`},
		{"GET", `/v1.47/networks?filters={"bogus":{"x":true}}`, "", 400, "invalid filter 'bogus'"},
		{"POST", "/v1.47/networks/app/connect", `{"Container":"web"}`, 200, "{}"},
		// docker-compose 1.29 connects each container again with its aliases.
		{"POST", "/v1.41/networks/app/connect", `{"Container":"web","EndpointConfig":{"Aliases":["1566b6132674","web"]}}`, 200, "{}"},
		{"POST", "/v1.41/networks/app/connect", `{"Container":"web","EndpointConfig":{"IPAMConfig":{}}}`, 200, "{}"},
		{"POST", "/v1.47/networks/app/connect", `{"Container":"web","EndpointConfig":{"IPAMConfig":{"IPv4Address":"10.90.0.9"}}}`, 400, "network app: a fixed address (--ip, --ip6, --link-local-ip) is not supported by Berth"},
		{"POST", "/v1.47/networks/app/connect", `{"Container":"web","EndpointConfig":{"Links":["db:db"]}}`, 400, "--link is not supported by Berth"},
		{"POST", "/v1.47/networks/app/disconnect", `{"Container":"web"}`, 200, "{}"},
		{"POST", "/v1.47/networks/nope/connect", `{"Container":"web"}`, 404, "no network nope"},
		{"POST", "/v1.47/networks/app/connect", `{}`, 400, "needs a container"},
		{"DELETE", "/v1.47/networks/nope", "", 404, "network nope not found"},
		{"DELETE", "/v1.47/networks/default", "", 409, "has containers"},
		{"POST", "/v1.47/networks/prune", "", 200, `{"NetworksDeleted":["app"]}`},
		{"POST", "/v1.47/networks/prune", "", 200, `{"NetworksDeleted":[]}`},
		{"POST", `/v1.47/networks/prune?filters={"until":{"1h":true}}`, "", 501, "network prune filters are not supported"},
	} {
		status, body, _ := do(t, srv, tc.method, tc.path, tc.body)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: got %d %s, want %d with %q", tc.method, tc.path, status, body, tc.status, tc.want)
		}
	}
	if got, want := strings.Join(nets.connects, "; "), "app web ; app web 1566b6132674,web; app web "; got != want {
		t.Errorf("connects: %q, want %q", got, want)
	}
	if len(nets.reqs) != 1 || nets.reqs[0].Subnet != "10.90.0.0/24" || nets.reqs[0].Labels["a"] != "b" {
		t.Errorf("create requests: %+v", nets.reqs)
	}
}
