package runtime

import (
	"errors"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

func TestCheckTransition(t *testing.T) {
	all := []api.ContainerState{api.StateCreated, api.StateStarting, api.StateRunning, api.StateStopping,
		api.StateExited, api.StateDead, api.StatePaused}
	allowed := map[[2]api.ContainerState]bool{
		{api.StateCreated, api.StateStarting}: true, {api.StateCreated, api.StateExited}: true,
		{api.StateCreated, api.StateDead}:     true,
		{api.StateStarting, api.StateRunning}: true, {api.StateStarting, api.StateStopping}: true,
		{api.StateStarting, api.StateExited}: true, {api.StateStarting, api.StateDead}: true,
		{api.StateRunning, api.StateStopping}: true, {api.StateRunning, api.StateExited}: true,
		{api.StateRunning, api.StateDead}:    true,
		{api.StateStopping, api.StateExited}: true, {api.StateStopping, api.StateDead}: true,
		{api.StateExited, api.StateStarting}: true, {api.StateDead, api.StateStarting}: true,
		{api.StateRunning, api.StatePaused}: true, {api.StatePaused, api.StateRunning}: true,
		{api.StatePaused, api.StateStopping}: true, {api.StatePaused, api.StateExited}: true,
		{api.StatePaused, api.StateDead}: true,
	}
	for _, from := range all {
		for _, to := range all {
			err := CheckTransition(from, to)
			if allowed[[2]api.ContainerState{from, to}] != (err == nil) {
				t.Errorf("%s -> %s: %v", from, to, err)
			}
			if err != nil && !errors.Is(err, api.ErrConflict) {
				t.Errorf("%s -> %s: error %v is not ErrConflict", from, to, err)
			}
		}
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"web", "web-1", "a.b_c", "X9"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-web", "we b", "web/1", "ü", strings.Repeat("a", 129)} {
		if err := CheckName(bad); !errors.Is(err, api.ErrInvalidArgument) {
			t.Errorf("CheckName(%q) = %v, want ErrInvalidArgument", bad, err)
		}
	}
	taken := map[string]bool{}
	for range 200 {
		n := NewName(func(s string) bool { return taken[s] })
		if taken[n] || CheckName(n) != nil {
			t.Fatalf("NewName gave %q (taken %v)", n, taken[n])
		}
		taken[n] = true
	}
	if id := NewID(); len(id) != 64 || id == NewID() {
		t.Fatalf("NewID = %q", id)
	}
}

func TestResourcesAndSpec(t *testing.T) {
	host := api.Capabilities{CPUs: 4, MemoryMiB: 8192, NestedVirtualizationReason: "needs an Apple M3 or later chip and macOS 15 or later; this Mac has an Apple M1 with macOS 14.5"}
	cases := []struct {
		name    string
		spec    api.ContainerSpec
		cpus    int
		mem     int
		errWant []string
	}{
		{"defaults", api.ContainerSpec{Image: "x"}, 2, 1024, nil},
		{"explicit", api.ContainerSpec{Image: "x", CPUs: 4, MemoryMiB: 4096}, 4, 4096, nil},
		{"too many cpus", api.ContainerSpec{Image: "x", CPUs: 8}, 0, 0, []string{"--cpus 8", "has 4 CPUs"}},
		{"negative cpus", api.ContainerSpec{Image: "x", CPUs: -1}, 0, 0, []string{"--cpus -1"}},
		{"too much memory", api.ContainerSpec{Image: "x", MemoryMiB: 9000}, 0, 0, []string{"--memory 9000MiB", "8192 MiB"}},
		{"too little memory", api.ContainerSpec{Image: "x", MemoryMiB: 64}, 0, 0, []string{"at least 128 MiB"}},
		{"no image", api.ContainerSpec{}, 0, 0, []string{"no image"}},
		{"bad name", api.ContainerSpec{Image: "x", Name: "a b"}, 0, 0, []string{`invalid container name "a b"`}},
		{"bad env", api.ContainerSpec{Image: "x", Env: []string{"=v"}}, 0, 0, []string{`"=v"`}},
		{"nested unsupported", api.ContainerSpec{Image: "x", NestedVirtualization: true}, 0, 0,
			[]string{"--virtualization", "Apple M1", "macOS 14.5", "M3 or later"}},
		{"rosetta unsupported", api.ContainerSpec{Image: "x", Rosetta: true}, 0, 0, []string{"--rosetta"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSpec(tc.spec, host)
			if tc.errWant == nil {
				if err != nil {
					t.Fatal(err)
				}
				cpus, mem, _ := Resources(tc.spec, host)
				if cpus != tc.cpus || mem != tc.mem {
					t.Fatalf("resources %d/%d, want %d/%d", cpus, mem, tc.cpus, tc.mem)
				}
				return
			}
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.errWant {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestPauseAllowed(t *testing.T) {
	cases := []struct {
		st    api.ContainerState
		pause bool
		err   string // substring; "" when allowed
	}{
		{api.StateRunning, true, ""},
		{api.StatePaused, true, "is already paused"},
		{api.StateExited, true, "is not running"},
		{api.StateCreated, true, "is not running"},
		{api.StatePaused, false, ""},
		{api.StateRunning, false, "is not paused"},
		{api.StateExited, false, "is not paused"},
	}
	for _, tc := range cases {
		err := pauseAllowed("web", tc.st, tc.pause)
		if (err == nil) != (tc.err == "") || (err != nil && (!strings.Contains(err.Error(), tc.err) || !errors.Is(err, api.ErrConflict))) {
			t.Errorf("pauseAllowed(%s, pause=%v) = %v, want %q", tc.st, tc.pause, err, tc.err)
		}
	}
	if !api.StatePaused.Active() {
		t.Error("a paused container's VM runs: it must count as active")
	}
	if !signalAllowedPaused(9) || signalAllowedPaused(15) {
		t.Error("a paused container takes KILL only")
	}
}
