package proto

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

func TestReadSyncSkipsStaleBytes(t *testing.T) {
	var buf bytes.Buffer
	other, mine := Nonce{1}, Nonce{2}
	buf.WriteString("\x02\x00\x00garbage from an old session")
	buf.Write(syncMagic[:5]) // a partial marker
	_ = WriteSync(&buf, other)
	_ = WriteSync(&buf, mine)
	buf.WriteString("frames")
	r := bufio.NewReader(&buf)
	got, err := ReadSync(r, &mine)
	if err != nil || got != mine {
		t.Fatalf("ReadSync = %v, %v", got, err)
	}
	rest, _ := r.ReadString(0)
	if rest != "frames" {
		t.Fatalf("after sync: %q", rest)
	}
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// The bytes on the wire, pinned: a change here is a protocol change and
// needs a new ProtocolVersion (host and guest ship together, but a host
// may still meet an older guest's initramfs).
func TestWireBytes(t *testing.T) {
	var b bytes.Buffer
	_ = WriteSync(&b, Nonce{1, 2, 3, 4, 5, 6, 7, 8})
	m := NewMux(bufio.NewReader(strings.NewReader("")), &b, nopCloser{}, func([]byte) {}, MuxOptions{})
	body, _ := json.Marshal(Hello{ProtocolVersion: ProtocolVersion})
	if err := m.Send(Message{ID: 1, Op: OpHello, Body: body}); err != nil {
		t.Fatal(err)
	}
	s := m.OpenSend(3, nil)
	if _, err := io.WriteString(s, "hi"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	m.credit(5, 300)
	// [type:1][stream:4][length:4][payload]
	want := "00ff" + hex.EncodeToString([]byte("BERTH-SYNC\n")) + "0102030405060708" + // sync marker, nonce
		"01" + "00000000" + "00000033" + hex.EncodeToString([]byte(`{"id":1,"op":"hello","body":{"protocol_version":1}}`)) +
		"02" + "00000003" + "00000002" + hex.EncodeToString([]byte("hi")) + // data on stream 3
		"03" + "00000003" + "00000000" + // close stream 3
		"04" + "00000005" + "00000004" + "0000012c" // 300 bytes of credit on stream 5
	if got := hex.EncodeToString(b.Bytes()); got != want {
		t.Fatalf("frames\n got %s\nwant %s", got, want)
	}

	for _, tc := range []struct {
		v    any
		want string
	}{
		{StartRequest{Container: "c", ID: "main", Process: ProcessSpec{Args: []string{"sh"}, Env: []string{"A=1"}, Cwd: "/", User: "u",
			AdditionalGroups: []string{"g"}, Terminal: true, Size: &WinSize{Rows: 1, Cols: 2}}, Streams: Streams{Stdin: 1, Stdout: 2, Stderr: 3}},
			`{"container":"c","id":"main","process":{"args":["sh"],"env":["A=1"],"cwd":"/","user":"u","additional_groups":["g"],"terminal":true,"size":{"rows":1,"cols":2}},"streams":{"stdin":1,"stdout":2,"stderr":3}}`},
		{AttachRequest{ProcessRef: ProcessRef{Container: "c", ID: "x"}, Streams: Streams{Stdout: 4}},
			`{"container":"c","id":"x","streams":{"stdout":4}}`},
		{AttachReply{StdoutOffset: 5, StderrOffset: 6, Exited: true}, `{"stdout_offset":5,"stderr_offset":6,"exited":true}`},
		{Info{ProtocolVersion: 1, AgentVersion: "v", Kernel: "k", Arch: "a", Features: []string{FeatureDHCP}, InitUptime: time.Second, Uptime: 2 * time.Second},
			`{"protocol_version":1,"agent_version":"v","kernel":"k","arch":"a","features":["dhcp"],"init_uptime":1000000000,"uptime":2000000000}`},
		{NetworkConfig{Interfaces: []Interface{{MAC: "m", Name: "n", Address: AddressDHCP, MTU: 1500}}, Gateway: "g", Timeout: time.Second},
			`{"interfaces":[{"mac":"m","name":"n","address":"dhcp","mtu":1500}],"gateway":"g","timeout":1000000000}`},
		{NetworkStatus{Interfaces: []InterfaceStatus{{MAC: "m", Name: "eth0", Address: "a/24", MTU: 1,
			Lease: &Lease{Server: "s", Router: "r", DNS: []string{"d"}, Domain: "x", Duration: time.Hour}}}, Gateway: "g", DNS: []string{"d"}, Search: []string{"x"}},
			`{"interfaces":[{"mac":"m","name":"eth0","address":"a/24","mtu":1,"lease":{"server":"s","router":"r","dns":["d"],"domain":"x","duration":3600000000000}}],"gateway":"g","dns":["d"],"search":["x"]}`},
		{ContainerConfig{ID: "c", Base: Device{Serial: "base"}, Upper: Device{Path: "/dev/vdb"}, Rootfs: "/r", Hostname: "h",
			Hosts: []HostEntry{{IP: "1.2.3.4", Names: []string{"a"}}}, DNS: &DNS{Servers: []string{"s"}, Search: []string{"x"}, Options: []string{"o"}}},
			`{"id":"c","base":{"serial":"base"},"upper":{"path":"/dev/vdb"},"rootfs":"/r","hostname":"h","hosts":[{"ip":"1.2.3.4","names":["a"]}],"dns":{"servers":["s"],"search":["x"],"options":["o"]}}`},
		{SignalRequest{ProcessRef: ProcessRef{Container: "c", ID: "m"}, Signal: 15}, `{"container":"c","id":"m","signal":15}`},
		{ResizeRequest{ProcessRef: ProcessRef{Container: "c", ID: "m"}, WinSize: WinSize{Rows: 3, Cols: 4}}, `{"container":"c","id":"m","rows":3,"cols":4}`},
		{ProcessStatus{ProcessRef: ProcessRef{Container: "c", ID: "m"}, PID: 7, Exit: &ExitStatus{Code: 137, Signal: 9}},
			`{"container":"c","id":"m","pid":7,"running":false,"exit":{"code":137,"signal":9}}`},
		{Stats{CPUUsageNanos: 1, MemoryTotal: 2, MemoryAvailable: 3, Processes: 4}, `{"cpu_usage_nanos":1,"memory_total":2,"memory_available":3,"processes":4}`},
		{SetTime{UnixNano: 5}, `{"unix_nano":5}`},
		{StartReply{PID: 9}, `{"pid":9}`},
		{Message{ID: 2, Body: json.RawMessage(`{}`)}, `{"id":2,"body":{}}`},
		{[]string{OpHello, OpSetTime, OpConfigureNetwork, OpCreateContainer, OpStart, OpExec, OpAttach, OpSignal, OpWait, OpResize, OpList, OpStats, OpShutdown},
			`["hello","set_time","configure_network","create_container","start","exec","attach","signal","wait","resize","list","stats","shutdown"]`},
	} {
		t.Run(fmt.Sprintf("%T", tc.v), func(t *testing.T) {
			got, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// Two Muxes over a pipe, without either side's code: control messages
// both ways, a stream larger than the window (the writer waits for
// credit, the reader returns it), end of stream, and the end of the
// session reaching a blocked reader.
func TestMuxSession(t *testing.T) {
	a, b := net.Pipe()
	got := make(chan Message, 1)
	var ma, mb *Mux
	ma = NewMux(bufio.NewReader(a), a, a, func(p []byte) {
		var msg Message
		_ = json.Unmarshal(p, &msg)
		got <- msg
	}, MuxOptions{})
	mb = NewMux(bufio.NewReader(b), b, b, func(p []byte) {
		var msg Message
		_ = json.Unmarshal(p, &msg)
		_ = mb.Send(Message{ID: msg.ID, Body: msg.Body}) // echo as a reply
	}, MuxOptions{})
	go ma.Run()
	go mb.Run()

	if err := ma.Send(Message{ID: 7, Op: OpList, Body: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.ID != 7 || r.Op != "" || string(r.Body) != "{}" {
		t.Fatalf("reply %+v", r)
	}

	data := bytes.Repeat([]byte("0123456789abcdef"), 3*Window/16)
	in := mb.OpenRecv(1)
	out := ma.OpenSend(1, nil)
	go func() {
		_, _ = out.Write(data)
		out.Close()
	}()
	read, err := io.ReadAll(in)
	if err != nil || !bytes.Equal(read, data) {
		t.Fatalf("read %d of %d bytes, %v", len(read), len(data), err)
	}

	blocked := mb.OpenRecv(2)
	errc := make(chan error, 1)
	go func() { _, err := blocked.Read(make([]byte, 1)); errc <- err }()
	ma.Fail(errors.New("host gone"))
	if err := <-errc; !errors.Is(err, api.ErrUnavailable) {
		t.Fatalf("read after the session ended: %v", err)
	}
	<-mb.Done()
	if !errors.Is(mb.Err(), api.ErrUnavailable) {
		t.Fatalf("session error %v", mb.Err())
	}
}

// A hostile peer that ignores the window: the receiver must not buffer
// past the Window it granted, must end the session as corrupt, and its
// other streams must learn that the session ended.
func TestMuxRefusesDataBeyondWindow(t *testing.T) {
	host, peer := net.Pipe()
	controlled := make(chan struct{}, 1)
	m := NewMux(bufio.NewReader(host), host, host, func([]byte) { controlled <- struct{}{} }, MuxOptions{})
	go m.Run()
	flooded := m.OpenRecv(1)
	other := m.OpenRecv(2)
	// Credit frames the host writes back must not block it.
	go func() { _, _ = io.Copy(io.Discard, peer) }()

	go func() {
		chunk := bytes.Repeat([]byte("x"), DataChunk)
		for sent := 0; sent < 4*Window; sent += len(chunk) {
			if _, err := peer.Write(encodeFrame(frame{frameData, 1, chunk})); err != nil {
				return
			}
		}
		// Reached only if the host took 4 windows without complaint.
		_, _ = peer.Write(encodeFrame(frame{frameControl, 0, []byte(`{}`)}))
	}()
	select {
	case <-controlled:
		t.Fatalf("the host accepted 4 windows of unread data on one stream (session error %v)", m.Err())
	case <-m.Done():
	}
	if !errors.Is(m.Err(), api.ErrCorrupt) {
		t.Fatalf("session error %v, want ErrCorrupt", m.Err())
	}
	flooded.mu.Lock()
	buffered := len(flooded.buf)
	flooded.mu.Unlock()
	if buffered > Window {
		t.Fatalf("buffered %d bytes, more than the %d-byte window", buffered, Window)
	}
	// What arrived within the window is still delivered, then the end.
	read, err := io.ReadAll(flooded)
	if len(read) != buffered || !errors.Is(err, api.ErrUnavailable) {
		t.Fatalf("flooded stream: read %d of %d buffered bytes, %v", len(read), buffered, err)
	}
	if _, err := other.Read(make([]byte, 1)); !errors.Is(err, api.ErrUnavailable) {
		t.Fatalf("other stream after the session failed: %v", err)
	}
	if _, err := peer.Write(encodeFrame(frame{frameControl, 0, []byte(`{}`)})); err == nil {
		t.Fatal("the connection is still open after the violation")
	}
}
