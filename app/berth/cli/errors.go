package cli

// How berth reports a failure (one style for every command):
//
//   - A mistake in the command line, found before anything was done:
//     "berth: <message>" and "See 'berth <command> --help'.", exit 125
//     (docker's "docker: invalid reference format.").
//   - Anything else, whether the CLI or the daemon found it:
//     "Error: <message>", exit 1 (or 125 when berth or the daemon failed
//     a run, 126/127 for a command that cannot run). Berth does not say
//     "Error response from daemon": its daemon is an implementation detail,
//     and the same message may come from either side.
//
// The message is the error's text without the api sentinel it wraps
// (": not found", ": conflict", …): the sentinel picks the exit code and
// is checked with errors.Is, the words before it are for the person.
// testdata/errors.golden (TestErrorMessages) holds every message a user
// commonly meets, word for word.

import (
	"errors"
	"fmt"
	"strings"

	"github.com/berthvm/berth/core/api"
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

// sentinelTexts are the words of the general api sentinels, which end a
// wrapped error's text ("no such container: x: not found").
var sentinelTexts = func() []string {
	var out []string
	for _, e := range []error{api.ErrNotFound, api.ErrAlreadyExists, api.ErrInvalidArgument, api.ErrConflict,
		api.ErrUnsupported, api.ErrUnavailable, api.ErrCorrupt, api.ErrCanceled} {
		out = append(out, e.Error())
	}
	return out
}()

// userText is err's message for a person: without the sentinels' words
// at its end (see the file's comment).
func userText(err error) string {
	msg := err.Error()
	for trimmed := true; trimmed; {
		trimmed = false
		for _, kind := range sentinelTexts {
			for _, sep := range []string{": ", "\n"} {
				if rest, ok := strings.CutSuffix(msg, sep+kind); ok && rest != "" {
					msg, trimmed = rest, true
				}
			}
		}
	}
	return msg
}
