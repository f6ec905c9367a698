package proto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/berthvm/berth/core/api"
)

// frame is one frame as refFrames reads it.
type frame struct {
	t       frameType
	id      uint32
	payload []byte
}

func encodeFrame(f frame) []byte {
	var h [headerSize]byte
	h[0] = byte(f.t)
	binary.BigEndian.PutUint32(h[1:5], f.id)
	binary.BigEndian.PutUint32(h[5:9], uint32(len(f.payload)))
	return append(h[:], f.payload...)
}

// refFrames reads b as the guest's Mux (MuxOptions.Resync) must: whole
// frames up to the end of the input, a sync marker's first byte, a bad
// frame (too long, an unknown type, a credit frame that is not 4 bytes)
// or a truncated one. It returns the frames and how many bytes they
// take.
func refFrames(b []byte) ([]frame, int) {
	var out []frame
	off := 0
	for off < len(b) && b[off] != syncMagic[0] && len(b)-off >= headerSize {
		h := b[off : off+headerSize]
		t, n := frameType(h[0]), binary.BigEndian.Uint32(h[5:9])
		if n > maxPayload || uint64(len(b)-off-headerSize) < uint64(n) ||
			t < frameControl || t > frameCredit || (t == frameCredit && n != 4) {
			break
		}
		out = append(out, frame{t: t, id: binary.BigEndian.Uint32(h[1:5]), payload: b[off+headerSize : off+headerSize+int(n)]})
		off += headerSize + int(n)
	}
	return out, off
}

// FuzzGuestMux feeds the guest's end of a session (ReadSync, then a Mux
// with Resync, as Server.Serve runs it) arbitrary bytes from the host.
// What the Mux hands on (control payloads, each stream's bytes and end)
// must be exactly what an independent reading of the frames finds, the
// frames it read must re-encode to the bytes it consumed, and the
// session must end with one of the protocol's errors.
func FuzzGuestMux(f *testing.F) {
	sync := append(append([]byte{}, syncMagic...), 1, 2, 3, 4, 5, 6, 7, 8)
	hello, _ := json.Marshal(Message{ID: 1, Op: OpHello, Body: json.RawMessage(`{"protocol_version":1}`)})
	seed := func(frames ...frame) []byte {
		b := append([]byte("stale bytes"), sync...)
		for _, fr := range frames {
			b = append(b, encodeFrame(fr)...)
		}
		return b
	}
	f.Add(seed(frame{frameControl, 0, hello}))
	f.Add(seed(frame{frameControl, 0, hello}, frame{frameData, 1, []byte("stdin")}, frame{frameClose, 1, nil},
		frame{frameCredit, 2, []byte{0, 0, 1, 0}}, frame{frameData, 9, []byte("nobody reads")}))
	f.Add(append(seed(frame{frameData, 3, []byte("x")}), sync...)) // a new session
	f.Add(seed(frame{frameCredit, 2, []byte{1}}))
	f.Add(seed(frame{7, 0, nil}))
	f.Add(append(seed(), 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff))
	f.Add([]byte("no marker at all"))

	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReader(bytes.NewReader(in))
		if _, err := ReadSync(br, nil); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ReadSync: %v", err)
			}
			return
		}
		rest, _ := io.ReadAll(br)
		br = bufio.NewReader(bytes.NewReader(rest))

		var controls [][]byte
		var out bytes.Buffer
		m := NewMux(br, &out, nopCloser{}, func(p []byte) { controls = append(controls, p) }, MuxOptions{Resync: true})
		streams := map[uint32]*RecvStream{}
		for id := uint32(1); id <= 3; id++ {
			streams[id] = m.OpenRecv(id)
		}
		m.OpenSend(2, nil)
		m.Run()

		err := m.Err()
		if !errors.Is(err, ErrNewSession) && !errors.Is(err, api.ErrUnavailable) && !errors.Is(err, api.ErrCorrupt) {
			t.Fatalf("session ended with %v, not a protocol error", err)
		}
		frames, used := refFrames(rest)
		var reenc []byte
		var wantControls [][]byte
		wantData := map[uint32][]byte{}
		wantEOF := map[uint32]bool{}
		for _, fr := range frames {
			reenc = append(reenc, encodeFrame(fr)...)
			switch fr.t {
			case frameControl:
				wantControls = append(wantControls, fr.payload)
			case frameData:
				if streams[fr.id] != nil && !wantEOF[fr.id] {
					wantData[fr.id] = append(wantData[fr.id], fr.payload...)
				}
			case frameClose:
				wantEOF[fr.id] = true
			}
		}
		if !bytes.Equal(reenc, rest[:used]) {
			t.Fatalf("frames re-encode to %x, the input was %x", reenc, rest[:used])
		}
		if errors.Is(err, ErrNewSession) != (used < len(rest) && rest[used] == syncMagic[0]) {
			t.Fatalf("session ended with %v after %d of %d bytes", err, used, len(rest))
		}
		if len(controls) != len(wantControls) {
			t.Fatalf("%d control messages handed on, %d in the input", len(controls), len(wantControls))
		}
		for i := range controls {
			if !bytes.Equal(controls[i], wantControls[i]) {
				t.Fatalf("control message %d is %q, the input had %q", i, controls[i], wantControls[i])
			}
		}
		for id, s := range streams {
			got, rerr := io.ReadAll(s)
			if wantEOF[id] != (rerr == nil) {
				t.Fatalf("stream %d ended with %v; closed by the peer: %v", id, rerr, wantEOF[id])
			}
			// Data after a close is the peer's bug; the Mux keeps it
			// (it arrives before Read sees the end), so compare only
			// what came before.
			if !bytes.HasPrefix(got, wantData[id]) {
				t.Fatalf("stream %d read %q, the input sent %q", id, got, wantData[id])
			}
		}
		// Everything the guest wrote back is whole credit frames.
		if back, n := refFrames(out.Bytes()); n != out.Len() {
			t.Fatalf("the guest wrote %x: not whole frames", out.Bytes())
		} else {
			for _, fr := range back {
				if fr.t != frameCredit {
					t.Fatalf("the guest wrote a frame of type %d", fr.t)
				}
			}
		}
	})
}

