package qemu

import (
	"testing"

	"github.com/berthvm/berth/core/hypervisor"
)

func TestBlockIOError(t *testing.T) {
	cases := []struct {
		name string
		line string
		want hypervisor.DiskError
		ok   bool
	}{
		{"full host disk (QEMU 7.2's event)",
			`{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "BLOCK_IO_ERROR", "data": {"device": "disk-upper", "nospace": true, "node-name": "#block123", "reason": "No space left on device", "operation": "write", "action": "report"}}`,
			hypervisor.DiskError{Disk: "upper", Write: true, NoSpace: true, Reason: "No space left on device"}, true},
		{"full host disk under werror=report (no nospace key)",
			`{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "BLOCK_IO_ERROR", "data": {"device": "disk-upper", "node-name": "#block123", "reason": "No space left on device", "operation": "write", "action": "report"}}`,
			hypervisor.DiskError{Disk: "upper", Write: true, NoSpace: true, Reason: "No space left on device"}, true},
		{"read error, named by node only",
			`{"event": "BLOCK_IO_ERROR", "data": {"device": "", "node-name": "disk-vol0", "reason": "Input/output error", "operation": "read", "action": "report"}}`,
			hypervisor.DiskError{Disk: "vol0", Reason: "Input/output error"}, true},
		{"another event", `{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}`, hypervisor.DiskError{}, false},
		{"a command's reply", `{"return": {}}`, hypervisor.DiskError{}, false},
		{"not JSON", `garbage`, hypervisor.DiskError{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := blockIOError([]byte(tc.line))
			if ok != tc.ok || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
