package dockerapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
)

// Networks is what the server needs of the network manager
// (*network.Manager implements it).
type Networks interface {
	Create(ctx context.Context, req api.NetworkCreateRequest) (api.Network, error)
	List(ctx context.Context) ([]api.Network, error)
	Inspect(ctx context.Context, ref string) (api.Network, error)
	Remove(ctx context.Context, ref string) error
	Prune(ctx context.Context) ([]string, error)
	Connect(ctx context.Context, netRef, ctrRef string, aliases []string) (restart bool, err error)
	Disconnect(ctx context.Context, netRef, ctrRef string) (restart bool, err error)
}

// networkResource is docker's network object (list and inspect).
type networkResource struct {
	Name       string
	ID         string `json:"Id"`
	Created    time.Time
	Scope      string
	Driver     string
	EnableIPv6 bool
	IPAM       networkIPAM
	Internal   bool
	Attachable bool
	Ingress    bool
	ConfigFrom struct{ Network string }
	ConfigOnly bool
	Containers map[string]networkEndpoint
	Options    map[string]string
	Labels     map[string]string
}

type networkIPAM struct {
	Driver  string
	Options map[string]string
	Config  []ipamConfig
}

type ipamConfig struct {
	Subnet     string            `json:",omitempty"`
	IPRange    string            `json:",omitempty"`
	Gateway    string            `json:",omitempty"`
	AuxAddress map[string]string `json:"AuxiliaryAddresses,omitempty"`
}

type networkEndpoint struct {
	Name        string
	EndpointID  string
	MacAddress  string
	IPv4Address string
	IPv6Address string
}

// networkCreateBody is docker's POST /networks/create request.
type networkCreateBody struct {
	Name       string
	Driver     string
	Internal   bool
	Attachable bool
	Ingress    bool
	EnableIPv6 *bool
	IPAM       *networkIPAM
	Options    map[string]string
	Labels     map[string]string
	ConfigOnly bool
	ConfigFrom *struct{ Network string }
}

// networkConnectBody is docker's connect and disconnect request.
type networkConnectBody struct {
	Container      string
	EndpointConfig *endpointConfig
	Force          bool
}

// endpointConfig is docker's EndpointSettings as a request gives it
// (connect's EndpointConfig, create's NetworkingConfig).
type endpointConfig struct {
	Aliases    []string
	Links      []string
	IPAMConfig *struct {
		IPv4Address  string
		IPv6Address  string
		LinkLocalIPs []string
	}
	MacAddress string
	DriverOpts map[string]string
}

// aliases are e's network aliases, or why Berth cannot make the rest of
// e so: a container's addresses are Berth's to pick.
func (e *endpointConfig) aliases(network string) ([]string, error) {
	if e == nil {
		return nil, nil
	}
	bad := func(what string) error {
		return fmt.Errorf("network %s: %s is not supported by Berth: it picks each container's addresses and has no links: %w",
			network, what, api.ErrInvalidArgument)
	}
	switch ipam := e.IPAMConfig; {
	case len(e.Links) > 0:
		return nil, bad("--link")
	case ipam != nil && (ipam.IPv4Address != "" || ipam.IPv6Address != "" || len(ipam.LinkLocalIPs) > 0):
		return nil, bad("a fixed address (--ip, --ip6, --link-local-ip)")
	case e.MacAddress != "":
		return nil, bad("a fixed MAC address")
	case len(e.DriverOpts) > 0:
		return nil, bad("an endpoint's driver options")
	}
	return e.Aliases, nil
}

func (s *Server) networks() (Networks, error) {
	if s.cfg.Networks == nil {
		if s.cfg.ContainersErr != nil {
			return nil, s.cfg.ContainersErr
		}
		return nil, fmt.Errorf("networks are not available on this host: %w", api.ErrUnavailable)
	}
	return s.cfg.Networks, nil
}

// networkView is n in docker's shape; Berth's networks are all local,
// with one IPv4 subnet each.
func networkView(n api.Network) networkResource {
	out := networkResource{Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver,
		Internal: n.Internal, Attachable: true, Containers: map[string]networkEndpoint{},
		Options: map[string]string{}, Labels: n.Labels,
		IPAM: networkIPAM{Driver: "default", Options: map[string]string{}, Config: []ipamConfig{}}}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if n.Subnet != "" {
		out.IPAM.Config = append(out.IPAM.Config, ipamConfig{Subnet: n.Subnet, Gateway: n.Gateway})
	}
	bits := 0
	if p, err := netip.ParsePrefix(n.Subnet); err == nil {
		bits = p.Bits()
	}
	for _, m := range n.Members {
		ep := networkEndpoint{Name: m.Name, EndpointID: m.ContainerID, MacAddress: m.MAC}
		if m.IP != "" {
			ep.IPv4Address = fmt.Sprintf("%s/%d", m.IP, bits)
		}
		out.Containers[m.ContainerID] = ep
	}
	return out
}

// noSuchNetwork is docker's 404 for a network reference.
func noSuchNetwork(ref string, err error) error {
	if errors.Is(err, api.ErrNotFound) {
		return api.Exactly(api.ErrNotFound, "network %s not found", ref)
	}
	return err
}

