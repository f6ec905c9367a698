package proto

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/berthvm/berth/core/api"
)

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
