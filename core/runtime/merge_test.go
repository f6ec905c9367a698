package runtime

import (
	"errors"
	"reflect"
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
