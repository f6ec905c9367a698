package api

import (
	"errors"
	"fmt"
	"testing"
)

func TestRemoteErrorRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"not found", fmt.Errorf("container %q: %w", "web", ErrNotFound), ErrNotFound},
		{"conflict", fmt.Errorf("remove: %w", fmt.Errorf("running: %w", ErrConflict)), ErrConflict},
		{"unavailable", Errorf(ErrUnavailable, "daemon"), ErrUnavailable},
		{"plain", errors.New("boom"), nil},
		{"command not found", fmt.Errorf("start %q: %w", "nope", ErrCommandNotFound), ErrCommandNotFound},
		{"command not found is not found", fmt.Errorf("start: %w", ErrCommandNotFound), ErrNotFound},
		{"not runnable", fmt.Errorf("start: %w", ErrCommandNotRunnable), ErrInvalidArgument},
		// A network process's error, passed on with the container's name.
		{"wrapped remote", fmt.Errorf("container web: %w", &RemoteError{Code: CodeConflict, Message: "port 80 in use: conflict"}), ErrConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			re := ToRemote(tc.err)
			if re.Message != tc.err.Error() {
				t.Fatalf("message %q, want %q", re.Message, tc.err.Error())
			}
			if tc.want == nil {
				if re.Code != CodeUnknown {
					t.Fatalf("code %q, want unknown", re.Code)
				}
				if errors.Is(re, ErrNotFound) {
					t.Fatal("unknown error matched ErrNotFound")
				}
				return
			}
			if !errors.Is(re, tc.want) {
				t.Fatalf("errors.Is(%v, %v) = false", re, tc.want)
			}
			if errors.Is(re, ErrCorrupt) || (tc.want == ErrNotFound && errors.Is(re, ErrCommandNotRunnable)) {
				t.Fatalf("%v matched an unrelated sentinel", re)
			}
		})
	}
}

func TestSpecificCodes(t *testing.T) {
	if CodeOf(fmt.Errorf("x: %w", ErrCommandNotFound)) != CodeCommandNotFound {
		t.Fatal("specific code lost to the general one")
	}
	if re := ToRemote(fmt.Errorf("x: %w", ErrNotFound)); errors.Is(re, ErrCommandNotFound) {
		t.Fatal("a plain not-found matched ErrCommandNotFound")
	}
}
