package cli

import (
	"errors"
	"fmt"
)

// Exit codes, following docker's conventions.
const (
	ExitOK          = 0
	ExitError       = 1   // the operation failed (not found, conflict…)
	ExitUsage       = 125 // the command line or the daemon failed, not the container
	ExitCannotRun   = 126 // the container's command cannot be invoked
	ExitCmdNotFound = 127 // the container's command was not found
	ExitInterrupted = 130 // Ctrl-C before the container ran (128 + SIGINT)
)

// usageError is a mistake in the command line itself.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// exitError carries a specific exit code (a container's, or 125 for a
// daemon failure). A nil err means: exit with code, print nothing.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// withCode makes err exit with code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// exitCodeOf picks the exit code for err.
func exitCodeOf(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitError
}

// plainError is printed as it is, without berth's "Error: " in front:
// its text is docker's own ("Error response from daemon: …").
type plainError struct{ err error }

func (e *plainError) Error() string { return e.err.Error() }
func (e *plainError) Unwrap() error { return e.err }
