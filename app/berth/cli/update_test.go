package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/spf13/cobra"
)

func TestRestartFlag(t *testing.T) {
	cases := []struct {
		args    []string
		want    api.RestartPolicy
		wantErr string
	}{
		{nil, api.RestartPolicy{Name: "no"}, ""},
		{[]string{"--restart", "always"}, api.RestartPolicy{Name: "always"}, ""},
		{[]string{"--restart=on-failure:2"}, api.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, ""},
		{[]string{"--restart", "unless-stopped"}, api.RestartPolicy{Name: "unless-stopped"}, ""},
		{[]string{"--restart", "no", "--rm"}, api.RestartPolicy{Name: "no"}, ""},
		{[]string{"--restart", "on-failure:-1"}, api.RestartPolicy{}, "maximum retry count cannot be negative"},
		{[]string{"--restart", "always:1"}, api.RestartPolicy{}, "can only be used with 'on-failure'"},
		{[]string{"--restart", "maybe"}, api.RestartPolicy{}, "unknown policy 'maybe'"},
		{[]string{"--restart", "always", "--rm"}, api.RestartPolicy{}, "Conflicting options: --restart and --rm"},
		{[]string{"--rm", "--restart", "on-failure"}, api.RestartPolicy{}, "Conflicting options: --restart and --rm"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			spec, err := runSpec(t, tc.args...)
			if tc.wantErr != "" {
				wantUsageError(t, err, tc.wantErr)
				return
			}
			if err != nil || spec.RestartPolicy != tc.want {
				t.Fatalf("policy %+v, err %v; want %+v", spec.RestartPolicy, err, tc.want)
			}
		})
	}
}

func TestUpdateFlags(t *testing.T) {
	two, mib := 2, 1024
	cases := []struct {
		args    []string
		want    api.ContainerUpdate
		wantErr string
	}{
		{[]string{"--restart", "always"}, api.ContainerUpdate{RestartPolicy: &api.RestartPolicy{Name: "always"}}, ""},
		{[]string{"-c", "2", "-m", "1g"}, api.ContainerUpdate{CPUs: &two, MemoryMiB: &mib}, ""},
		{nil, api.ContainerUpdate{}, "you must provide one or more flags"},
		{[]string{"--restart", "on-failure:-1"}, api.ContainerUpdate{}, "cannot be negative"},
		{[]string{"--cpus", "0"}, api.ContainerUpdate{}, "must be at least 1"},
		{[]string{"--memory", "lots"}, api.ContainerUpdate{}, "lots"},
		{[]string{"--cpu-shares", "512"}, api.ContainerUpdate{}, "--cpu-shares is not supported"},
		{[]string{"--pids-limit", "10", "--restart", "no"}, api.ContainerUpdate{}, "--pids-limit is not supported"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var f updateFlags
			cmd := &cobra.Command{Use: "update"}
			f.register(cmd)
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			u, err := f.update(cmd)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || exitCodeOf(err) != ExitUsage {
					t.Fatalf("err %v, want a usage error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !samePtr(u.RestartPolicy, tc.want.RestartPolicy) || !samePtr(u.CPUs, tc.want.CPUs) || !samePtr(u.MemoryMiB, tc.want.MemoryMiB) {
				t.Fatalf("update %+v, want %+v", u, tc.want)
			}
		})
	}
}

func samePtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func TestStatusRestarting(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := api.Container{State: api.StateRestarting, ExitCode: 1, Finished: now.Add(-3 * time.Second), Started: now.Add(-5 * time.Second)}
	if got := status(c, now); got != "Restarting (1) 3 seconds ago" {
		t.Fatalf("status %q", got)
	}
	c.State = api.StateRunning
	c.Started = now.Add(-2 * time.Second)
	if got := status(c, now); got != "Up 2 seconds" {
		t.Fatalf("status %q", got)
	}
}
