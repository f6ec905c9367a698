package api

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every package wraps one of these (fmt.Errorf("...: %w",
// ErrNotFound)) so that callers, and the client on the far side of the
// daemon socket, can test the kind with errors.Is while the text stays
// specific to the object and the next step.
var (
	// ErrNotFound: the named object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: an object with that name or id already exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidArgument: the request itself is wrong (bad flag value, bad reference).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrConflict: the object is in a state that forbids the operation
	// (removing a running container, deleting an image in use).
	ErrConflict = errors.New("conflict")
	// ErrUnsupported: this host cannot do it (nested virtualization on an M1).
	ErrUnsupported = errors.New("unsupported")
	// ErrUnavailable: a needed service or resource cannot be reached
	// (daemon not running, registry down, data dir locked by another daemon).
	ErrUnavailable = errors.New("unavailable")
	// ErrCorrupt: stored or received data failed verification.
	ErrCorrupt = errors.New("corrupt data")
	// ErrCanceled: the operation was canceled by the caller.
	ErrCanceled = errors.New("canceled")

	// ErrCommandNotFound: a container's command does not exist in its
	// image (docker's exit status 127). It is also an ErrNotFound.
	ErrCommandNotFound error = &kindError{"command not found", ErrNotFound}
	// ErrCommandNotRunnable: a container's command exists but cannot be
	// run: permission, wrong architecture (docker's 126). It is also an
	// ErrInvalidArgument.
	ErrCommandNotRunnable error = &kindError{"command cannot be run", ErrInvalidArgument}
)

// kindError is a sentinel that is also a more general one, without
// repeating the general one's words in its message.
type kindError struct {
	msg    string
	parent error
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.parent }

// ErrorCode names a sentinel on the wire. The zero value means "unknown".
type ErrorCode string

// Codes for the sentinels above, stable across versions.
const (
	CodeUnknown         ErrorCode = ""
	CodeNotFound        ErrorCode = "not_found"
	CodeAlreadyExists   ErrorCode = "already_exists"
	CodeInvalidArgument ErrorCode = "invalid_argument"
	CodeConflict        ErrorCode = "conflict"
	CodeUnsupported     ErrorCode = "unsupported"
	CodeUnavailable     ErrorCode = "unavailable"
	CodeCorrupt         ErrorCode = "corrupt"
	CodeCanceled        ErrorCode = "canceled"

	CodeCommandNotFound    ErrorCode = "command_not_found"
	CodeCommandNotRunnable ErrorCode = "command_not_runnable"
)

// codeSentinels is searched in order: the specific sentinels come before
// the general ones they wrap.
var codeSentinels = []struct {
	code ErrorCode
	err  error
}{
	{CodeCommandNotFound, ErrCommandNotFound},
	{CodeCommandNotRunnable, ErrCommandNotRunnable},
	{CodeNotFound, ErrNotFound},
	{CodeAlreadyExists, ErrAlreadyExists},
	{CodeInvalidArgument, ErrInvalidArgument},
	{CodeConflict, ErrConflict},
	{CodeUnsupported, ErrUnsupported},
	{CodeUnavailable, ErrUnavailable},
	{CodeCorrupt, ErrCorrupt},
	{CodeCanceled, ErrCanceled},
}

// CodeOf returns the code of the first sentinel err wraps.
func CodeOf(err error) ErrorCode {
	for _, cs := range codeSentinels {
		if errors.Is(err, cs.err) {
			return cs.code
		}
	}
	return CodeUnknown
}

// RemoteError is an error that came back over the daemon socket. Its
// message is the daemon's full text; Is reports the sentinel its code names,
// so errors.Is works on both sides of the socket.
type RemoteError struct {
	Code    ErrorCode `json:"code,omitempty"`
	Message string    `json:"message"`
}

func (e *RemoteError) Error() string { return e.Message }

// Is lets errors.Is(remoteErr, api.ErrNotFound) succeed, including for
// the general sentinels a specific one wraps.
func (e *RemoteError) Is(target error) bool {
	for _, cs := range codeSentinels {
		if cs.code == e.Code {
			return errors.Is(cs.err, target)
		}
	}
	return false
}

// ToRemote converts any error into its wire form.
func ToRemote(err error) *RemoteError {
	if err == nil {
		return nil
	}
	// A remote error passed on as it came keeps its code; one wrapped
	// here with more context keeps that context (its code is found
	// through it).
	if re, ok := err.(*RemoteError); ok {
		return re
	}
	return &RemoteError{Code: CodeOf(err), Message: err.Error()}
}

// Errorf wraps a sentinel with a message: Errorf(ErrNotFound, "image %q", ref)
// reads "image \"x\": not found" … callers usually prefer fmt.Errorf with
// their own wording; this is for the common "<what>: <kind>" shape.
func Errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), kind)
}

// ExitDataDirBusy is the exit status of `berth daemon` when another daemon
// owns its data dir: whoever started it (the CLI, the menu-bar app) then
// waits for that one instead.
const ExitDataDirBusy = 3

// Exactly is an error of kind whose message is the text alone, for
// messages whose wording is docker's own ("Could not find the file /x in
// container web"): errors.Is(err, kind) holds, and the text does not end
// in the kind's name.
func Exactly(kind error, format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), parent: kind}
}
