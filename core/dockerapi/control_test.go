package dockerapi

import (
	"bufio"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi/types"
)

func stopped() api.Container {
	return api.Container{ID: strings.Repeat("b", 64), Name: "old", State: api.StateExited, Created: time.Now().Add(-time.Hour),
		Spec: api.ContainerSpec{Labels: map[string]string{"keep": "yes"}}}
}

func paused() api.Container {
	c := running()
	c.ID, c.Name, c.State = strings.Repeat("d", 64), "frozen", api.StatePaused
	return c
}

// TestContainerControl walks the endpoints in order against one fake:
// each row may depend on the ones before it.
func TestContainerControl(t *testing.T) {
	f := newFake(running(), stopped(), paused())
	srv := testServer(t, f)
	a, b, d := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("d", 64)
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string // in the body
	}{
		{"POST", "/v1.47/containers/web/start", "", 304, ""},
		{"POST", "/v1.47/containers/frozen/start", "", 409, "cannot start a paused container, try unpause instead"},
		{"POST", "/v1.47/containers/old/stop", "", 304, ""},
		{"POST", "/v1.47/containers/web/stop", "", 204, ""},

		{"GET", "/v1.47/containers/web/top", "", 200, `{"Titles":["UID","PID","PPID","C","STIME","TTY","TIME","CMD"],"Processes":[["root","1","0","10",`},
		{"GET", "/v1.47/containers/web/top?ps_args=-ef", "", 200, `"Titles":["UID"`},
		{"GET", "/v1.47/containers/web/top?ps_args=aux", "", 400, `ps_args \"aux\": Berth reads processes from the guest's /proc`},
		{"GET", "/v1.47/containers/old/top", "", 409, `{"message":"Container ` + b + ` is not running"}`},
		{"GET", "/v1.47/containers/nope/top", "", 404, "No such container: nope"},

		{"POST", "/v1.47/containers/old/pause", "", 409, `{"message":"Container ` + b + ` is not running"}`},
		{"POST", "/v1.47/containers/frozen/pause", "", 409, `{"message":"Container ` + d + ` is already paused"}`},
		{"POST", "/v1.47/containers/web/unpause", "", 409, `{"message":"Container ` + a + ` is not paused"}`},
		{"POST", "/v1.47/containers/web/pause", "", 204, ""},
		{"GET", "/v1.47/containers/web/json", "", 200, `"Status":"paused"`},
		{"POST", "/v1.47/containers/web/unpause", "", 204, ""},
		{"GET", "/v1.47/containers/web/json", "", 200, `"Status":"running"`},
		{"POST", "/v1.47/containers/nope/pause", "", 404, "No such container: nope"},

		{"POST", "/v1.47/containers/web/rename?name=old", "", 409,
			`{"message":"Conflict. The container name \"/old\" is already in use by container \"` + b + `\". You have to remove (or rename) that container to be able to reuse that name."}`},
		{"POST", "/v1.47/containers/web/rename?name=web", "", 400, "Renaming a container with the same name as its current name"},
		{"POST", "/v1.47/containers/web/rename?name=", "", 400, "Neither old nor new names may be empty"},
		{"POST", "/v1.47/containers/web/rename?name=bad%20name", "", 400, "Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"POST", "/v1.47/containers/web/rename?name=front", "", 204, ""},
		{"GET", "/v1.47/containers/front/json", "", 200, `"Name":"/front"`},

		{"POST", "/v1.47/containers/front/update", `{"RestartPolicy":{"Name":"always"},"Memory":0,"CpuShares":0,"PidsLimit":null,"BlkioWeightDevice":null}`, 200, `{"Warnings":[]}`},
		{"POST", "/v1.47/containers/front/update", `{"Memory":536870912,"NanoCpus":2000000000}`, 200, "the new ones apply from the next start"},
		{"POST", "/v1.47/containers/old/update", `{"Memory":536870912}`, 200, `{"Warnings":[]}`},
		{"POST", "/v1.47/containers/front/update", `{"CpuShares":512}`, 400, "CpuShares cannot be updated on a Berth container"},
		{"POST", "/v1.47/containers/front/update", `{"RestartPolicy":{"Name":"sometimes"}}`, 400, "sometimes"},
		{"POST", "/v1.47/containers/front/update", `{`, 400, "decode request body"},
		{"POST", "/v1.47/containers/nope/update", `{}`, 404, "No such container: nope"},

		{"POST", "/v1.47/containers/prune?filters=" + `{"label":["keep=no"]}`, "", 200, `{"ContainersDeleted":[],"SpaceReclaimed":0}`},
		{"POST", "/v1.47/containers/prune?filters=" + `{"bogus":["x"]}`, "", 400, "invalid filter 'bogus'"},
		{"POST", "/v1.47/containers/prune?filters=" + `{"until":["soon"]}`, "", 400, "invalid filter 'until=soon'"},
		{"POST", "/v1.47/containers/prune?filters=" + `{"until":["10m"]}`, "", 200, `{"ContainersDeleted":["` + b + `"],"SpaceReclaimed":0}`},
		{"GET", "/v1.47/containers/old/json", "", 404, "No such container: old"},

		{"GET", "/v1.47/containers/front/export", "", 501, "Berth cannot export a container's VM disk yet: copy its files out with docker cp"},
		{"POST", "/v1.47/commit?container=front", "", 501, "Berth cannot make an image of a container's VM disk yet"},
	} {
		status, body, _ := do(t, srv, tc.method, tc.path, tc.body)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: got %d %s, want %d with %q", tc.method, tc.path, status, body, tc.status, tc.want)
		}
	}
	two, five := 2, 512
	want := []api.ContainerUpdate{{RestartPolicy: &api.RestartPolicy{Name: "always"}}, {CPUs: &two, MemoryMiB: &five}, {MemoryMiB: &five}}
	if !reflect.DeepEqual(f.updates, want) {
		t.Errorf("updates %+v, want %+v", f.updates, want)
	}
}

