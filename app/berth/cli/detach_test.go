package cli

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestParseDetachKeys(t *testing.T) {
	cases := []struct {
		in   string
		want []byte
		bad  bool
	}{
		{"", []byte{16, 17}, false},
		{"ctrl-p,ctrl-q", []byte{16, 17}, false},
		{"ctrl-a", []byte{1}, false},
		{"CTRL-Z", []byte{26}, false},
		{"ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", []byte{0, 27, 28, 29, 30, 31}, false},
		{"a,b", []byte{'a', 'b'}, false},
		{"ctrl-1", nil, true},
		{"foo", nil, true},
		{"ctrl-", nil, true},
	}
	for _, tc := range cases {
		got, err := ParseDetachKeys(tc.in)
		if (err != nil) != tc.bad || !bytes.Equal(got, tc.want) {
			t.Errorf("ParseDetachKeys(%q) = %v, %v; want %v (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestDetachReader(t *testing.T) {
	keys := []byte{16, 17}
	cases := []struct {
		name, in, want string
		detached       bool
	}{
		{"plain", "hello", "hello", false},
		{"detach", "ls\x10\x11after", "ls", true},
		{"half then other", "a\x10b", "a\x10b", false},
		{"half at EOF", "a\x10", "a\x10", false},
		{"repeated first key", "\x10\x10\x11", "\x10", true},
	}
	for _, tc := range cases {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = bytes.NewReader([]byte(tc.in))
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			got, err := io.ReadAll(NewDetachReader(r, keys))
			if string(got) != tc.want || errors.Is(err, ErrDetached) != tc.detached {
				t.Errorf("%s (one byte %v): read %q, %v; want %q, detached %v", tc.name, oneByte, got, err, tc.want, tc.detached)
			}
		}
	}
}
