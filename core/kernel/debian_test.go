package kernel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

// fakeApt answers apt and dpkg like a Debian machine whose lists name the
// given kernel version, and counts downloads.
type fakeApt struct {
	abi, version string
	foreign      []string
	updates      int
	downloads    []string
	failDownload int // fail this many downloads (stale lists)
	aptCalls     int
}

func (f *fakeApt) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := name + " " + strings.Join(args, " ")
	switch {
	case cmd == "dpkg --print-architecture":
		return []byte("amd64\n"), nil
	case cmd == "dpkg --print-foreign-architectures":
		return []byte(strings.Join(f.foreign, "\n")), nil
	case strings.HasPrefix(cmd, "dpkg --add-architecture "):
		f.foreign = append(f.foreign, args[1])
		return nil, nil
	case strings.HasPrefix(cmd, "apt-get update"):
		f.updates++
		return nil, nil
	case strings.HasPrefix(cmd, "apt-cache depends --important "):
		f.aptCalls++
		var out strings.Builder
		for _, meta := range args[2:] {
			switch meta {
			case "linux-image-cloud-amd64":
				out.WriteString("linux-image-cloud-amd64\n  Depends: linux-image-" + f.abi + "-cloud-amd64\n")
			case "linux-image-arm64:arm64":
				out.WriteString("linux-image-arm64:arm64\n  Depends: linux-image-" + f.abi + "-arm64:arm64\n")
			}
		}
		return []byte(out.String()), nil
	case strings.HasPrefix(cmd, "apt-cache show --no-all-versions "):
		f.aptCalls++
		var recs []string
		for _, p := range args[2:] {
			name, arch, ok := strings.Cut(p, ":")
			if !ok {
				arch = "amd64"
			}
			recs = append(recs, "Package: "+name+"\nArchitecture: "+arch+"\nVersion: "+f.version+"\n")
		}
		return []byte(strings.Join(recs, "\n")), nil
	case name == "sh" && strings.Contains(args[1], "apt-get download"):
		if f.failDownload > 0 {
			f.failDownload--
			return nil, fmt.Errorf("404 Not Found")
		}
		dir, pkg := args[3], args[4]
		f.downloads = append(f.downloads, pkg)
		return nil, os.WriteFile(filepath.Join(dir, strings.ReplaceAll(pkg, ":", "_")+".deb"), []byte(pkg), 0o644)
	case name == "dpkg-deb":
		deb, dest := args[1], args[2]
		pkg, _ := os.ReadFile(deb)
		name := strings.SplitN(string(pkg), ":", 2)[0]
		release := strings.TrimPrefix(name, "linux-image-")
		if strings.HasPrefix(name, "busybox") {
			return nil, writeAll(dest, "bin/busybox")
		}
		return nil, writeAll(dest, "boot/vmlinuz-"+release, "lib/modules/"+release+"/modules.builtin")
	}
	return nil, fmt.Errorf("unexpected command %q", cmd)
}

func writeAll(root string, files ...string) error {
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func TestFetchDebianFollowsMetaPackages(t *testing.T) {
	dir := t.TempDir()
	apt := &fakeApt{abi: "6.1.0-56", version: "6.1.192-2"}
	ctx := context.Background()
	opts := FetchOptions{Busybox: true, Progress: func(string) {}}
	if err := fetchDebian(ctx, dir, opts, apt.run); err != nil {
		t.Fatal(err)
	}
	want := []string{"linux-image-6.1.0-56-cloud-amd64", "busybox-static", "linux-image-6.1.0-56-arm64:arm64", "busybox-static:arm64"}
	if strings.Join(apt.downloads, " ") != strings.Join(want, " ") {
		t.Fatalf("downloads %v, want %v", apt.downloads, want)
	}
	if len(apt.foreign) != 1 || apt.updates != 1 {
		t.Fatalf("arm64 not added with one update: foreign %v, updates %d", apt.foreign, apt.updates)
	}
	if apt.aptCalls != 2 {
		t.Fatalf("%d apt-cache calls, want 2 (they are slow)", apt.aptCalls)
	}
	t.Setenv("BERTH_KERNEL_DIR", dir)
	k, err := Locate("arm64")
	if err != nil || k.Release != "6.1.0-56-arm64" || k.Version != "6.1.192-2" || k.ModulesDir == "" {
		t.Fatalf("Locate: %+v, %v", k, err)
	}

	// Nothing to do when current.
	apt.downloads = nil
	if err := fetchDebian(ctx, dir, opts, apt.run); err != nil || len(apt.downloads) != 0 {
		t.Fatalf("second run downloaded %v (err %v)", apt.downloads, err)
	}

	// Debian moves to a new ABI: the cache follows, the old one goes.
	old := k
	apt.abi, apt.version = "6.1.0-57", "6.1.200-1"
	apt.failDownload = 1 // the first try meets stale lists: update and retry
	if err := fetchDebian(ctx, dir, FetchOptions{Arches: []string{"arm64"}, Progress: func(string) {}}, apt.run); err != nil {
		t.Fatal(err)
	}
	k, err = Locate("arm64")
	if err != nil || k.Release != "6.1.0-57-arm64" {
		t.Fatalf("after the update: %+v, %v", k, err)
	}
	if _, err := os.Stat(old.Path); !os.IsNotExist(err) {
		t.Fatalf("old kernel %s not removed: %v", old.Path, err)
	}
}

func TestLocateWithoutKernel(t *testing.T) {
	t.Setenv("BERTH_KERNEL_DIR", t.TempDir())
	_, err := Locate("amd64")
	if err == nil || !strings.Contains(err.Error(), "make deps") || !errorsIs(err, api.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestParseDepends(t *testing.T) {
	out := "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n" +
		"linux-image-arm64:arm64\n  PreDepends: foo\n  Depends: <linux-image-6.1.0-56-arm64:arm64>\n  Recommends: bar\n" +
		"other\n  Depends: something-else\n"
	got := parseDependsAll([]byte(out))
	want := map[string]string{"linux-image-cloud-amd64": "linux-image-6.1.0-56-cloud-amd64", "linux-image-arm64:arm64": "linux-image-6.1.0-56-arm64:arm64"}
	if len(got) != len(want) || got["linux-image-cloud-amd64"] != want["linux-image-cloud-amd64"] || got["linux-image-arm64:arm64"] != want["linux-image-arm64:arm64"] {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestVerifyFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("hello\n"), 0o644)
	if err := VerifyFile(p, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"); err != nil {
		t.Fatal(err)
	}
	if err := VerifyFile(p, strings.Repeat("0", 64)); !errorsIs(err, api.ErrCorrupt) {
		t.Fatalf("mismatch: %v", err)
	}
}

func TestFromPath(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "vmlinux")
	os.WriteFile(img, []byte("kernel"), 0o644)
	mods := filepath.Join(dir, "lib", "modules", "6.18.15-kata")
	os.MkdirAll(mods, 0o755)
	k, err := FromPath("arm64", img, mods)
	if err != nil || k.Release != "6.18.15-kata" || k.Path != img {
		t.Fatalf("FromPath: %+v, %v", k, err)
	}
	if _, err := FromPath("arm64", dir, ""); !errorsIs(err, api.ErrInvalidArgument) {
		t.Fatalf("directory as kernel: %v", err)
	}
	if _, err := FromPath("arm64", filepath.Join(dir, "nope"), ""); !errorsIs(err, api.ErrNotFound) {
		t.Fatalf("missing kernel: %v", err)
	}
}
