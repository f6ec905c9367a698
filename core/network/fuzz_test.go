package network

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

// formatBinding writes b as a -p value.
func formatBinding(b api.PortBinding) string {
	host := ""
	if b.HostPort != 0 {
		host = fmt.Sprint(b.HostPort)
	}
	s := fmt.Sprintf("%s:%d/%s", host, b.ContainerPort, b.Proto)
	switch {
	case strings.Contains(b.HostIP, ":"):
		return "[" + b.HostIP + "]:" + s
	case b.HostIP != "":
		return b.HostIP + ":" + s
	}
	return s
}

// FuzzParsePublish reads -p values: what parses passes CheckBindings (the
// API's own check), and each binding, written back as a -p value, parses
// to itself.
func FuzzParsePublish(f *testing.F) {
	for _, s := range []string{"80", "8080:80", "127.0.0.1:8080:80", "127.0.0.1::80", "8000-8002:80-82/udp",
		"[::1]:8080:80/TCP", "[fe80::1%eth0]::53/udp", "::80", "1-1024", "0:80", "a:b:c:d", "[::1:80", "80/sctp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		bs, err := ParsePublish(spec)
		if err != nil {
			if !errors.Is(err, api.ErrInvalidArgument) {
				t.Fatalf("ParsePublish(%q): %v", spec, err)
			}
			return
		}
		if len(bs) == 0 || len(bs) > maxRange {
			t.Fatalf("ParsePublish(%q): %d bindings", spec, len(bs))
		}
		if err := CheckBindings(bs); err != nil {
			t.Fatalf("ParsePublish(%q) = %+v, which CheckBindings refuses: %v", spec, bs, err)
		}
		for _, b := range bs {
			again, err := ParsePublish(formatBinding(b))
			if err != nil || !reflect.DeepEqual(again, []api.PortBinding{b}) {
				t.Fatalf("ParsePublish(%q) gave %+v; written as %q it parses to %+v, %v", spec, b, formatBinding(b), again, err)
			}
		}
	})
}
