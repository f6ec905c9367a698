package guest

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// The agent is PID 1: a signal a container's process sends it must not
// end it. In a helper process (a signal that kills it must not kill the
// test), each signal that would end or crash a Go program is sent to
// itself; the helper then still answers.
func TestSurviveSignals(t *testing.T) {
	if os.Getenv("BERTH_SIGNALS_HELPER") == "1" {
		SurviveSignals()
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1,
			syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGQUIT, syscall.SIGABRT, syscall.SIGALRM, syscall.SIGTRAP,
			syscall.SIGSYS, syscall.SIGXCPU, syscall.SIGPWR, syscall.Signal(40)} {
			syscall.Kill(os.Getpid(), sig)
			time.Sleep(20 * time.Millisecond)
		}
		os.Stdout.WriteString("survived\n")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSurviveSignals$")
	cmd.Env = append(os.Environ(), "BERTH_SIGNALS_HELPER=1")
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "survived\n" {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	// A process it starts still stops on SIGTERM: the signal is handled,
	// not ignored (SIG_IGN would pass to the child).
	stop := SurviveSignals()
	defer stop()
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	child.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		child.Process.Kill()
		t.Fatal("a child of the agent ignores SIGTERM")
	}
}
