// Package cli is the `berth` command line: a docker-like cobra tree whose
// commands are thin clients of the daemon API (core/client). It starts the
// daemon in the background when none answers (autostart.go), renders
// replies as tables, JSON or Go templates (format.go), and maps errors to
// docker's exit codes (errors.go). Decisions belong in core packages, not
// here.
package cli
