package registrytest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the registry die with the test process even when
// the test binary ends without running its cleanups (a crash, a kill).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