func TestParseUpdate(t *testing.T) {
	one, two, mem := 1, 2, 7
	for _, tc := range []struct {
		body string
		want api.ContainerUpdate
		err  string
	}{
		{`{"NanoCpus":1500000000}`, api.ContainerUpdate{CPUs: &two}, ""},
		{`{"CpuCount":1}`, api.ContainerUpdate{CPUs: &one}, ""},
		{`{"Memory":7000000}`, api.ContainerUpdate{MemoryMiB: &mem}, ""},
		{`{"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3}}`, api.ContainerUpdate{RestartPolicy: &api.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}}, ""},
		{`{"RestartPolicy":{"Name":""},"CpusetCpus":"","Devices":[],"Ulimits":null,"OomKillDisable":false}`, api.ContainerUpdate{}, ""},
		{`{"NanoCpus":1000000000,"CpuCount":1}`, api.ContainerUpdate{}, "give one"},
		{`{"Memory":-1}`, api.ContainerUpdate{}, "must be positive"},
		{`{"PidsLimit":100}`, api.ContainerUpdate{}, "PidsLimit cannot be updated"},
		{`{"CpusetCpus":"0-1"}`, api.ContainerUpdate{}, "CpusetCpus cannot be updated"},
		{`{"Memory":"x"}`, api.ContainerUpdate{}, "Memory: json"},
	} {
		got, err := parseUpdate([]byte(tc.body))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.body, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, %v; want %+v", tc.body, got, err, tc.want)
		}
	}
}

func TestPruneMatch(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ct := api.Container{Created: now.Add(-2 * time.Hour), Spec: api.ContainerSpec{Labels: map[string]string{"a": "1", "b": "2"}}}
	for _, tc := range []struct {
		f    filters
		want bool
	}{
		{filters{}, true},
		{filters{"until": {"1h"}}, true},
		{filters{"until": {"3h"}}, false},
		{filters{"until": {"2026-01-02T02:00:00Z"}}, true},
		{filters{"until": {strconv.FormatInt(ct.Created.Unix(), 10)}}, false}, // not created before it
		{filters{"label": {"a"}}, true},
		{filters{"label": {"a=1", "b=2"}}, true},
		{filters{"label": {"a=2"}}, false},
		{filters{"label!": {"a"}}, false},
		{filters{"label!": {"a", "c"}}, true}, // docker: skipped only when all label! match
		{filters{"label!": {"c"}}, true},
	} {
		match, err := pruneMatch(tc.f, now)
		if err != nil {
			t.Fatalf("%v: %v", tc.f, err)
		}
		if got := match(ct); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.f, got, tc.want)
		}
	}
}

