package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// qmpCommand runs one QMP command on a fresh connection: QEMU serves one
// QMP client at a time, so no connection is held between commands (a
// restarted core must be able to connect).
func qmpCommand(ctx context.Context, sock, command string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return fmt.Errorf("qmp: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	r := bufio.NewReader(conn)
	enc := json.NewEncoder(conn)
	// readReply skips the greeting and asynchronous events.
	readReply := func() error {
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return err
			}
			var msg struct {
				QMP    json.RawMessage `json:"QMP"`
				Return json.RawMessage `json:"return"`
				Error  *struct {
					Class string `json:"class"`
					Desc  string `json:"desc"`
				} `json:"error"`
			}
			if err := json.Unmarshal(line, &msg); err != nil {
				return fmt.Errorf("bad reply %q: %w", line, err)
			}
			switch {
			case msg.Error != nil:
				return fmt.Errorf("%s: %s", msg.Error.Class, msg.Error.Desc)
			case msg.Return != nil:
				return nil
			}
		}
	}
	for _, cmd := range []string{"qmp_capabilities", command} {
		if err := enc.Encode(map[string]string{"execute": cmd}); err != nil {
			return fmt.Errorf("qmp %s: %w", cmd, err)
		}
		if err := readReply(); err != nil {
			return fmt.Errorf("qmp %s: %w", cmd, err)
		}
	}
	return nil
}