// bodies are the request and reply bodies of each operation, as both
// sides decode them.
var bodies = map[string][]func() any{
	OpHello:            {func() any { return new(Hello) }, func() any { return new(Info) }},
	OpSetTime:          {func() any { return new(SetTime) }},
	OpConfigureNetwork: {func() any { return new(NetworkConfig) }, func() any { return new(NetworkStatus) }},
	OpCreateContainer:  {func() any { return new(ContainerConfig) }},
	OpStart:            {func() any { return new(StartRequest) }, func() any { return new(StartReply) }},
	OpAttach:           {func() any { return new(AttachRequest) }, func() any { return new(AttachReply) }},
	OpSignal:           {func() any { return new(SignalRequest) }},
	OpWait:             {func() any { return new(ProcessRef) }, func() any { return new(ExitStatus) }},
	OpResize:           {func() any { return new(ResizeRequest) }},
	OpList:             {func() any { return new([]ProcessStatus) }},
	OpStats:            {func() any { return new(Stats) }},
	OpStatPath:         {func() any { return new(PathRequest) }, func() any { return new(api.PathStat) }},
	OpArchiveOut:       {func() any { return new(ArchiveRequest) }},
	OpCancel:           {func() any { return new(StreamRef) }},
	OpTop:              {func() any { return new(ContainerRef) }, func() any { return new(api.ContainerTop) }},
	OpFreeze:           {func() any { return new(FreezeRequest) }, func() any { return new(FreezeReply) }},
}

