package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

func TestPrintVolumes(t *testing.T) {
	var b bytes.Buffer
	if err := printVolumes(&b, []api.Volume{{Name: "data", Driver: "local"}, {Name: "0123abcd", Driver: "local"}}); err != nil {
		t.Fatal(err)
	}
	want := "DRIVER    VOLUME NAME\nlocal     data\nlocal     0123abcd\n"
	if b.String() != want {
		t.Fatalf("volume ls table:\n%q\nwant\n%q", b.String(), want)
	}
}

func TestParseOptsAndFilters(t *testing.T) {
	opts, err := parseOpts([]string{"size=10g", "x=a=b"})
	if err != nil || !reflect.DeepEqual(opts, map[string]string{"size": "10g", "x": "a=b"}) {
		t.Fatalf("parseOpts = %v, %v", opts, err)
	}
	for _, bad := range []string{"size", "=10g"} {
		if _, err := parseOpts([]string{bad}); err == nil {
			t.Errorf("parseOpts(%q) accepted", bad)
		}
	}
	filters, err := parseFilters([]string{"label=env=prod", "label=tier", "dangling=true"})
	if err != nil || !reflect.DeepEqual(filters, map[string][]string{"label": {"env=prod", "tier"}, "dangling": {"true"}}) {
		t.Fatalf("parseFilters = %v, %v", filters, err)
	}
	if _, err := parseFilters([]string{"dangling"}); err == nil {
		t.Error("parseFilters(dangling) accepted")
	}
}

// Command lines that are wrong fail as usage errors before any daemon
// is started.
func TestVolumeUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"volume", "create", "-d", "nfs", "data"}, `volume driver "nfs" is not available`},
		{[]string{"volume", "create", "-o", "size", "data"}, `-o "size": want KEY=VALUE`},
		{[]string{"volume", "create", "a", "b"}, `expects [VOLUME], got 2`},
		{[]string{"volume", "ls", "--filter", "dangling"}, `--filter "dangling": want KEY=VALUE`},
		{[]string{"volume", "rm"}, `expects VOLUME [VOLUME...], got 0`},
		{[]string{"volume", "inspect"}, `expects VOLUME [VOLUME...], got 0`},
		{[]string{"volume", "prune", "x"}, `unknown command "x"`},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			home := t.TempDir()
			var out, errb bytes.Buffer
			code := Main(context.Background(), append([]string{"--home", home}, tc.args...), Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != ExitUsage || !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d with %q", code, errb.String(), ExitUsage, tc.want)
			}
			if _, err := os.Stat(filepath.Join(home, "berth.sock")); err == nil {
				t.Fatal("a usage error started a daemon")
			}
		})
	}
}
