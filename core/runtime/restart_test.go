package runtime

import (
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

func TestDecideRestart(t *testing.T) {
	no := api.RestartPolicy{Name: api.RestartNo}
	always := api.RestartPolicy{Name: api.RestartAlways}
	unless := api.RestartPolicy{Name: api.RestartUnlessStopped}
	onFailure := api.RestartPolicy{Name: api.RestartOnFailure}
	onFailure2 := api.RestartPolicy{Name: api.RestartOnFailure, MaximumRetryCount: 2}
	ms := time.Millisecond
	cases := []struct {
		name    string
		f       RestartFacts
		restart bool
		delay   time.Duration
	}{
		{"no policy", RestartFacts{ExitCode: 1}, false, 0},
		{"no", RestartFacts{Policy: no, ExitCode: 1}, false, 0},
		{"always, exit 0", RestartFacts{Policy: always}, true, 100 * ms},
		{"always, exit 1", RestartFacts{Policy: always, ExitCode: 1}, true, 100 * ms},
		{"always, stopped by a user", RestartFacts{Policy: always, ExitCode: 143, ManuallyStopped: true}, false, 0},
		{"always, stopped by a user, daemon start", RestartFacts{Policy: always, ExitCode: 143, ManuallyStopped: true,
			DaemonStart: true, EverStarted: true}, true, 0},
		{"always, never started, daemon start", RestartFacts{Policy: always, DaemonStart: true}, false, 0},
		{"unless-stopped, exit 0", RestartFacts{Policy: unless}, true, 100 * ms},
		{"unless-stopped, stopped by a user", RestartFacts{Policy: unless, ManuallyStopped: true}, false, 0},
		{"unless-stopped, stopped by a user, daemon start", RestartFacts{Policy: unless, ManuallyStopped: true,
			DaemonStart: true, EverStarted: true}, false, 0},
		{"unless-stopped, VM lost, daemon start", RestartFacts{Policy: unless, ExitCode: 255, DaemonStart: true,
			EverStarted: true}, true, 0},
		{"on-failure, exit 0", RestartFacts{Policy: onFailure}, false, 0},
		{"on-failure, exit 1", RestartFacts{Policy: onFailure, ExitCode: 1, Restarts: 50}, true, 100 * ms},
		{"on-failure:2, first", RestartFacts{Policy: onFailure2, ExitCode: 1}, true, 100 * ms},
		{"on-failure:2, second", RestartFacts{Policy: onFailure2, ExitCode: 1, Restarts: 1, LastDelay: 100 * ms}, true, 200 * ms},
		{"on-failure:2, spent", RestartFacts{Policy: onFailure2, ExitCode: 1, Restarts: 2, LastDelay: 200 * ms}, false, 0},
		{"on-failure, killed by a user", RestartFacts{Policy: onFailure, ExitCode: 137, ManuallyStopped: true}, false, 0},
		{"on-failure, daemon start after a crash", RestartFacts{Policy: onFailure, ExitCode: 255, DaemonStart: true,
			EverStarted: true}, true, 0},
		{"on-failure:2, spent, daemon start", RestartFacts{Policy: onFailure2, ExitCode: 255, Restarts: 2,
			DaemonStart: true, EverStarted: true}, false, 0},
		{"back-off doubles", RestartFacts{Policy: always, LastDelay: 800 * ms, Ran: 9 * time.Second}, true, 1600 * ms},
		{"back-off resets after 10s", RestartFacts{Policy: always, LastDelay: 800 * ms, Ran: 10 * time.Second}, true, 100 * ms},
		{"back-off is capped", RestartFacts{Policy: always, LastDelay: 40 * time.Second}, true, time.Minute},
		{"unknown policy", RestartFacts{Policy: api.RestartPolicy{Name: "sometimes"}, ExitCode: 1}, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := DecideRestart(tc.f, DefaultBackoff)
			if d.Restart != tc.restart || d.Delay != tc.delay || d.Why == "" {
				t.Fatalf("DecideRestart(%+v) = %+v; want restart %v after %v, with a reason", tc.f, d, tc.restart, tc.delay)
			}
		})
	}
}

// TestRestartBackoffSequence follows docker's sequence over many quick
// failures: 100 ms doubling to the one-minute cap.
func TestRestartBackoffSequence(t *testing.T) {
	var got []time.Duration
	f := RestartFacts{Policy: api.RestartPolicy{Name: api.RestartAlways}, ExitCode: 1, Ran: time.Second}
	for range 12 {
		d := DecideRestart(f, DefaultBackoff)
		got = append(got, d.Delay)
		f.LastDelay, f.Restarts = d.Delay, f.Restarts+1
	}
	ms := time.Millisecond
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms, 12800 * ms,
		25600 * ms, 51200 * ms, time.Minute, time.Minute}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
}

func TestRestartTransitions(t *testing.T) {
	for _, tc := range []struct {
		from, to api.ContainerState
		ok       bool
	}{
		{api.StateExited, api.StateRestarting, true},
		{api.StateDead, api.StateRestarting, true},
		{api.StateRestarting, api.StateStarting, true},
		{api.StateRestarting, api.StateExited, true},
		{api.StateCreated, api.StateRestarting, false},
		{api.StateRunning, api.StateRestarting, false},
		{api.StateRestarting, api.StateRunning, false},
	} {
		if err := CheckTransition(tc.from, tc.to); (err == nil) != tc.ok {
			t.Errorf("%s -> %s: %v, want allowed %v", tc.from, tc.to, err, tc.ok)
		}
	}
}
