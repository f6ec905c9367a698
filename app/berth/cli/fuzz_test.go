package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzDetachReader reads any input through the escape sequence of any
// --detach-keys: what comes out is the input up to the first place the
// sequence appears, then ErrDetached; or all of it, then the input's end.
// Read one byte at a time or in one piece, the answer is the same.
func FuzzDetachReader(f *testing.F) {
	f.Add("", []byte("ls\x10\x11after"))
	f.Add("ctrl-a,ctrl-a,x", []byte("\x01\x01\x01x"))
	f.Add("a,a,b", []byte("aaab"))
	f.Add("a,b,a,c", []byte("ababac"))
	f.Add("ctrl-p", []byte("no escape"))
	f.Add("ctrl-9", []byte("bad keys"))
	f.Fuzz(func(t *testing.T, spec string, in []byte) {
		keys, err := ParseDetachKeys(spec)
		if err != nil {
			return
		}
		if len(keys) == 0 {
			t.Fatalf("ParseDetachKeys(%q) = no keys", spec)
		}
		want, wantErr := in, error(nil)
		if i := bytes.Index(in, keys); i >= 0 {
			want, wantErr = in[:i], ErrDetached
		}
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(in)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			got, err := io.ReadAll(NewDetachReader(r, keys))
			if !bytes.Equal(got, want) || !errors.Is(err, wantErr) && err != wantErr {
				t.Fatalf("keys %q, input %q (one byte at a time: %v): read %q, %v; want %q, %v", keys, in, oneByte, got, err, want, wantErr)
			}
		}
	})
}

// FuzzParseMemory reads --memory: a size that parses is 1 MiB to 1 TiB,
// and reads back as itself written in MiB.
func FuzzParseMemory(f *testing.F) {
	for _, s := range []string{"512m", "1g", "1.5G", "2048M", "1073741824", "1kb", "0.5m", "1t", "2TiB", "m", "-1g", "NaN", "1e3m", "+Infg"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mib, err := parseMemory(s)
		if err != nil {
			return
		}
		if mib < 1 || mib > 1<<30 {
			t.Fatalf("parseMemory(%q) = %d MiB", s, mib)
		}
		if again, err := parseMemory(fmt.Sprintf("%dm", mib)); err != nil || again != mib {
			t.Fatalf("parseMemory(%q) = %d MiB, which reads back as %d, %v", s, mib, again, err)
		}
	})
}

// FuzzParseEnvFile reads any --env-file: every entry is KEY=VALUE with a
// key that has no blanks, one entry at most per line.
func FuzzParseEnvFile(f *testing.F) {
	f.Add("A=1\n# comment\n\n  B = 2\nHOME\nUNSET\nC=x=y\r\n")
	f.Add("bad key=1")
	f.Add("=novalue")
	f.Add(strings.Repeat("x", 70000))
	f.Fuzz(func(t *testing.T, content string) {
		p := filepath.Join(t.TempDir(), "env")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		lookup := func(k string) (string, bool) { return "from-env", k == "HOME" }
		env, err := parseEnvFile(p, lookup)
		if err != nil {
			return
		}
		if len(env) > strings.Count(content, "\n")+1 {
			t.Fatalf("%d entries from %d lines", len(env), strings.Count(content, "\n")+1)
		}
		for _, kv := range env {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || k == "" || strings.ContainsAny(k, " \t\n") {
				t.Fatalf("entry %q from %q", kv, content)
			}
		}
		if _, err := envFrom([]string{p}, env, lookup); err != nil {
			t.Fatalf("the file's own entries as -e values: %v", err)
		}
	})
}

// FuzzParseCpArgs reads berth cp's two operands: one is in a container,
// at an absolute path, and written back it reads the same.
func FuzzParseCpArgs(f *testing.F) {
	for _, p := range [][2]string{{"web:/etc/hosts", "."}, {"./a:b", "web:tmp"}, {"/x", "c:"}, {"a:b", "c:d"}, {"-", "web:/-"}, {":x", "y"}} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		src, dst, err := parseCpArgs(a, b)
		if err != nil {
			return
		}
		if (src.container == "") == (dst.container == "") {
			t.Fatalf("parseCpArgs(%q, %q) = %+v, %+v: not one container", a, b, src, dst)
		}
		for _, c := range []cpArg{src, dst} {
			if c.container != "" && !strings.HasPrefix(c.path, "/") {
				t.Fatalf("parseCpArgs(%q, %q): path %q in a container", a, b, c.path)
			}
			if again := splitCpArg(c.String()); again != c {
				t.Fatalf("%+v written as %q reads as %+v", c, c.String(), again)
			}
		}
	})
}
