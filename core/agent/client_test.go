package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
)

// fakeGuest answers a session the way the guest's server starts one, and
// no more: the sync marker back, then hello with info; every other call
// is refused. The real server (core/guest) tests this client end to end;
// the host's package does not import the guest's, tests included.
func fakeGuest(conn io.ReadWriteCloser, info proto.Info) {
	br := bufio.NewReader(conn)
	n, err := proto.ReadSync(br, nil)
	if err == nil {
		err = proto.WriteSync(conn, n)
	}
	if err != nil {
		conn.Close()
		return
	}
	var m *proto.Mux
	m = proto.NewMux(br, conn, conn, func(payload []byte) {
		var msg proto.Message
		if err := json.Unmarshal(payload, &msg); err != nil {
			m.Fail(err)
			return
		}
		reply := proto.Message{ID: msg.ID}
		if msg.Op == proto.OpHello {
			reply.Body, _ = json.Marshal(info)
		} else {
			reply.Error = api.ToRemote(fmt.Errorf("operation %q: %w", msg.Op, api.ErrUnsupported))
		}
		go func() { _ = m.Send(reply) }() // not on the reader's goroutine: the pipe is synchronous
	}, proto.MuxOptions{})
	m.Run()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestConnectRetriesDial(t *testing.T) {
	tries := 0
	dial := func(context.Context) (io.ReadWriteCloser, error) {
		tries++
		if tries < 3 {
			return nil, errors.New("no such socket yet")
		}
		a, b := net.Pipe()
		go fakeGuest(b, proto.Info{ProtocolVersion: proto.ProtocolVersion, AgentVersion: "fake"})
		return a, nil
	}
	c, err := Connect(ctx(t), dial)
	if err != nil || tries != 3 {
		t.Fatalf("Connect: %v after %d tries", err, tries)
	}
	if c.Info().AgentVersion != "fake" {
		t.Fatalf("info %+v", c.Info())
	}
	c.Close()
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = Connect(cctx, func(context.Context) (io.ReadWriteCloser, error) { return nil, errors.New("down") })
	if !errors.Is(err, api.ErrCanceled) || !strings.Contains(err.Error(), "down") {
		t.Fatalf("Connect to nothing: %v", err)
	}
}

func TestNewClient(t *testing.T) {
	for _, tc := range []struct {
		name    string
		info    proto.Info
		wantErr error
		says    string
	}{
		{"same protocol", proto.Info{ProtocolVersion: proto.ProtocolVersion, AgentVersion: "v"}, nil, ""},
		{"another protocol", proto.Info{ProtocolVersion: proto.ProtocolVersion + 1, AgentVersion: "v9"}, api.ErrUnsupported, "rebuild the initramfs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			go fakeGuest(b, tc.info)
			c, err := NewClient(ctx(t), a)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("err = %v, want %v saying %q", err, tc.wantErr, tc.says)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// A call the guest refuses keeps its sentinel across the wire.
			if _, err := c.Stats(ctx(t)); !errors.Is(err, api.ErrUnsupported) {
				t.Fatalf("refused call: %v", err)
			}
		})
	}
}
