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
			if errors.Is(re, ErrCorrupt) {
				t.Fatalf("%v matched an unrelated sentinel", re)
			}
		})
	}
}
