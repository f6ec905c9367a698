package api

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	fw := NewFrameWriter(&buf)
	big := strings.Repeat("x", maxFrame+10)
	io.WriteString(fw.Stream(FrameStdout), "hello")
	io.WriteString(fw.Stream(FrameStderr), big)
	fw.WriteFrame(FrameExit, []byte(`{"exitCode":3}`))
	want := []struct {
		kind byte
		n    int
	}{{FrameStdout, 5}, {FrameStderr, maxFrame}, {FrameStderr, 10}, {FrameExit, 14}}
	for _, w := range want {
		k, p, err := ReadFrame(&buf)
		if err != nil || k != w.kind || len(p) != w.n {
			t.Fatalf("frame %d/%d: got %d/%d %v", w.kind, w.n, k, len(p), err)
		}
	}
	if _, _, err := ReadFrame(&buf); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v", err)
	}
	// A hostile length is refused, not allocated.
	bad := []byte{FrameStdout, 0xff, 0xff, 0xff, 0xff}
	if _, _, err := ReadFrame(bytes.NewReader(bad)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("oversized frame: %v", err)
	}
	// An empty stdin frame is still a frame (used for nothing, but legal).
	buf.Reset()
	fw.WriteFrame(FrameStdinEOF, nil)
	if k, p, err := ReadFrame(&buf); err != nil || k != FrameStdinEOF || len(p) != 0 {
		t.Fatalf("empty frame: %d %v %v", k, p, err)
	}
}