func TestStats(t *testing.T) {
	defer func(d time.Duration) { statsInterval = d }(statsInterval)
	statsInterval = 10 * time.Millisecond
	ct := running()
	t0 := ct.Started.Add(10 * time.Second)
	f := newFake(ct, stopped())
	// Between the samples, 1 s of wall time, 0.5 s of CPU: 50% of a CPU.
	f.stats = []api.ContainerStats{
		{ID: ct.ID, Name: ct.Name, Time: t0, CPUs: 2, CPUNanos: 4e9, MemoryUsed: 100 << 20, MemoryTotal: 1 << 30, Processes: 5},
		{ID: ct.ID, Name: ct.Name, Time: t0.Add(time.Second), CPUs: 2, CPUNanos: 4.5e9, MemoryUsed: 120 << 20, MemoryTotal: 1 << 30, Processes: 6},
	}
	srv := testServer(t, f)
	get := func(q string) types.StatsJSON {
		t.Helper()
		status, body, _ := do(t, srv, "GET", "/v1.47/containers/"+q, "")
		var st types.StatsJSON
		if err := json.Unmarshal([]byte(body), &st); status != 200 || err != nil {
			t.Fatalf("%s: %d %s", q, status, body)
		}
		return st
	}
	st := get("web/stats?stream=false")
	if st.Name != "/web" || st.ID != ct.ID || !st.Read.Equal(t0.Add(time.Second)) || !st.PreRead.Equal(t0) ||
		st.MemoryStats.Usage != 120<<20 || st.MemoryStats.Limit != 1<<30 || st.PidsStats.Current != 6 || st.Networks != nil {
		t.Errorf("stream=false: %+v", st)
	}
	if got := dockerCPUPercent(st); got != 50 {
		t.Errorf("CPU %% as docker stats computes it: %v, want 50", got)
	}
	if st := get("web/stats?stream=false&one-shot=true"); st.PreCPUStats.CPUUsage.TotalUsage != 0 || st.CPUStats.CPUUsage.TotalUsage != 4.5e9 {
		t.Errorf("one-shot: %+v", st)
	}
	// Stopped: docker's zeroed object, name and id only.
	if st := get("old/stats?stream=false"); st.Name != "/old" || st.ID != stopped().ID || !st.Read.IsZero() || st.CPUStats.CPUUsage.TotalUsage != 0 {
		t.Errorf("stopped: %+v", st)
	}
	if status, body, _ := do(t, srv, "GET", "/containers/web/stats?one-shot=1", ""); status != 400 || !strings.Contains(body, "cannot have stream=true and one-shot=true") {
		t.Errorf("stream and one-shot: %d %s", status, body)
	}
	if status, body, _ := do(t, srv, "GET", "/containers/nope/stats", ""); status != 404 || !strings.Contains(body, "No such container: nope") {
		t.Errorf("missing container: %d %s", status, body)
	}

	// Streamed: the first object has no precpu, the next has the first's.
	resp, err := srv.Client().Get(srv.URL + "/v1.47/containers/web/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var frames []types.StatsJSON
	for len(frames) < 2 && sc.Scan() {
		var st types.StatsJSON
		if err := json.Unmarshal(sc.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, st)
	}
	if len(frames) != 2 || frames[0].PreCPUStats.CPUUsage.TotalUsage != 0 ||
		frames[1].PreCPUStats.CPUUsage.TotalUsage != frames[0].CPUStats.CPUUsage.TotalUsage {
		t.Errorf("stream: %+v", frames)
	}
}

// dockerCPUPercent is docker stats' CPU % of a stats object (its CLI's
// calculateCPUPercentUnix).
func dockerCPUPercent(st types.StatsJSON) float64 {
	cpuDelta := float64(st.CPUStats.CPUUsage.TotalUsage) - float64(st.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(st.CPUStats.SystemUsage) - float64(st.PreCPUStats.SystemUsage)
	if sysDelta <= 0 || cpuDelta <= 0 {
		return 0
	}
	return cpuDelta / sysDelta * float64(st.CPUStats.OnlineCPUs) * 100
}
