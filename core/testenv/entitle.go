package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// SignedVar marks a test process that runs from a copy of its binary
// signed with the virtualization entitlement (MainWithEntitlement sets it
// when it re-executes the copy). Set it yourself to 1 when you signed the
// test binary by hand.
const SignedVar = "BERTH_TEST_SIGNED"

// EntitlementsFile is the entitlements file of Berth's executables,
// relative to the module root.
const EntitlementsFile = "resources/berth.entitlements"

const modulePath = "github.com/berthvm/berth"

// unsignedReason says why this process was not re-executed signed; set by
// MainWithEntitlement.
var unsignedReason string

// MainWithEntitlement runs a test binary whose tests start VMs; call it
// from TestMain as os.Exit(testenv.MainWithEntitlement(m)).
//
// macOS's Virtualization framework refuses a process that lacks the
// com.apple.security.virtualization entitlement, and go test builds
// unsigned binaries. So on macOS it copies the test binary into a
// temporary directory, signs the copy ad hoc with resources/berth.entitlements
// (codesign -f -s - --entitlements FILE COPY), runs the copy with the same
// arguments and SignedVar=1, and returns its exit status; the copy runs the
// tests, and children started as os.Args[0] are signed too. When signing
// is impossible (no codesign), it runs the tests unsigned and
// RequireEntitlement ends those that need it, naming the command to run.
// On other systems it is m.Run().
func MainWithEntitlement(m *testing.M) int {
	return mainWithEntitlement(m, entitlementNeeded)
}

// runner is what *testing.M does for MainWithEntitlement.
type runner interface{ Run() int }

func mainWithEntitlement(m runner, needed bool) int {
	if !needed || os.Getenv(SignedVar) == "1" {
		return m.Run()
	}
	exe, err := os.Executable()
	if err == nil {
		var code int
		if code, err = runSigned(exe, os.Args[1:]); err == nil {
			return code
		}
	}
	unsignedReason = err.Error()
	return m.Run()
}

// RequireEntitlement ends the test through Missing unless the process may
// create VMs as far as code signing goes: elsewhere than macOS always;
// on macOS when it runs signed (SignedVar).
func RequireEntitlement(t testing.TB) {
	t.Helper()
	if reason := entitlementProblem(entitlementNeeded); reason != "" {
		Missing(t, reason)
	}
}

func entitlementProblem(needed bool) string {
	switch {
	case !needed || os.Getenv(SignedVar) == "1":
		return ""
	case unsignedReason != "":
		return unsignedReason
	}
	return "this test binary is not signed with the virtualization entitlement: call testenv.MainWithEntitlement from TestMain, or " + signByHand()
}

// SignForVMs signs the executable at path so that it may create VMs: on
// macOS ad hoc with the virtualization entitlement, in place; elsewhere it
// does nothing. Tests use it on the berth binaries they build.
func SignForVMs(path string) error {
	if !entitlementNeeded {
		return nil
	}
	cs, err := exec.LookPath("codesign")
	if err != nil {
		return fmt.Errorf("sign %s: codesign not found (install Xcode's command line tools: xcode-select --install): %w", path, err)
	}
	ent, err := entitlements()
	if err != nil {
		return fmt.Errorf("sign %s: %w", path, err)
	}
	return codesign(cs, ent, path)
}

// runSigned copies exe to a temporary directory, signs the copy and runs
// it with args and SignedVar=1, forwarding the usual stop signals; it
// returns the copy's exit status. An error means nothing was run.
func runSigned(exe string, args []string) (int, error) {
	cs, err := exec.LookPath("codesign")
	if err != nil {
		return 0, fmt.Errorf("codesign not found, so this test binary cannot get the virtualization entitlement: install Xcode's command line tools (xcode-select --install), or %s", signByHand())
	}
	ent, err := entitlements()
	if err != nil {
		return 0, fmt.Errorf("cannot sign this test binary for VMs: %v; %s", err, signByHand())
	}
	dir, err := os.MkdirTemp("", "berth-signed-test-")
	if err != nil {
		return 0, fmt.Errorf("copy the test binary to sign it: %w", err)
	}
	defer os.RemoveAll(dir)
	signed := filepath.Join(dir, filepath.Base(exe))
	if err := copyFile(exe, signed); err != nil {
		return 0, fmt.Errorf("copy the test binary to sign it: %w", err)
	}
	if err := codesign(cs, ent, signed); err != nil {
		return 0, fmt.Errorf("%v; %s", err, signByHand())
	}
	cmd := exec.Command(signed, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), SignedVar+"=1")
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("run the signed test binary: %w", err)
	}
	// The copy shares our process group, so a terminal's Ctrl-C reaches
	// it; a signal sent to this process alone (go test's own timeout) is
	// passed on.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		if code := ee.ExitCode(); code >= 0 {
			return code, nil
		}
		fmt.Fprintf(os.Stderr, "testenv: the signed test binary %s\n", ee)
		return 1, nil
	}
	fmt.Fprintf(os.Stderr, "testenv: the signed test binary: %v\n", err)
	return 1, nil
}

// codesignArgs signs path ad hoc with the entitlements file ent.
func codesignArgs(ent, path string) []string {
	return []string{"-f", "-s", "-", "--entitlements", ent, path}
}

func codesign(cs, ent, path string) error {
	out, err := exec.Command(cs, codesignArgs(ent, path)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("codesign %s: %v: %s", strings.Join(codesignArgs(ent, path), " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// signByHand is the command that signs and runs this package's tests.
func signByHand() string {
	pkg, name := "./PACKAGE", "pkg.test"
	if root, err := moduleRoot(); err == nil {
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(root, wd); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
				pkg, name = "./"+filepath.ToSlash(rel), filepath.Base(rel)+".test"
			}
		}
	}
	return fmt.Sprintf("sign it by hand from the module root: go test -c -o /tmp/%s %s && codesign %s && %s=1 /tmp/%s -test.v",
		name, pkg, strings.Join(codesignArgs(EntitlementsFile, "/tmp/"+name), " "), SignedVar, name)
}

// entitlements finds resources/berth.entitlements in the module that
// holds the working directory (go test runs tests in their package's
// directory).
func entitlements() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, filepath.FromSlash(EntitlementsFile))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("entitlements file: %w", err)
	}
	return p, nil
}

// moduleRoot is the directory of Berth's go.mod at or above the working
// directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if strings.TrimSpace(line) == "module "+modulePath {
					return dir, nil
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s above the working directory", modulePath)
		}
		dir = parent
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
