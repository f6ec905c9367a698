package nethost

import (
	"slices"
	"testing"
)

func TestPlanSync(t *testing.T) {
	a1 := Attachment{VM: "vm1", MAC: "52:54:00:00:00:01", IP: "10.89.1.2", Socket: "/r/1.sock", Peer: "/v/1.sock"}
	a2 := Attachment{VM: "vm2", MAC: "52:54:00:00:00:02", IP: "10.89.1.3", Socket: "/r/2.sock", Peer: "/v/2.sock"}
	a2moved := a2
	a2moved.IP = "10.89.1.9"
	a3 := Attachment{VM: "vm3", MAC: "52:54:00:00:00:03", IP: "10.89.1.4", Socket: "/r/3.sock", Peer: "/v/3.sock"}
	f1 := Forward{Proto: "tcp", HostIP: "127.0.0.1", HostPort: 8080, GuestIP: "10.89.1.2", GuestPort: 80}
	f1moved := f1
	f1moved.GuestIP = "10.89.1.3"
	f2 := Forward{Proto: "udp", HostPort: 5353, GuestIP: "10.89.1.3", GuestPort: 53}
	r1 := []Record{{"one", "10.89.1.2"}}
	r2 := []Record{{"one", "10.89.1.2"}, {"two", "10.89.1.3"}}
	live := State{Attachments: []Attachment{a1, a2}, Forwards: []Forward{f1}, Records: r1}

	cases := []struct {
		name string
		want State
		plan syncPlan
	}{
		{"nothing changed", State{Attachments: []Attachment{a2, a1}, Forwards: []Forward{f1}, Records: r1}, syncPlan{}},
		{"everything goes", State{}, syncPlan{Detach: []string{"vm1", "vm2"}, Unexpose: []ForwardKey{f1.Key()}, SetRecords: true}},
		{"one more of each", State{Attachments: []Attachment{a1, a2, a3}, Forwards: []Forward{f1, f2}, Records: r2},
			syncPlan{Attach: []Attachment{a3}, Expose: []Forward{f2}, Records: r2, SetRecords: true}},
		{"changed ones are made again", State{Attachments: []Attachment{a1, a2moved}, Forwards: []Forward{f1moved}, Records: r1},
			syncPlan{Detach: []string{"vm2"}, Attach: []Attachment{a2moved}, Unexpose: []ForwardKey{f1.Key()}, Expose: []Forward{f1moved}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := planSync(live, tc.want)
			if !slices.Equal(got.Detach, tc.plan.Detach) || !slices.Equal(got.Attach, tc.plan.Attach) ||
				!slices.Equal(got.Unexpose, tc.plan.Unexpose) || !slices.Equal(got.Expose, tc.plan.Expose) ||
				got.SetRecords != tc.plan.SetRecords || !slices.Equal(got.Records, tc.plan.Records) {
				t.Fatalf("planSync =\n %+v\nwant\n %+v", got, tc.plan)
			}
			if got.Empty() != (tc.name == "nothing changed") {
				t.Fatalf("Empty = %v", got.Empty())
			}
		})
	}
}
