package cli

import (
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/spf13/cobra"
)

func TestLogOptFlags(t *testing.T) {
	cases := []struct {
		args    []string
		want    api.LogConfig
		wantErr string
	}{
		{nil, api.LogConfig{}, ""},
		{[]string{"--log-opt", "max-size=10m", "--log-opt", "max-file=5"}, api.LogConfig{MaxSize: 10_000_000, MaxFiles: 5}, ""},
		{[]string{"--log-driver", "json-file", "--log-opt", "max-size=1g"}, api.LogConfig{MaxSize: 1_000_000_000}, ""},
		{[]string{"--log-driver", "local", "--log-opt", "max-file=1"}, api.LogConfig{MaxFiles: 1}, ""},
		{[]string{"--log-driver", "syslog"}, api.LogConfig{}, `log driver "syslog" is not supported by Berth`},
		{[]string{"--log-opt", "max-size"}, api.LogConfig{}, `invalid log opt "max-size": want KEY=VALUE`},
		{[]string{"--log-opt", "max-size=big"}, api.LogConfig{}, "invalid size: 'big'"},
		{[]string{"--log-opt", "max-file=0"}, api.LogConfig{}, "max-file cannot be less than 1"},
		{[]string{"--log-opt", "mode=non-blocking"}, api.LogConfig{}, "log opt 'mode' is not supported by Berth"},
		{[]string{"--log-opt", "colour=red"}, api.LogConfig{}, "unknown log opt 'colour' for json-file log driver"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			spec, err := runSpec(t, tc.args...)
			if tc.wantErr != "" {
				wantUsageError(t, err, tc.wantErr)
				return
			}
			if err != nil || spec.Log != tc.want {
				t.Fatalf("log %+v, err %v; want %+v", spec.Log, err, tc.want)
			}
		})
	}
}

// runSpec is the container spec berth run's flags args make, for the
// image alpine, with no environment.
func runSpec(t *testing.T, args ...string) (api.ContainerSpec, error) {
	t.Helper()
	var f createFlags
	cmd := &cobra.Command{Use: "run"}
	f.register(cmd)
	if err := cmd.ParseFlags(append(args, "alpine")); err != nil {
		t.Fatal(err)
	}
	return f.spec(cmd, cmd.Flags().Args(), func(string) (string, bool) { return "", false })
}

// wantUsageError fails t unless err is a usage error (ExitUsage, 125)
// that says want.
func wantUsageError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) || exitCodeOf(err) != ExitUsage {
		t.Fatalf("err %v (exit %d), want a usage error with %q", err, exitCodeOf(err), want)
	}
}
