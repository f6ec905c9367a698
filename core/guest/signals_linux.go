package guest

import (
	"log/slog"
	"os"
	"os/signal"
)

// SurviveSignals keeps PID 1 alive whatever signal a container's process
// sends it (a root process's `kill -TERM 1`, `kill -QUIT 1`): the kernel
// delivers to PID 1 only the signals it has a handler for, and Go installs
// one for nearly all, whose default for SIGTERM, SIGINT, SIGHUP is to exit
// and for SIGQUIT, SIGABRT, SIGTRAP, SIGSYS to crash; PID 1 exiting panics
// the guest kernel. Every signal is taken through signal.Notify, logged
// and dropped. Not signal.Ignore: an ignored signal stays ignored in every
// process the agent starts (exec keeps SIG_IGN), while a handled one is
// reset to its default there, so the containers' processes still stop on
// SIGTERM. SIGKILL and SIGSTOP cannot reach PID 1 from inside the guest.
// stop undoes it (tests).
func SurviveSignals() (stop func()) {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch) // every signal
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				slog.Debug("berth agent: signal ignored", "signal", sig)
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
