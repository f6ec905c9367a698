package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/berthvm/berth/core/api"
)

func TestCheckImageRef(t *testing.T) {
	for ref, ok := range map[string]bool{
		"alpine": true, "alpine:3": true, "berth/demo": true, "localhost:5000/app:1": true,
		"ghcr.io/org/app@sha256:" + fmt.Sprintf("%064d", 0): true,
		"./x": false, "/x": false, "Alpine": false, "a//b": false, "x:": false,
	} {
		if err := checkImageRef(ref); (err == nil) != ok {
			t.Errorf("checkImageRef(%q) = %v, want ok %v", ref, err, ok)
		}
	}
}

func TestOneEditApart(t *testing.T) {
	cases := map[[2]string]bool{
		{"alpine:latest", "alpin:latest"}: true, {"alpine:latest", "alpime:latest"}: true,
		{"alpine:latest", "xalpine:latest"}: true, {"alpine:latest", "alpine:latest"}: false,
		{"alpine:latest", "alp:latest"}: false,
	}
	for in, want := range cases {
		if got := oneEditApart(in[0], in[1]); got != want {
			t.Errorf("oneEditApart(%q, %q) = %v", in[0], in[1], got)
		}
	}
}

func TestUserText(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("no such container: x: %w", api.ErrNotFound), "no such container: x"},
		{&api.RemoteError{Code: api.CodeConflict, Message: "container a is not running: conflict"}, "container a is not running"},
		{fmt.Errorf("start: %w", errors.Join(errors.New("context canceled"), api.ErrCanceled)), "start: context canceled"},
		{fmt.Errorf("port 80 is not found in the list"), "port 80 is not found in the list"},
		{api.ErrNotFound, "not found"},
	}
	for _, tc := range cases {
		if got := userText(tc.err); got != tc.want {
			t.Errorf("userText(%q) = %q, want %q", tc.err, got, tc.want)
		}
		if exitCodeOf(tc.err) != ExitError {
			t.Errorf("exit code of %q changed", tc.err)
		}
	}
}
