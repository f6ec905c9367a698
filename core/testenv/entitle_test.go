package testenv

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Environment of the re-executed test processes below.
const (
	reexecVar = "BERTH_TESTENV_REEXEC" // run TestMain as on a Mac
	probeVar  = "BERTH_TESTENV_PROBE"  // where TestProbeSigned writes what it saw
	failVar   = "BERTH_TESTENV_FAIL"   // TestProbeSigned fails
)

func TestMain(m *testing.M) {
	if os.Getenv(reexecVar) == "1" {
		os.Exit(mainWithEntitlement(m, true))
	}
	os.Exit(m.Run())
}

// TestProbeSigned reports, when asked to, the process it runs in: it is
// the test TestMainWithEntitlement's re-executed binaries run. Run by
// itself it does nothing (a helper, as os/exec's TestHelperProcess; not a
// skip, so that a skip in CI always means something is missing).
func TestProbeSigned(t *testing.T) {
	out := os.Getenv(probeVar)
	if out == "" {
		return
	}
	report := strings.Join([]string{os.Args[0], os.Getenv(SignedVar), entitlementProblem(true)}, "\n")
	if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getenv(failVar) == "1" {
		t.Fatal("asked to fail")
	}
}

// The Mac's flow, run here with a stand-in for codesign: the test binary
// signs a copy of itself, runs the copy with its own arguments, and
// returns the copy's exit status.
func TestMainWithEntitlement(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ent := filepath.Join(root, "resources", "berth.entitlements")
	cases := []struct {
		name     string
		codesign string // the stand-in's script; "" none on PATH
		fail     bool
		code     int
		signed   bool   // the tests ran in the signed copy
		problem  string // what RequireEntitlement says there
	}{
		{"signed copy", "echo \"$@\" > \"$CODESIGN_LOG\"", false, 0, true, ""},
		{"signed copy fails", "echo \"$@\" > \"$CODESIGN_LOG\"", true, 1, true, ""},
		{"codesign fails", "echo 'resource fork, Finder information, or similar detritus not allowed' >&2; exit 1", false, 0, false, "detritus not allowed"},
		{"no codesign", "", false, 0, false, "codesign not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			if err := os.Mkdir(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.codesign != "" {
				if err := os.WriteFile(filepath.Join(bin, "codesign"), []byte("#!/bin/sh\n"+tc.codesign+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			log, probe := filepath.Join(dir, "codesign.log"), filepath.Join(dir, "probe")
			cmd := exec.Command(exe, "-test.run=^TestProbeSigned$", "-test.v")
			cmd.Env = append(os.Environ(), reexecVar+"=1", probeVar+"="+probe, "CODESIGN_LOG="+log, "PATH="+bin, SignedVar+"=")
			if tc.fail {
				cmd.Env = append(cmd.Env, failVar+"=1")
			}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d; output:\n%s", code, tc.code, out.String())
			}
			if tc.fail && !strings.Contains(out.String(), "asked to fail") {
				t.Errorf("the signed copy's output did not reach ours:\n%s", out.String())
			}
			b, err := os.ReadFile(probe)
			if err != nil {
				t.Fatalf("the tests did not run: %v\n%s", err, out.String())
			}
			seen := strings.SplitN(string(b), "\n", 3)
			ranAs, marker, problem := seen[0], seen[1], seen[2]
			if tc.signed {
				args, _ := os.ReadFile(log)
				want := "-f -s - --entitlements " + ent + " " + ranAs
				if strings.TrimSpace(string(args)) != want {
					t.Errorf("codesign %s, want %s", args, want)
				}
				if ranAs == exe || filepath.Base(ranAs) != filepath.Base(exe) || marker != "1" {
					t.Errorf("ran as %s with %s=%q; want a copy of %s, marked", ranAs, SignedVar, marker, exe)
				}
				if _, err := os.Stat(filepath.Dir(ranAs)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the signed copy's directory %s was left", filepath.Dir(ranAs))
				}
			} else if ranAs != exe || marker != "" {
				t.Errorf("ran as %s with %s=%q; want this binary, unmarked", ranAs, SignedVar, marker)
			}
			if !strings.Contains(problem, tc.problem) || (tc.problem == "") != (problem == "") {
				t.Errorf("RequireEntitlement's reason %q, want %q", problem, tc.problem)
			}
			if tc.problem != "" && !strings.Contains(problem, "go test -c -o /tmp/testenv.test ./core/testenv && codesign -f -s - --entitlements resources/berth.entitlements /tmp/testenv.test && BERTH_TEST_SIGNED=1 /tmp/testenv.test") {
				t.Errorf("the reason does not name the command to run: %q", problem)
			}
		})
	}
}

func TestEntitlementProblem(t *testing.T) {
	t.Setenv(SignedVar, "")
	if p := entitlementProblem(false); p != "" {
		t.Errorf("no entitlement needed: %q", p)
	}
	if p := entitlementProblem(true); !strings.Contains(p, "MainWithEntitlement") || !strings.Contains(p, "codesign -f -s -") {
		t.Errorf("unsigned without MainWithEntitlement: %q", p)
	}
	t.Setenv(SignedVar, "1")
	if p := entitlementProblem(true); p != "" {
		t.Errorf("signed: %q", p)
	}
	// Off macOS nothing is signed.
	if err := SignForVMs(filepath.Join(t.TempDir(), "nothing")); entitlementNeeded || err != nil {
		t.Errorf("SignForVMs off macOS: %v", err)
	}
}
