package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"strings"

	"github.com/berthvm/berth/core/hypervisor"
)

// blockIOError reads a QMP BLOCK_IO_ERROR event: QEMU failed a guest's
// read or write on the host (with werror=report the guest got the error).
// ok is false for any other line.
func blockIOError(line []byte) (e hypervisor.DiskError, ok bool) {
	var msg struct {
		Event string `json:"event"`
		Data  struct {
			Device    string `json:"device"`
			NodeName  string `json:"node-name"`
			Operation string `json:"operation"`
			NoSpace   bool   `json:"nospace"`
			Reason    string `json:"reason"`
		} `json:"data"`
	}
	if json.Unmarshal(line, &msg) != nil || msg.Event != "BLOCK_IO_ERROR" {
		return e, false
	}
	d := msg.Data
	disk := d.Device
	if disk == "" {
		disk = d.NodeName
	}
	// QEMU sets nospace only for drives that stop on errors; with
	// werror=report the reason (the host's strerror) says it.
	return hypervisor.DiskError{Disk: strings.TrimPrefix(disk, "disk-"), Write: d.Operation == "write",
		NoSpace: d.NoSpace || strings.Contains(d.Reason, "No space left"), Reason: d.Reason}, true
}

// watchEvents follows QEMU's event monitor at sock until ctx ends or
// QEMU closes it (QEMU exited), handing each disk error to report. The
// event monitor is a QMP monitor of its own: QEMU serves one client per
// monitor, and the control socket stays free for commands.
func watchEvents(ctx context.Context, sock string, report func(hypervisor.DiskError)) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	if err := json.NewEncoder(conn).Encode(map[string]string{"execute": "qmp_capabilities"}); err != nil {
		return err
	}
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if e, ok := blockIOError(sc.Bytes()); ok {
			report(e)
		}
	}
	return sc.Err()
}
