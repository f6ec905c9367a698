package network

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

func TestParsePublish(t *testing.T) {
	b := func(ip string, host, ctr int, proto string) api.PortBinding {
		return api.PortBinding{HostIP: ip, HostPort: host, ContainerPort: ctr, Proto: proto}
	}
	cases := []struct {
		spec string
		want []api.PortBinding
		err  string
	}{
		{"80", []api.PortBinding{b("", 0, 80, "tcp")}, ""},
		{"8080:80", []api.PortBinding{b("", 8080, 80, "tcp")}, ""},
		{"127.0.0.1:8080:80", []api.PortBinding{b("127.0.0.1", 8080, 80, "tcp")}, ""},
		{"127.0.0.1::80", []api.PortBinding{b("127.0.0.1", 0, 80, "tcp")}, ""},
		{"53:53/udp", []api.PortBinding{b("", 53, 53, "udp")}, ""},
		{"8000-8002:80-82", []api.PortBinding{b("", 8000, 80, "tcp"), b("", 8001, 81, "tcp"), b("", 8002, 82, "tcp")}, ""},
		{"[::1]:8080:80/TCP", []api.PortBinding{b("::1", 8080, 80, "tcp")}, ""},
		{"80/sctp", nil, "sctp is not tcp or udp"},
		{"8080:80:90:1", nil, "too many colons"},
		{"localhost:8080:80", nil, "not an IP address"},
		{"0:80", nil, "host port"},
		{"8080:70000", nil, "container port"},
		{"8000-8001:80-82", nil, "the host range has 2 ports, the container range 3"},
		{"90-80", nil, "runs backwards"},
		{"1-2000", nil, "more than 1024 ports"},
		{"[::1:8080:80", nil, "unclosed ["},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParsePublish(tc.spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, api.ErrInvalidArgument) {
					t.Fatalf("ParsePublish(%q) = %v, %v; want an error with %q", tc.spec, got, err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParsePublish(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
			}
		})
	}
}

func TestExposedPorts(t *testing.T) {
	got, err := ExposedPorts([]string{"80/tcp", "53/udp", "8080"})
	want := []api.PortBinding{{ContainerPort: 80, Proto: "tcp"}, {ContainerPort: 53, Proto: "udp"}, {ContainerPort: 8080, Proto: "tcp"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ExposedPorts = %+v, %v", got, err)
	}
	if _, err := ExposedPorts([]string{"http"}); err == nil {
		t.Fatal("a named port was accepted")
	}
}

func TestCheckBindings(t *testing.T) {
	for _, tc := range []struct {
		name string
		bs   []api.PortBinding
		want string // "" for valid
	}{
		{"valid", []api.PortBinding{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"}, {ContainerPort: 53, Proto: "udp"}}, ""},
		{"same port, two protocols", []api.PortBinding{{HostPort: 53, ContainerPort: 53, Proto: "tcp"}, {HostPort: 53, ContainerPort: 53, Proto: "udp"}}, ""},
		{"twice", []api.PortBinding{{HostPort: 80, ContainerPort: 80, Proto: "tcp"}, {HostPort: 80, ContainerPort: 81, Proto: "tcp"}}, "given twice"},
		{"protocol", []api.PortBinding{{ContainerPort: 80, Proto: "sctp"}}, "tcp or udp"},
		{"container port", []api.PortBinding{{ContainerPort: 0, Proto: "tcp"}}, "container port"},
		{"host port", []api.PortBinding{{HostPort: 70000, ContainerPort: 80, Proto: "tcp"}}, "host port"},
		{"host address", []api.PortBinding{{HostIP: "localhost", ContainerPort: 80, Proto: "tcp"}}, "not an IP address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckBindings(tc.bs)
			if tc.want == "" && err != nil || tc.want != "" && (!errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("CheckBindings = %v, want %q", err, tc.want)
			}
		})
	}
}
