package main

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestBuildAndWrite(t *testing.T) {
	busybox := []byte("\x7fELF fake busybox")
	img, err := build(spec{Busybox: busybox, Arch: "arm64", Applets: []string{"/bin/sh", "usr/bin/env", "bin/busybox", "../x"}})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "demo.tar")
	if err := write(img, "berth/demo:latest", out); err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Architecture != "arm64" || cfg.OS != "linux" || len(cfg.Config.Cmd) != 1 || cfg.Config.Cmd[0] != "/usr/bin/hello" {
		t.Fatalf("config: %+v", cfg)
	}
	layers, _ := back.Layers()
	if len(layers) != 1 {
		t.Fatalf("%d layers", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
	}
	checks := []struct {
		name string
		typ  byte
		mode int64
		link string
	}{
		{"bin/busybox", tar.TypeReg, 0o755, ""},
		{"bin/sh", tar.TypeSymlink, 0o777, "/bin/busybox"},
		{"usr/bin/env", tar.TypeSymlink, 0o777, "/bin/busybox"},
		{"usr/bin/hello", tar.TypeReg, 0o755, ""},
		{"etc/passwd", tar.TypeReg, 0o644, ""},
		{"tmp/", tar.TypeDir, 0o1777, ""},
	}
	for _, c := range checks {
		h := got[c.name]
		if h == nil || h.Typeflag != c.typ || h.Mode != c.mode || h.Linkname != c.link {
			t.Errorf("%s: %+v", c.name, h)
		}
	}
	for name := range got {
		if strings.Contains(name, "..") {
			t.Errorf("entry %q escapes the root", name)
		}
	}
	if len(got) < 20 {
		t.Errorf("only %d entries", len(got))
	}
}

func TestRunErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.tar")
	if err := run(context.Background(), "/nonexistent/busybox", "amd64", out); err == nil {
		t.Fatal("missing busybox: no error")
	}
	if err := run(context.Background(), "/bin/sh", "riscv64", out); err == nil {
		t.Fatal("bad arch: no error")
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed run left an output file")
	}
}
