package dockerapi

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/events"
)

func TestEvents(t *testing.T) {
	bus := events.NewBus(16)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	bus.Publish(api.Event{Time: t0, Type: api.EventContainer, Action: "start", ID: strings.Repeat("c", 64), Name: "web",
		Attributes: map[string]string{"image": "berth/demo"}})
	bus.Publish(api.Event{Time: t0.Add(time.Second), Type: api.EventVolume, Action: "create", Name: "data"})
	bus.Publish(api.Event{Time: t0.Add(2 * time.Second), Type: api.EventNetwork, Action: "create", ID: "n1", Name: "app"})
	srv := httptest.NewServer(New(Config{Events: bus, Images: fakeImages{}}))
	defer srv.Close()
	since, until := t0.Unix(), time.Now().Unix()
	for _, tc := range []struct {
		query  string
		status int
		want   string
	}{
		{fmt.Sprintf("since=%d&until=%d", since, until), 200, fmt.Sprintf(
			`{"Type":"container","Action":"start","Actor":{"ID":"%s","Attributes":{"image":"berth/demo","name":"web"}},"scope":"local","time":%d,"timeNano":%d}
{"Type":"volume","Action":"create","Actor":{"ID":"data","Attributes":{"name":"data"}},"scope":"local","time":%d,"timeNano":%d}
{"Type":"network","Action":"create","Actor":{"ID":"n1","Attributes":{"name":"app"}},"scope":"local","time":%d,"timeNano":%d}
`, strings.Repeat("c", 64), since, t0.UnixNano(), since+1, t0.UnixNano()+1e9, since+2, t0.UnixNano()+2e9)},
		{fmt.Sprintf("since=%d&until=%d", since+1, since+1), 200, `"Type":"volume"`},
		{fmt.Sprintf(`since=%d&until=%d&filters={"type":{"network":true,"volume":true}}`, since, until), 200, "{\"Type\":\"volume\""},
		{fmt.Sprintf(`since=%d&until=%d&filters={"container":{"web":true}}`, since, until), 200, `"Action":"start"`},
		{fmt.Sprintf(`since=%d&until=%d&filters={"image":{"berth/demo":true}}`, since, until), 200, `"Action":"start"`},
		{`filters={"node":{"x":true}}`, 400, "invalid filter 'node'"},
		{"since=yesterday", 400, "want unix seconds"},
	} {
		status, body, h := do(t, srv, "GET", "/v1.47/events?"+tc.query, "")
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("events?%s: got %d %s, want %d with %q", tc.query, status, body, tc.status, tc.want)
		}
		if status == 200 && h.Get("Content-Type") != "application/json" {
			t.Errorf("events?%s: content type %q", tc.query, h.Get("Content-Type"))
		}
	}
	// One event in the window; a filtered-out type is left out.
	if _, body, _ := do(t, srv, "GET", fmt.Sprintf("/v1.47/events?since=%d&until=%d", since+1, since+1), ""); strings.Count(body, "\n") != 1 {
		t.Errorf("window of one event: %s", body)
	}
	if _, body, _ := do(t, srv, "GET", fmt.Sprintf(`/v1.47/events?since=%d&until=%d&filters={"type":{"network":true,"volume":true}}`, since, until), ""); strings.Contains(body, "container") {
		t.Errorf("type filter let a container event through: %s", body)
	}
}
