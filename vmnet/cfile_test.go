package vmnet

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/testenv"
)

// clangCheck parses and type-checks a C file as C11 with blocks, warnings
// as errors, against the stand-ins for Apple's headers in
// testdata/darwin-include (transcribed from them; see its README).
func clangCheck(t *testing.T, clang, file string, defines ...string) (string, error) {
	args := []string{"-fsyntax-only", "-std=c11", "-fblocks", "-Wall", "-Wextra", "-Werror",
		"-I", filepath.Join("testdata", "darwin-include"), "-I", "."}
	for _, d := range defines {
		args = append(args, "-D"+d)
	}
	out, err := exec.Command(clang, append(args, file)...).CombinedOutput()
	return string(out), err
}

// TestCFile is the check vmnet_darwin.c gets on Linux: make darwin-check
// type-checks the Go side but parses only .m files, and this file is
// plain C. It catches what a compiler would: a misspelled vmnet, xpc or
// dispatch name, a wrong argument, a block whose signature is not the
// handler's, struct berth_pkt drifting from pktDesc. It cannot catch a
// stand-in that misstates Apple's header, or anything only running shows.
func TestCFile(t *testing.T) {
	if runtime.GOOS == "darwin" {
		t.Skip("on a Mac the build compiles vmnet_darwin.c against Apple's own headers")
	}
	clang := testenv.Tool(t, "clang", "clang")
	// Both sides of the macOS 15 guard (the read/write max packet keys).
	for _, defs := range [][]string{nil, {"__MAC_15_0=150000"}} {
		if out, err := clangCheck(t, clang, "vmnet_darwin.c", defs...); err != nil {
			t.Fatalf("clang %v: %v\n%s", defs, err, out)
		}
	}
	// The check is not vacuous: each mistake below fails it.
	src, err := os.ReadFile("vmnet_darwin.c")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ from, to, says string }{
		{"vmnet_read(v->iface, v->descs, count)", "vmnet_reed(v->iface, v->descs, count)", "vmnet_reed"},
		{"vmnet_mtu_key", "vmnet_mtu_keys", "vmnet_mtu_keys"},
		{"^(vmnet_return_t status) {", "^(int *status) {", "incompatible"},
		{"uint32_t flags;   // vm_flags", "uint64_t flags;   // vm_flags", "struct berth_pkt is pktDesc"},
		{"berthVmnetPacketsAvailable(handle, n);", "berthVmnetPacketsAvailable(handle);", "too few arguments"},
	} {
		text := string(src)
		dir := t.TempDir()
		header, err := os.ReadFile("vmnet_darwin.h")
		if err != nil {
			t.Fatal(err)
		}
		text = strings.Replace(text, m.from, m.to, 1)
		h := strings.Replace(string(header), m.from, m.to, 1)
		if h == string(header) && text == string(src) {
			t.Fatalf("the mutation %q applies to neither file", m.from)
		}
		file := filepath.Join(dir, "vmnet_darwin.c")
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "vmnet_darwin.h"), []byte(h), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := clangCheck(t, clang, file)
		if err == nil || !strings.Contains(out, m.says) {
			t.Errorf("%q → %q: clang %v, want an error saying %q:\n%s", m.from, m.to, err, m.says, out)
		}
	}
}
