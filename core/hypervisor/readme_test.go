package hypervisor_test

import (
	"os"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/hypervisor/vz"
)

// The README's guest kernel requirements name every module a backend
// declares: a kernel given with --kernel must have them built in.
func TestREADMENamesEveryGuestModule(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "## Guest kernel requirements")
	if i < 0 {
		t.Fatal("README has no guest kernel requirements section")
	}
	section := readme[i:]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	for _, info := range []hypervisor.Info{qemu.Info(), vz.Info()} {
		for _, g := range info.ModuleGroups {
			for _, m := range g.Modules {
				if !strings.Contains(section, "`"+m+"`") {
					t.Errorf("the README's guest kernel requirements do not name %s (%s, group %s)", m, info.Name, g.Name)
				}
			}
		}
	}
}
