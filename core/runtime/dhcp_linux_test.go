package runtime

import (
	"context"
	"github.com/berthvm/berth/core/testenv"
	"log/slog"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
)

// dhcpBackend is a backend that declares DHCP addressing, as vz does.
type dhcpBackend struct{ hypervisor.Driver }

func (d dhcpBackend) Info() hypervisor.Info {
	i := d.Driver.Info()
	i.Addressing = hypervisor.AddressDHCP
	return i
}

// A container on a backend that needs DHCP (vz's vmnet) gets its address,
// /etc/hosts entry and resolv.conf from the lease. QEMU declaring DHCP
// runs that path for real: its user networking answers DHCP (with the
// addresses it otherwise fixes).
func TestContainerNetworkByDHCP(t *testing.T) {
	r := newRig(t)
	var logged testenv.Buffer
	r.m.Close()
	cfg := r.cfg
	cfg.Driver = dhcpBackend{r.cfg.Driver}
	cfg.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	m, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.m = m // the rig's cleanup removes what this manager made

	c, out, errOut := r.run(api.ContainerSpec{Hostname: "leased", Cmd: sh("ip -4 addr show; ip route; cat /etc/hosts /etc/resolv.conf")}, "")
	if c.ExitCode != 0 {
		t.Fatalf("exit %d (%s): %s", c.ExitCode, c.Error, errOut)
	}
	for _, want := range []string{"inet 10.0.2.15/24", "default via 10.0.2.2", "10.0.2.15\tleased", "nameserver 10.0.2.3"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q in the container's view:\n%s", want, out)
		}
	}
	if l := logged.String(); !strings.Contains(l, "guest network by DHCP") || !strings.Contains(l, "address=10.0.2.15") {
		t.Fatalf("the DHCP path was not taken; log:\n%s", l)
	}
}
