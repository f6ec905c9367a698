package nethost

import (
	"net/netip"
	"strings"
)

// lookupLocal answers a DNS name from the network's own: NAME.DNSDomain
// and bare NAME for a record, host.DNSDomain for the host (with host
// access; it wins over a container of that name). local is false for a
// name the network does not own, which goes to the host's resolvers.
func lookupLocal(records map[string][]netip.Addr, r *resolved, qname string) (addrs []netip.Addr, local bool) {
	name := strings.ToLower(strings.TrimSuffix(qname, "."))
	if name == r.DNSDomain {
		return nil, true
	}
	if label, ok := strings.CutSuffix(name, "."+r.DNSDomain); ok {
		if label == HostName && r.hostIP.IsValid() {
			return []netip.Addr{r.hostIP}, true
		}
		return records[label], true
	}
	if a, ok := records[name]; ok {
		return a, true
	}
	return nil, false
}
