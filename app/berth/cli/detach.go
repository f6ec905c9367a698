package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// DefaultDetachKeys is docker's escape sequence: Ctrl-P Ctrl-Q.
const DefaultDetachKeys = "ctrl-p,ctrl-q"

// ErrDetached is what a DetachReader returns once the user typed the
// escape sequence: the session ends, the container runs on.
var ErrDetached = errors.New("read escape sequence")

// ParseDetachKeys reads docker's --detach-keys syntax: keys joined by
// commas, each a single character ("a", "?") or "ctrl-X" with X a letter
// or one of @ [ \ ] ^ _. "" means the default, Ctrl-P Ctrl-Q.
func ParseDetachKeys(spec string) ([]byte, error) {
	if spec == "" {
		spec = DefaultDetachKeys
	}
	var keys []byte
	for _, k := range strings.Split(spec, ",") {
		if len(k) == 1 {
			keys = append(keys, k[0])
			continue
		}
		name, ok := strings.CutPrefix(strings.ToLower(k), "ctrl-")
		if !ok || len(name) != 1 {
			return nil, fmt.Errorf("invalid detach keys (%s) provided: %q is neither one character nor ctrl-<key>", spec, k)
		}
		switch c := name[0]; {
		case c >= 'a' && c <= 'z':
			keys = append(keys, c-'a'+1)
		case c == '@':
			keys = append(keys, 0)
		case c == '[', c == '\\', c == ']', c == '^', c == '_':
			keys = append(keys, c-'@') // ESC, FS, GS, RS, US
		default:
			return nil, fmt.Errorf("invalid detach keys (%s) provided: ctrl-%c is not a key; use a letter or @ [ \\ ] ^ _", spec, c)
		}
	}
	return keys, nil
}

// NewDetachReader passes r through until the escape sequence keys appears
// in it, then returns ErrDetached (after the bytes before the sequence).
// Bytes that begin the sequence are held back until the next byte shows
// whether they are the sequence; those that turn out not to be are passed
// on. It is the input side of `run -it`, `start -ai` and attach.
func NewDetachReader(r io.Reader, keys []byte) io.Reader {
	if len(keys) == 0 {
		return r
	}
	return &detachReader{r: r, keys: keys}
}

type detachReader struct {
	r       io.Reader
	keys    []byte
	matched int    // how many bytes of keys the input has just matched
	out     []byte // bytes ready for the caller
	err     error  // returned once out is drained
	buf     [4096]byte
}

func (d *detachReader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		n, err := d.r.Read(d.buf[:])
		for _, b := range d.buf[:n] {
			if b == d.keys[d.matched] {
				d.matched++
				if d.matched == len(d.keys) {
					d.matched, d.err = 0, ErrDetached
					break
				}
				continue
			}
			// The held bytes and b are not the sequence, but their end
			// may start it ("aab" typed as "aaab"): pass on the fewest
			// bytes from the front that leave a start of it held.
			held := append(d.keys[:d.matched:d.matched], b)
			i := 1
			for !bytes.HasPrefix(d.keys, held[i:]) {
				i++
			}
			d.out = append(d.out, held[:i]...)
			d.matched = len(held) - i
		}
		if err != nil && d.err == nil {
			d.out = append(d.out, d.keys[:d.matched]...)
			d.matched, d.err = 0, err
		}
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// detachKeysFlag registers docker's --detach-keys on cmd.
func detachKeysFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "detach-keys", "", "the key sequence that detaches, leaving the container running (default \"ctrl-p,ctrl-q\")")
}