// FuzzMessage decodes a control payload as either side does (a Message,
// then its body as each type the operation carries) and checks that what
// was decoded encodes to JSON that decodes to the same value: nothing a
// peer sends survives a decode half-read.
func FuzzMessage(f *testing.F) {
	add := func(id uint64, op string, body any) {
		raw, _ := json.Marshal(body)
		b, _ := json.Marshal(Message{ID: id, Op: op, Body: raw})
		f.Add(b)
	}
	add(1, OpHello, Hello{ProtocolVersion: ProtocolVersion})
	add(2, OpCreateContainer, ContainerConfig{ID: "c1", Base: Device{Serial: "base"}, Hostname: "h",
		Hosts: []HostEntry{{IP: "10.0.0.2", Names: []string{"db"}}}, DNS: &DNS{Servers: []string{"10.0.0.1"}},
		Mounts: []Mount{{Kind: MountTmpfs, Target: "/tmp", Options: "size=1m"}}})
	add(3, OpStart, StartRequest{Container: "c1", ID: "p1", Process: ProcessSpec{Args: []string{"sh"}, Env: []string{"A=b"},
		Terminal: true, Size: &WinSize{Rows: 24, Cols: 80}}, Streams: Streams{Stdin: 1, Stdout: 2}})
	add(4, OpConfigureNetwork, NetworkConfig{Interfaces: []Interface{{MAC: "02:00:00:00:00:01", Address: AddressDHCP}}, Timeout: 5e9})
	add(5, OpSignal, SignalRequest{ProcessRef: ProcessRef{Container: "c1", ID: "p1"}, Signal: 15})
	add(6, OpArchiveOut, ArchiveRequest{Container: "c1", Path: "/etc/.", Stream: 7})
	add(7, "", []ProcessStatus{{ProcessRef: ProcessRef{ID: "p"}, Exit: &ExitStatus{Code: 1}}})
	f.Add([]byte(`{"id":9,"error":{"code":"not_found","message":"gone"}}`))
	f.Add([]byte(`{"id":18446744073709551615,"op":"resize","body":{"rows":65536}}`))

	f.Fuzz(func(t *testing.T, payload []byte) {
		var msg Message
		if json.Unmarshal(payload, &msg) != nil {
			return
		}
		roundTrip(t, &msg, func() any { return new(Message) })
		for _, mk := range bodies[msg.Op] {
			v := mk()
			if json.Unmarshal(msg.Body, v) != nil {
				continue
			}
			roundTrip(t, v, mk)
		}
	})
}

// roundTrip checks that v encodes, and that its encoding decodes (into a
// new value from mk) to a value with the same encoding. (Not DeepEqual:
// "[]" and a missing field both decode to what encodes as nothing.)
func roundTrip(t *testing.T, v any, mk func() any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %T %+v: %v", v, v, err)
	}
	w := mk()
	if err := json.Unmarshal(b, w); err != nil {
		t.Fatalf("decode %T from its own encoding %s: %v", v, b, err)
	}
	b2, err := json.Marshal(w)
	if err != nil {
		t.Fatalf("encode %T again: %v", w, err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatalf("%T encodes as %s, then as %s", v, b, b2)
	}
}

// FuzzMux feeds arbitrary bytes, as a hostile guest would send them, to
// the frame reader of a host session with two streams to read and one to
// write, none of them read: it must end (the input runs out) with an
// error, never panic, and never buffer more than the window per stream.
// The seeds in testdata/fuzz/FuzzMux run with every go test.
func FuzzMux(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		m := NewMux(bufio.NewReader(bytes.NewReader(in)), io.Discard, nopCloser{}, func(p []byte) {
			var msg Message
			_ = json.Unmarshal(p, &msg)
		}, MuxOptions{})
		recv := []*RecvStream{m.OpenRecv(1), m.OpenRecv(2)}
		m.OpenSend(3, nil)
		m.Run()
		select {
		case <-m.Done():
		default:
			t.Fatal("Run returned with the session still open")
		}
		if err := m.Err(); !errors.Is(err, api.ErrUnavailable) && !errors.Is(err, api.ErrCorrupt) {
			t.Fatalf("session error %v", err)
		}
		for _, s := range recv {
			if n := len(s.buf); n > Window {
				t.Fatalf("stream %d buffered %d bytes, window %d", s.id, n, Window)
			}
		}
	})
}
