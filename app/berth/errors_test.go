package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/errors.golden from what berth prints now")

// TestErrorMessages drives the errors a person commonly meets through the
// real CLI and a real daemon (no VM boots) and compares what berth prints
// on stderr, and its exit code, word for word with testdata/errors.golden:
// a change to any message is a reviewed diff. go test -run
// TestErrorMessages -update rewrites the file.
func TestErrorMessages(t *testing.T) {
	home := newHome(t)
	// What the cases need: a container, a volume in use, a network.
	mustRun(t, home, "create", "--name", "taken", "berth/demo")
	mustRun(t, home, "volume", "create", "data")
	mustRun(t, home, "create", "--name", "user", "-v", "data:/data", "berth/demo")
	mustRun(t, home, "network", "create", "app")
	hold, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	port := hold.Addr().(*net.TCPAddr).Port
	mustRun(t, home, "create", "--name", "porter", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "berth/demo")

	cases := [][]string{
		// Objects that do not exist.
		{"inspect", "nosuch"},
		{"rm", "nosuch"},
		{"start", "nosuch"},
		{"logs", "nosuch"},
		{"image", "inspect", "nosuch"},
		{"image", "rm", "nosuch"},
		{"volume", "rm", "nosuch"},
		{"network", "rm", "nosuch"},
		// Conflicts.
		{"create", "--name", "taken", "berth/demo"},
		{"kill", "taken"},
		{"volume", "rm", "data"},
		{"network", "create", "app"},
		{"start", "porter"},
		// The command line, refused before anything is created.
		{"run", "./x"},
		{"run", "Alpine"},
		{"image", "tag", "berth/demo", "../../evil"},
		{"image", "tag", "berth/demo", "demo:-x"},
		{"run", "-w", "rel", "berth/demo"},
		{"run", "--cpus", "0", "berth/demo"},
		{"run", "--privileged", "berth/demo"},
		{"run", "--gpus", "all", "berth/demo"},
		{"run", "--security-opt", "seccomp=unconfined", "berth/demo"},
		{"run", "--detach-keys", "ctrl-1", "berth/demo"},
		{"run", "-v", ":/x", "berth/demo"},
		{"run", "-v", "/a:rel", "berth/demo"},
		{"run", "--mount", "type=foo,target=/x", "berth/demo"},
		{"run", "--tmpfs", "rel", "berth/demo"},
		{"run", "-p", "99999:80", "berth/demo"},
		{"run", "--nosuchflag", "berth/demo"},
		{"nosuchcommand"},
		// A pull that fails says "pull" once.
		{"run", "localhost:1/x"},
	}
	var got strings.Builder
	for _, args := range cases {
		r := berth(t, home, args...)
		fmt.Fprintf(&got, "$ berth %s\n%s[exit %d]\n\n", strings.Join(args, " "), r.stderr, r.code)
	}
	text := normalize(got.String(), home, port)
	golden := filepath.Join("testdata", "errors.golden")
	if *updateGolden {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run TestErrorMessages -update writes it)", err)
	}
	if text != string(want) {
		t.Errorf("messages differ from %s (review, then -update):\n%s", golden, lineDiff(string(want), text))
	}
	// The containers stayed as they were: nothing above created one.
	if n := len(listAll(t, home)); n != 3 {
		t.Errorf("%d containers after the failed commands, want the 3 made for them", n)
	}
}

// normalize replaces what differs between runs: the data dir, ids, the
// port held, the pid holding it.
func normalize(s, home string, port int) string {
	s = strings.ReplaceAll(s, home, "$HOME")
	s = regexp.MustCompile(`\b[0-9a-f]{64}\b`).ReplaceAllString(s, "<id>")
	s = regexp.MustCompile(`\b[0-9a-f]{12}\b`).ReplaceAllString(s, "<id>")
	s = strings.ReplaceAll(s, fmt.Sprint(port), "<port>")
	return regexp.MustCompile(`pid \d+`).ReplaceAllString(s, "pid <pid>")
}

// lineDiff lists the lines of want and got that differ, in order.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n-%s\n+%s\n", i+1, wl, gl)
		}
	}
	return b.String()
}
