package network

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/berthvm/berth/core/api"
)

// ParsePublish reads one docker -p value:
//
//	[HOST_IP:][HOST_PORT[-HOST_PORT_END]:]CONTAINER_PORT[-CONTAINER_PORT_END][/tcp|/udp]
//
// "80" publishes container port 80 on any free host port, "8080:80" on
// 8080 of every address, "127.0.0.1:8080:80" on loopback only,
// "127.0.0.1::80" on a free loopback port, "8000-8002:80-82/udp" three
// ports. A range on both sides must be as long on each.
func ParsePublish(spec string) ([]api.PortBinding, error) {
	bad := func(why string) error {
		return fmt.Errorf("invalid port publish %q: %s (want [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp]): %w", spec, why, api.ErrInvalidArgument)
	}
	rest, proto := spec, "tcp"
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		rest, proto = rest[:i], strings.ToLower(rest[i+1:])
		if proto != "tcp" && proto != "udp" {
			return nil, bad("protocol " + proto + " is not tcp or udp")
		}
	}
	var hostIP, hostPart, ctrPart string
	// An IPv6 host address is bracketed: [::1]:8080:80.
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 || end+1 >= len(rest) || rest[end+1] != ':' {
			return nil, bad("unclosed [ in the host address")
		}
		hostIP, rest = rest[1:end], rest[end+2:]
		parts := strings.Split(rest, ":")
		if len(parts) != 2 {
			return nil, bad("too many colons")
		}
		hostPart, ctrPart = parts[0], parts[1]
	} else {
		parts := strings.Split(rest, ":")
		switch len(parts) {
		case 1:
			ctrPart = parts[0]
		case 2:
			hostPart, ctrPart = parts[0], parts[1]
		case 3:
			hostIP, hostPart, ctrPart = parts[0], parts[1], parts[2]
		default:
			return nil, bad("too many colons")
		}
	}
	if hostIP != "" {
		addr, err := netip.ParseAddr(hostIP)
		if err != nil {
			return nil, bad("host address " + hostIP + " is not an IP address")
		}
		hostIP = addr.String()
	}
	cFrom, cTo, err := portRange(ctrPart)
	if err != nil {
		return nil, bad("container port: " + err.Error())
	}
	hFrom, hTo := 0, 0
	if hostPart != "" {
		if hFrom, hTo, err = portRange(hostPart); err != nil {
			return nil, bad("host port: " + err.Error())
		}
		if hTo-hFrom != cTo-cFrom {
			return nil, bad(fmt.Sprintf("the host range has %d ports, the container range %d", hTo-hFrom+1, cTo-cFrom+1))
		}
	}
	var out []api.PortBinding
	for i := 0; i <= cTo-cFrom; i++ {
		b := api.PortBinding{HostIP: hostIP, ContainerPort: cFrom + i, Proto: proto}
		if hostPart != "" {
			b.HostPort = hFrom + i
		}
		out = append(out, b)
	}
	return out, nil
}

// maxRange bounds one -p range: each port is a listener.
const maxRange = 1024

func portRange(s string) (from, to int, err error) {
	lo, hi, isRange := strings.Cut(s, "-")
	if from, err = port(lo); err != nil {
		return 0, 0, err
	}
	to = from
	if isRange {
		if to, err = port(hi); err != nil {
			return 0, 0, err
		}
		if to < from {
			return 0, 0, fmt.Errorf("range %s runs backwards", s)
		}
		if to-from >= maxRange {
			return 0, 0, fmt.Errorf("range %s has more than %d ports", s, maxRange)
		}
	}
	return from, to, nil
}

func port(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port (1-65535)", s)
	}
	return n, nil
}

// ExposedPorts turns an image's exposed ports ("80/tcp", "53/udp", "8080")
// into bindings on free host ports: docker's -P.
func ExposedPorts(exposed []string) ([]api.PortBinding, error) {
	var out []api.PortBinding
	for _, e := range exposed {
		p, proto, _ := strings.Cut(e, "/")
		if proto == "" {
			proto = "tcp"
		}
		bs, err := ParsePublish(p + "/" + proto)
		if err != nil {
			return nil, fmt.Errorf("the image exposes %q: %w", e, err)
		}
		out = append(out, bs...)
	}
	return out, nil
}

// CheckBindings validates ports as the API receives them (the CLI's come
// from ParsePublish): ports in range, tcp or udp, an IP address or none
// for the host, no host port given twice.
func CheckBindings(bs []api.PortBinding) error {
	seen := map[string]bool{}
	for _, b := range bs {
		bad := func(why string) error {
			return fmt.Errorf("invalid port publish %s:%d:%d/%s: %s: %w", b.HostIP, b.HostPort, b.ContainerPort, b.Proto, why, api.ErrInvalidArgument)
		}
		switch {
		case b.Proto != "tcp" && b.Proto != "udp":
			return bad("the protocol must be tcp or udp")
		case b.ContainerPort < 1 || b.ContainerPort > 65535:
			return bad("the container port must be 1-65535")
		case b.HostPort < 0 || b.HostPort > 65535:
			return bad("the host port must be 1-65535, or 0 for any free port")
		}
		if b.HostIP != "" {
			if _, err := netip.ParseAddr(b.HostIP); err != nil {
				return bad("the host address is not an IP address")
			}
		}
		if b.HostPort == 0 {
			continue
		}
		key := fmt.Sprintf("%s:%d/%s", b.HostIP, b.HostPort, b.Proto)
		if seen[key] {
			return bad(fmt.Sprintf("host port %d/%s is given twice", b.HostPort, b.Proto))
		}
		seen[key] = true
	}
	return nil
}
