package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireAllVar is the environment variable that turns skips into failures.
const RequireAllVar = "BERTH_REQUIRE_ALL"

// RequireAll reports whether missing prerequisites must fail the run.
func RequireAll() bool { return os.Getenv(RequireAllVar) == "1" }

// Missing ends the test because a prerequisite is absent: a skip normally,
// a failure under BERTH_REQUIRE_ALL=1. The reason should say what is
// missing and how to get it ("no guest kernel: run make deps").
func Missing(t testing.TB, reason string) {
	t.Helper()
	if RequireAll() {
		t.Fatalf("%s (required because %s=1)", reason, RequireAllVar)
		return
	}
	t.Skip(reason)
}

// Tool returns the path of an executable on PATH or ends the test through
// Missing, naming the Debian package that provides it.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" not found on PATH: install it with apt-get install "+debianPackage)
	}
	return p
}

// Root ends the test through Missing unless it runs as root.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root (mounts, chroot or device access)")
	}
}
