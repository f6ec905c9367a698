package runtime

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
)

func TestMerge(t *testing.T) {
	img := ImageConfig{Entrypoint: []string{"/entry"}, Cmd: []string{"serve"}, Env: []string{"PATH=/img/bin", "A=1"}, WorkingDir: "/app", User: "www"}
	cases := []struct {
		name    string
		img     ImageConfig
		o       Overrides
		want    proto.ProcessSpec
		wantErr error
	}{
		{"image only", img, Overrides{},
			proto.ProcessSpec{Args: []string{"/entry", "serve"}, Env: []string{"PATH=/img/bin", "A=1"}, Cwd: "/app", User: "www"}, nil},
		{"cmd override keeps entrypoint", img, Overrides{Cmd: []string{"debug"}},
			proto.ProcessSpec{Args: []string{"/entry", "debug"}, Env: []string{"PATH=/img/bin", "A=1"}, Cwd: "/app", User: "www"}, nil},
		{"entrypoint override drops image cmd", img, Overrides{Entrypoint: []string{"/bin/sh"}},
			proto.ProcessSpec{Args: []string{"/bin/sh"}, Env: []string{"PATH=/img/bin", "A=1"}, Cwd: "/app", User: "www"}, nil},
		{"env, user, workdir, tty", img, Overrides{Env: []string{"A=2", "B=3"}, User: "0:0", WorkingDir: "/w", Terminal: true, AdditionalGroups: []string{"audio"}},
			proto.ProcessSpec{Args: []string{"/entry", "serve"}, Env: []string{"PATH=/img/bin", "A=2", "B=3", "TERM=xterm"}, Cwd: "/w", User: "0:0", Terminal: true, AdditionalGroups: []string{"audio"}}, nil},
		{"defaults", ImageConfig{Cmd: []string{"sh"}}, Overrides{},
			proto.ProcessSpec{Args: []string{"sh"}, Env: []string{"PATH=" + proto.DefaultPath}, Cwd: "/"}, nil},
		{"no command", ImageConfig{}, Overrides{}, proto.ProcessSpec{}, api.ErrInvalidArgument},
		{"bad env", img, Overrides{Env: []string{"NOEQUALS"}}, proto.ProcessSpec{}, api.ErrInvalidArgument},
		{"relative workdir", img, Overrides{WorkingDir: "rel"}, proto.ProcessSpec{}, api.ErrInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Merge(tc.img, tc.o)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// A command and environment past Linux's exec limits are refused with the
// limit named, not sent to a guest that cannot start them.
func TestMergeExecLimits(t *testing.T) {
	img := ImageConfig{Cmd: []string{"sh"}}
	many := func(n, size int) []string {
		var env []string
		for i := range n {
			env = append(env, fmt.Sprintf("V%d=%s", i, strings.Repeat("x", size)))
		}
		return env
	}
	for _, tc := range []struct {
		name string
		o    Overrides
		want string // "" : accepted
	}{
		{"1.5 MiB in many variables", Overrides{Env: many(15, 100<<10)}, ""},
		{"9 MB in many variables", Overrides{Env: many(90, 100<<10)}, "2 MiB"},
		{"one 200 KB variable", Overrides{Env: []string{"BIG=" + strings.Repeat("x", 200<<10)}}, "environment variable BIG is"},
		{"one 200 KB argument", Overrides{Cmd: []string{"echo", strings.Repeat("x", 200<<10)}}, "argument 1 of the command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Merge(img, tc.o)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Merge: %v", err)
				}
				return
			}
			if !errors.Is(err, api.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Merge: %v; want invalid argument saying %q", err, tc.want)
			}
		})
	}
}
