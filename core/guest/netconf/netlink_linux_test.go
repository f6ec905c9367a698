package netconf

import (
	"net"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/testenv"
)

// Configure against a real kernel, in a fresh network namespace so
// the host's network is untouched: only lo exists there.
func TestConfigureNetworkInNamespace(t *testing.T) {
	testenv.Root(t)
	errc := make(chan error, 1)
	var addrs []string
	var up bool
	go func() {
		// This thread enters a new namespace and is never returned to
		// the scheduler's pool (no UnlockOSThread): it dies with the
		// goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		err := Configure(proto.NetworkConfig{Interfaces: []proto.Interface{{Name: "lo", Address: "127.0.0.9/8", MTU: 1500}}})
		if err == nil {
			lo, _ := net.InterfaceByName("lo")
			up = lo.Flags&net.FlagUp != 0
			as, _ := lo.Addrs()
			for _, a := range as {
				addrs = append(addrs, a.String())
			}
			// A gateway that is not reachable is refused by the kernel:
			// the error must come back, not vanish.
			err2 := Configure(proto.NetworkConfig{Gateway: "192.0.2.1"})
			if err2 == nil || !strings.Contains(err2.Error(), "192.0.2.1") {
				t.Errorf("unreachable gateway: %v", err2)
			}
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		if strings.Contains(err.Error(), "operation not permitted") {
			testenv.Missing(t, "cannot create a network namespace here: "+err.Error())
		}
		t.Fatal(err)
	}
	if !up || !strings.Contains(strings.Join(addrs, " "), "127.0.0.9/8") {
		t.Fatalf("lo up=%v addrs=%v", up, addrs)
	}
}
