package guest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

const passwd = `root:x:0:0:root:/root:/bin/sh
# comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1000:App:/home/app:/bin/sh
broken:x:notanumber:1::/:
`
const group = `root:x:0:
daemon:x:1:
app:x:1000:
audio:x:29:app,other
video:x:44:other
`

func TestResolveUser(t *testing.T) {
	cases := []struct {
		spec    string
		extra   []string
		want    Credential
		wantErr error
	}{
		{"", nil, Credential{UID: 0, GID: 0, Groups: []uint32{0}, Home: "/root"}, nil},
		{"root", nil, Credential{UID: 0, GID: 0, Groups: []uint32{0}, Home: "/root"}, nil},
		{"app", nil, Credential{UID: 1000, GID: 1000, Groups: []uint32{1000, 29}, Home: "/home/app"}, nil},
		{"1000", nil, Credential{UID: 1000, GID: 1000, Groups: []uint32{1000, 29}, Home: "/home/app"}, nil},
		{"app:video", nil, Credential{UID: 1000, GID: 44, Groups: []uint32{44, 29}, Home: "/home/app"}, nil},
		{"4242", nil, Credential{UID: 4242, GID: 0, Groups: []uint32{0}, Home: "/"}, nil},
		{"4242:4343", []string{"video", "77"}, Credential{UID: 4242, GID: 4343, Groups: []uint32{4343, 44, 77}, Home: "/"}, nil},
		{"nobody", nil, Credential{}, api.ErrNotFound},
		{"app:nogroup", nil, Credential{}, api.ErrNotFound},
		{"app", []string{"nogroup"}, Credential{}, api.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ResolveUser(tc.spec, tc.extra, strings.NewReader(passwd), strings.NewReader(group))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), "/etc/") {
					t.Fatalf("err = %v, want %v naming the file", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("no passwd file", func(t *testing.T) {
		got, err := ResolveUser("123:45", nil, nil, nil)
		if err != nil || got.UID != 123 || got.GID != 45 {
			t.Fatalf("got %+v, %v", got, err)
		}
		if _, err := ResolveUser("app", nil, nil, nil); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("named user without passwd: err = %v", err)
		}
	})
}

func TestInRootAndLookPath(t *testing.T) {
	root := t.TempDir()
	mk := func(p string, mode os.FileMode) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	mk("bin/busybox", 0o755)
	mk("etc/data", 0o644)
	mk("usr/bin/tool", 0o755)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("busybox", filepath.Join(root, "bin/sh")))            // relative
	must(os.Symlink("/bin/busybox", filepath.Join(root, "bin/ls")))       // absolute: must stay in root
	must(os.Symlink("../../../../../etc", filepath.Join(root, "escape"))) // .. must stop at root
	must(os.Symlink("loop2", filepath.Join(root, "loop1")))
	must(os.Symlink("loop1", filepath.Join(root, "loop2")))
	must(os.Symlink("usr/bin", filepath.Join(root, "ubin")))

	for _, tc := range []struct{ in, want string }{
		{"/bin/ls", "/bin/busybox"},
		{"/bin/sh", "/bin/busybox"},
		{"/escape/data", "/etc/data"},
		{"/ubin/tool", "/usr/bin/tool"},
		{"/missing/file", "/missing/file"},
		{"../../bin/ls", "/bin/busybox"},
	} {
		got, err := InRoot(root, tc.in)
		if err != nil {
			t.Fatalf("InRoot(%q): %v", tc.in, err)
		}
		if got != filepath.Join(root, tc.want) {
			t.Errorf("InRoot(%q) = %q, want %q", tc.in, got, filepath.Join(root, tc.want))
		}
	}
	if _, err := InRoot(root, "/loop1/x"); !errors.Is(err, api.ErrInvalidArgument) {
		t.Errorf("symlink loop: err = %v", err)
	}

	for _, tc := range []struct {
		name, path, want string
		wantErr          error
	}{
		{"ls", "/usr/bin:/bin", "/bin/ls", nil},
		{"tool", "/bin:/usr/bin", "/usr/bin/tool", nil},
		{"/bin/sh", "", "/bin/sh", nil},
		{"data", "/etc", "", api.ErrCommandNotFound}, // not executable, so not found on PATH
		{"nope", "/bin:/usr/bin", "", api.ErrCommandNotFound},
		{"/bin/nope", "/bin", "", api.ErrCommandNotFound},
		{"/etc/data", "/bin", "", api.ErrCommandNotRunnable},
	} {
		got, err := LookPath(root, tc.name, tc.path, "/")
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.name) {
				t.Errorf("LookPath(%q): err = %v, want %v naming the command", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("LookPath(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestOutBufferDropsOldestWhileDetached(t *testing.T) {
	b := newOutBuffer(8)
	b.Write([]byte("0123456789abcdef"))
	gen, from := b.attach()
	if from != 8 {
		t.Fatalf("attach from %d, want 8 (8 bytes dropped)", from)
	}
	chunk, eof, stale := b.next(gen, from, 100)
	if string(chunk) != "89abcdef" || eof || stale {
		t.Fatalf("next = %q %v %v", chunk, eof, stale)
	}
	b.consumed(4)
	b.close()
	chunk, _, _ = b.next(gen, 12, 100)
	if string(chunk) != "cdef" {
		t.Fatalf("after consuming 4: %q", chunk)
	}
	if _, eof, _ := b.next(gen, 16, 100); !eof {
		t.Fatal("no eof after close")
	}
	b.detach(gen)
	if _, _, stale := b.next(gen, 16, 100); !stale {
		t.Fatal("old generation not stale after detach")
	}
}