func (s *Server) networkList(r *http.Request) (any, error) {
	nm, err := s.networks()
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(r.URL.Query().Get("filters"), "name", "id", "driver", "scope", "type", "label", "dangling")
	if err != nil {
		return nil, err
	}
	list, err := nm.List(r.Context())
	if err != nil {
		return nil, err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	out := []networkResource{}
	for _, n := range list {
		if matchNetwork(f, n) {
			out = append(out, networkView(n))
		}
	}
	return out, nil
}

// matchNetwork applies docker's network filters: values of one key are
// alternatives, keys must all match.
func matchNetwork(f filters, n api.Network) bool {
	for k, vs := range f {
		ok := false
		for _, v := range vs {
			switch k {
			case "name":
				ok = ok || strings.Contains(n.Name, v)
			case "id":
				ok = ok || strings.HasPrefix(n.ID, v)
			case "driver":
				ok = ok || n.Driver == v
			case "scope":
				ok = ok || v == "local"
			case "type":
				ok = ok || (v == "custom") == !n.Default
			case "label":
				key, val, hasVal := strings.Cut(v, "=")
				got, has := n.Labels[key]
				ok = ok || (has && (!hasVal || got == val))
			case "dangling":
				ok = ok || queryBoolValue(v) == (len(n.Members) == 0)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func queryBoolValue(v string) bool {
	switch strings.ToLower(v) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

func (s *Server) networkInspect(r *http.Request) (any, error) {
	nm, err := s.networks()
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	n, err := nm.Inspect(r.Context(), id)
	if err != nil {
		return nil, noSuchNetwork(id, err)
	}
	return networkView(n), nil
}

// networkRequest is body as Berth's request, or why Berth cannot make
// that network.
func networkRequest(body networkCreateBody) (api.NetworkCreateRequest, error) {
	req := api.NetworkCreateRequest{Name: body.Name, Internal: body.Internal, Labels: body.Labels}
	bad := func(format string, a ...any) (api.NetworkCreateRequest, error) {
		return api.NetworkCreateRequest{}, fmt.Errorf(format+": %w", append(a, api.ErrInvalidArgument)...)
	}
	switch {
	case body.Name == "":
		return bad("network create needs a name")
	case body.Driver != "" && body.Driver != "bridge":
		return bad("network driver %q is not supported by Berth: its networks are built in, leave the driver out", body.Driver)
	case body.EnableIPv6 != nil && *body.EnableIPv6:
		return bad("IPv6 networks are not supported by Berth")
	case body.Ingress, body.ConfigOnly, body.ConfigFrom != nil && body.ConfigFrom.Network != "":
		return bad("swarm network options (ingress, config-only, config-from) are not supported by Berth")
	case len(body.Options) > 0:
		return bad("network driver options are not supported by Berth")
	}
	if ipam := body.IPAM; ipam != nil {
		switch {
		case ipam.Driver != "" && ipam.Driver != "default":
			return bad("IPAM driver %q is not supported by Berth", ipam.Driver)
		case len(ipam.Config) > 1:
			return bad("a Berth network has one subnet, not %d", len(ipam.Config))
		case len(ipam.Config) == 1:
			c := ipam.Config[0]
			if c.IPRange != "" || c.Gateway != "" || len(c.AuxAddress) > 0 {
				return bad("Berth picks a network's gateway and addresses: give only --subnet")
			}
			req.Subnet = c.Subnet
		}
	}
	return req, nil
}

func (s *Server) networkCreate(r *http.Request) (any, error) {
	nm, err := s.networks()
	if err != nil {
		return nil, err
	}
	var body networkCreateBody
	if err := decode(r, &body); err != nil {
		return nil, err
	}
	req, err := networkRequest(body)
	if err != nil {
		return nil, err
	}
	n, err := nm.Create(r.Context(), req)
	if err != nil {
		return nil, err
	}
	return created{struct {
		ID      string `json:"Id"`
		Warning string
	}{ID: n.ID}}, nil
}

func (s *Server) networkRemove(r *http.Request) (any, error) {
	nm, err := s.networks()
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	return nil, noSuchNetwork(id, nm.Remove(r.Context(), id))
}

func (s *Server) networkPrune(r *http.Request) (any, error) {
	nm, err := s.networks()
	if err != nil {
		return nil, err
	}
	if f := r.URL.Query().Get("filters"); f != "" && f != "{}" {
		return nil, fmt.Errorf("network prune filters are not supported by Berth yet: %w", api.ErrUnsupported)
	}
	removed, err := nm.Prune(r.Context())
	if removed == nil {
		removed = []string{}
	}
	if err != nil {
		return nil, err
	}
	return struct{ NetworksDeleted []string }{removed}, nil
}

// networkConnect connects or disconnects a container. A running
// container's VM keeps its NICs: the change takes effect at its next
// start, as the log says.
func (s *Server) networkConnect(connect bool) jsonFunc {
	return func(r *http.Request) (any, error) {
		nm, err := s.networks()
		if err != nil {
			return nil, err
		}
		var body networkConnectBody
		if err := decode(r, &body); err != nil {
			return nil, err
		}
		if body.Container == "" {
			return nil, fmt.Errorf("network connect needs a container: %w", api.ErrInvalidArgument)
		}
		id := r.PathValue("id")
		var restart bool
		verb := "connect"
		if connect {
			aliases, err := body.EndpointConfig.aliases(id)
			if err != nil {
				return nil, err
			}
			restart, err = nm.Connect(r.Context(), id, body.Container, aliases)
			if err != nil {
				return nil, err
			}
		} else {
			verb = "disconnect"
			if restart, err = nm.Disconnect(r.Context(), id, body.Container); err != nil {
				return nil, err
			}
		}
		if restart {
			s.log.Info("docker network "+verb+" takes effect at the container's next start", "network", id, "container", body.Container)
		}
		return struct{}{}, nil
	}
}
