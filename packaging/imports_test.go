package packaging

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/testenv"
)

const module = "github.com/berthvm/berth/"

// goListDeps returns the Berth packages pattern depends on (itself
// included) when built for platform ("linux/amd64"), as `go list -deps
// -json` reports them; with tests, the dependencies of its tests count
// too.
func goListDeps(t *testing.T, platform, pattern string, tests bool) []string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		testenv.Missing(t, "no go tool in PATH: "+err.Error())
	}
	args := []string{"list", "-deps", "-json=ImportPath,ForTest"}
	if tests {
		args = append(args, "-test")
	}
	cmd := exec.Command(goTool, append(args, pattern)...)
	cmd.Dir = ".."
	// cgo on for darwin: the vz backend's files are cgo files, and
	// without them berth's darwin build would look smaller than it is.
	goos, goarch, _ := strings.Cut(platform, "/")
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, stderr.String())
	}
	var deps []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct{ ImportPath, ForTest string }
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		// "pkg [pkg.test]": a package recompiled for a test is the
		// same package as far as these rules go.
		path, _, _ := strings.Cut(p.ImportPath, " ")
		if rel, ok := strings.CutPrefix(path, module); ok && !slices.Contains(deps, rel) {
			deps = append(deps, rel)
		}
	}
	return deps
}

// within reports whether path is pkg or, for "pkg/...", under it.
func within(path, pkg string) bool {
	if tree, ok := strings.CutSuffix(pkg, "/..."); ok {
		return path == tree || strings.HasPrefix(path, tree+"/")
	}
	return path == pkg
}

// The directions of the arrows between the host, the guest and the
// protocol they share: the host's binary does not compile the guest's OS
// layer, the guest's binary does not link the host's client, and the
// protocol imports neither side. Rules, not sizes: a broken rule names
// the package that brought the forbidden one in (go list -deps shows how).
func TestImportRules(t *testing.T) {
	hosts := []string{"linux/amd64", "linux/arm64", "darwin/arm64", "darwin/amd64"}
	guests := []string{"linux/amd64", "linux/arm64"}
	for _, tc := range []struct {
		pkg   string
		on    []string // platforms
		tests bool     // the package's tests count too
		never []string // packages it must not depend on ("x/..." is x and below)
		only  []string // if set, every Berth package it depends on is one of these
		why   string
	}{
		{pkg: "app/berth", on: hosts, never: []string{"core/guest/..."},
			why: "the host does not compile the guest's OS layer"},
		{pkg: "app/agent", on: guests,
			only: []string{"app/agent", "core/guest/...", "core/agent/proto", "core/guestabi", "core/api", "core/buildinfo", "core/archive"},
			why:  "the guest's PID 1 links the guest side, the protocol and cp's tar code, not the host's client or core"},
		{pkg: "core/archive", on: hosts, only: []string{"core/archive", "core/api"},
			why: "cp's tar code is linked by both sides: it imports nothing of either"},
		{pkg: "core/agent/proto", on: hosts, tests: true, never: []string{"core/agent", "core/guest/..."},
			why: "the protocol imports neither side"},
		{pkg: "core/agent", on: hosts, tests: true, never: []string{"core/guest/..."},
			why: "the host's client does not import the guest, tests included"},
		{pkg: "core/guest/...", on: guests, never: []string{"core/agent", "core/runtime", "core/hypervisor/..."},
			why: "the guest side imports the protocol, not the host's client or core"},
		{pkg: "core/guest/netconf", on: guests, never: []string{"core/guest"},
			why: "the guest's network configuration knows the protocol's types, not the server"},
	} {
		for _, platform := range tc.on {
			t.Run(tc.pkg+"@"+platform, func(t *testing.T) {
				for _, dep := range goListDeps(t, platform, "./"+tc.pkg, tc.tests) {
					for _, bad := range tc.never {
						if within(dep, bad) && !within(dep, tc.pkg) {
							t.Errorf("%s depends on %s: %s", tc.pkg, dep, tc.why)
						}
					}
					if tc.only != nil && !slices.ContainsFunc(tc.only, func(ok string) bool { return within(dep, ok) }) {
						t.Errorf("%s depends on %s: %s", tc.pkg, dep, tc.why)
					}
				}
			})
		}
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		path, pkg string
		want      bool
	}{
		{"core/guest", "core/guest/...", true},
		{"core/guest/netconf", "core/guest/...", true},
		{"core/guestabi", "core/guest/...", false}, // shared by both sides on purpose
		{"core/agent/proto", "core/agent", false},
		{"core/agent", "core/agent", true},
	} {
		if got := within(tc.path, tc.pkg); got != tc.want {
			t.Errorf("within(%q, %q) = %v, want %v", tc.path, tc.pkg, got, tc.want)
		}
	}
}
