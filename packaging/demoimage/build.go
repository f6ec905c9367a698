package main

import (
	"archive/tar"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/berthvm/berth/core/atomicfile"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is every file's time, so the same busybox gives the same image.
var epoch = time.Unix(0, 0).UTC()

const greeting = `#!/bin/sh
# The demo's default command: show that this runs in its own VM.
echo "Hello from Berth! This container runs in its own virtual machine."
echo "Guest kernel: $(uname -r) ($(uname -m))"
echo "Hostname:     $(hostname)"
`

// appletsList is what Debian's busybox-static (the pinned version,
// kernel.BusyboxPins) answers to --list-full, for both arches: linked
// when the busybox cannot run on the build host (another arch, or macOS),
// so the image is the same whatever built it.
//
//go:embed applets.txt
var appletsList string

// fallbackApplets are the paths in appletsList.
func fallbackApplets() []string {
	var out []string
	for _, line := range strings.Split(appletsList, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// spec is what goes into the demo image.
type spec struct {
	Busybox []byte   // a static busybox for Arch
	Arch    string   // GOARCH: amd64, arm64
	Applets []string // paths relative to / ("bin/sh"), linked to /bin/busybox
}

// build makes the demo image: one layer with busybox, its applet links,
// users and groups, and a greeting as the default command.
func build(s spec) (v1.Image, error) {
	layerTar, err := layerBytes(s)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("make layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture = s.Arch
	if s.Arch == "arm64" {
		cfg.Variant = "v8"
	}
	cfg.OS = "linux"
	cfg.Created = v1.Time{Time: epoch}
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cfg.Config.Cmd = []string{"/usr/bin/hello"}
	cfg.Config.WorkingDir = "/"
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "Berth demo",
		"org.opencontainers.image.description": "Debian's busybox-static and a greeting, built locally by Berth",
	}
	return mutate.ConfigFile(img, cfg)
}

func layerBytes(s spec) ([]byte, error) {
	if len(s.Busybox) == 0 {
		return nil, fmt.Errorf("no busybox binary")
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	add := func(h *tar.Header, body []byte) error {
		h.ModTime, h.Uname, h.Gname = epoch, "root", "root"
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	dir := func(p string, mode int64) error {
		if dirs[p] {
			return nil
		}
		dirs[p] = true
		return add(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: mode}, nil)
	}
	file := func(p string, mode int64, body string) error {
		return add(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: int64(len(body))}, []byte(body))
	}
	for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "home", "home/berth",
		"dev", "proc", "sys", "run", "var", "mnt"} {
		mode := int64(0o755)
		if d == "root" {
			mode = 0o700
		}
		if err := dir(d, mode); err != nil {
			return nil, err
		}
	}
	if err := dir("tmp", 0o1777); err != nil {
		return nil, err
	}
	if err := add(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755,
		Size: int64(len(s.Busybox))}, s.Busybox); err != nil {
		return nil, err
	}
	applets := append([]string(nil), s.Applets...)
	if len(applets) == 0 {
		applets = fallbackApplets()
	}
	sort.Strings(applets)
	for _, a := range applets {
		a = strings.TrimPrefix(path.Clean("/"+a), "/") // rooted: "../x" cannot escape
		if a == "bin/busybox" || a == "" {
			continue
		}
		if err := dir(path.Dir(a), 0o755); err != nil {
			return nil, err
		}
		if err := add(&tar.Header{Typeflag: tar.TypeSymlink, Name: a, Linkname: "/bin/busybox", Mode: 0o777}, nil); err != nil {
			return nil, err
		}
	}
	files := []struct {
		path string
		mode int64
		body string
	}{
		{"etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\nberth:x:1000:1000:Berth demo user:/home/berth:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{"etc/group", 0o644, "root:x:0:\nberth:x:1000:\nusers:x:100:berth\nnogroup:x:65534:\n"},
		{"etc/shadow", 0o600, "root:*:0:0:99999:7:::\nberth:*:0:0:99999:7:::\nnobody:*:0:0:99999:7:::\n"},
		{"usr/bin/hello", 0o755, greeting},
	}
	for _, f := range files {
		if err := file(f.path, f.mode, f.body); err != nil {
			return nil, err
		}
	}
	if err := add(&tar.Header{Typeflag: tar.TypeReg, Name: "home/berth/.profile", Mode: 0o644, Uid: 1000, Gid: 1000,
		Size: int64(len("export PS1='\\u@\\h:\\w\\$ '\n"))}, []byte("export PS1='\\u@\\h:\\w\\$ '\n")); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// write saves img as a docker-save tarball tagged ref at out, atomically.
func write(img v1.Image, ref, out string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	f, err := atomicfile.Create(out, 0o644)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := tarball.Write(tag, img, f); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return f.Commit()
}
