package dockerapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

func TestExec(t *testing.T) {
	stopped := running()
	stopped.Name, stopped.ID, stopped.State = "db", strings.Repeat("b", 64), api.StateExited
	srv := testServer(t, newFake(running(), stopped))

	if status, body, _ := do(t, srv, "POST", "/v1.47/containers/db/exec", `{"Cmd":["true"]}`); status != 409 ||
		!strings.Contains(body, "Container "+stopped.ID+" is not running") {
		t.Errorf("exec in a stopped container: %d %s", status, body)
	}

	status, body, _ := do(t, srv, "POST", "/v1.47/containers/web/exec",
		`{"Cmd":["sh","-c","exit 3"],"AttachStdout":true,"AttachStderr":true,"User":"nobody"}`)
	var created struct{ Id string }
	if err := json.Unmarshal([]byte(body), &created); status != 201 || err != nil || len(created.Id) != 64 {
		t.Fatalf("exec create: %d %s", status, body)
	}
	inspect := func() execInspect {
		t.Helper()
		status, body, _ := do(t, srv, "GET", "/v1.47/exec/"+created.Id+"/json", "")
		var out execInspect
		if err := json.Unmarshal([]byte(body), &out); status != 200 || err != nil {
			t.Fatalf("exec inspect: %d %s", status, body)
		}
		return out
	}
	if got := inspect(); got.Running || got.ExitCode != nil || got.ContainerID != running().ID ||
		!reflect.DeepEqual(got.ProcessConfig, execProcessConfig{User: "nobody", Entrypoint: "sh", Arguments: []string{"-c", "exit 3"}}) {
		t.Errorf("exec inspect before start: %+v", got)
	}
	if status, _, _ := do(t, srv, "POST", "/v1.47/exec/"+created.Id+"/resize?h=24&w=80", ""); status != 204 {
		t.Errorf("exec resize before start: %d", status)
	}

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := `{"Detach":false,"Tty":false}`
	fmt.Fprintf(conn, "POST /v1.47/exec/%s/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		created.Id, len(start), start)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Content-Type") != "application/vnd.docker.multiplexed-stream" {
		t.Fatalf("exec start: %s %v", resp.Status, resp.Header)
	}
	if got := frames(t, br); !reflect.DeepEqual(got, []string{"1:sh -c exit 3\n", "2:err\n"}) {
		t.Errorf("exec frames %q", got)
	}
	if got := inspect(); got.Running || got.ExitCode == nil || *got.ExitCode != 3 {
		t.Errorf("exec inspect after the end: %+v", got)
	}
	if status, body, _ := do(t, srv, "POST", "/v1.47/exec/"+created.Id+"/start", "{}"); status != 409 || !strings.Contains(body, "has already run") {
		t.Errorf("second start: %d %s", status, body)
	}

	// Detached: 200 at once, the exit code later.
	_, body, _ = do(t, srv, "POST", "/v1.47/containers/web/exec", `{"Cmd":["x","7"]}`)
	json.Unmarshal([]byte(body), &created)
	if status, body, _ := do(t, srv, "POST", "/v1.47/exec/"+created.Id+"/start", `{"Detach":true}`); status != 200 || body != "" {
		t.Errorf("detached start: %d %q", status, body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for got := inspect(); got.ExitCode == nil || *got.ExitCode != 7; got = inspect() {
		if time.Now().After(deadline) {
			t.Fatalf("detached exec never ended: %+v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
