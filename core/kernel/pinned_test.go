package kernel

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/testenv"
)

// buildDeb makes a Debian package (ar: debian-binary, control.tar.xz,
// data.tar.xz) holding files, as dpkg-deb would.
func buildDeb(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	tarXZ := func(files map[string][]byte) []byte {
		var buf bytes.Buffer
		xw, err := xz.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		tw := tar.NewWriter(xw)
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		dirs := map[string]bool{}
		for _, n := range names {
			for d := filepath.Dir(n); d != "." && !dirs[d]; d = filepath.Dir(d) {
				dirs[d] = true
			}
		}
		var dl []string
		for d := range dirs {
			dl = append(dl, d)
		}
		sort.Strings(dl)
		for _, d := range dl {
			_ = tw.WriteHeader(&tar.Header{Name: "./" + d + "/", Typeflag: tar.TypeDir, Mode: 0o755})
		}
		for _, n := range names {
			if err := tw.WriteHeader(&tar.Header{Name: "./" + n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n]))}); err != nil {
				t.Fatal(err)
			}
			_, _ = tw.Write(files[n])
		}
		// A symlink, as real kernel packages have (build -> ...).
		_ = tw.WriteHeader(&tar.Header{Name: "./lib/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"})
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := xw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	var deb bytes.Buffer
	deb.WriteString(arMagic)
	member := func(name string, data []byte) {
		fmt.Fprintf(&deb, "%-16s%-12s%-6s%-6s%-8s%-10s`\n", name, "0", "0", "0", "100644", strconv.Itoa(len(data)))
		deb.Write(data)
		if len(data)%2 == 1 {
			deb.WriteByte('\n')
		}
	}
	member("debian-binary", []byte("2.0\n"))
	member("control.tar.xz", tarXZ(map[string][]byte{"control": []byte("Package: test\n")}))
	member("data.tar.xz", tarXZ(files))
	return deb.Bytes()
}

// fakeArm64Image is a minimal arm64 Image header.
func fakeArm64Image(tag string) []byte {
	b := make([]byte, 4096)
	copy(b[56:], arm64ImageMagic)
	copy(b[64:], tag)
	return b
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testDebFiles builds the files of a small kernel package from the apt
// arm64 kernel's real modules: virtio_blk (wanted), its dependencies, and
// vsock_loopback (not wanted, must be pruned).
func testDebFiles(t *testing.T, release string, image []byte) map[string][]byte {
	k := cachedKernel(t, "arm64")
	mods, err := ResolveModules(k.ModulesDir, []string{"virtio_blk", "vsock_loopback"})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"boot/vmlinuz-" + release: image, "boot/config-" + release: []byte("CONFIG_X=y\n")}
	for _, f := range []string{"modules.builtin", "modules.builtin.modinfo"} {
		b, err := os.ReadFile(filepath.Join(k.ModulesDir, f))
		if err != nil {
			t.Fatal(err)
		}
		files["lib/modules/"+release+"/"+f] = b
	}
	for _, m := range mods {
		rel, _ := filepath.Rel(k.ModulesDir, m.Path)
		b, err := os.ReadFile(m.Path)
		if err != nil {
			t.Fatal(err)
		}
		files["lib/modules/"+release+"/"+filepath.ToSlash(rel)] = b
	}
	return files
}

func testPin(url string, deb []byte, version string) Pin {
	return Pin{Arch: "arm64", Package: "linux-image-9.9.9-test-arm64", Version: version, Release: "9.9.9-test-arm64",
		URLs: []string{url}, SHA256: sha(deb), Size: int64(len(deb))}
}

var testGroups = []ModuleGroup{{GroupDisk, []string{"virtio_blk"}}}

func TestProvisionPinned(t *testing.T) {
	image := fakeArm64Image("v1")
	deb := buildDeb(t, testDebFiles(t, "9.9.9-test-arm64", gz(t, image)))
	fs := &fileServer{body: deb}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	dir := t.TempDir()
	pin := testPin(srv.URL+"/k.deb", deb, "1")
	var actions []string
	progress := func(p api.Progress) {
		if p.Done {
			actions = append(actions, p.Action)
		}
	}

	k, err := ProvisionPinned(context.Background(), dir, pin, testGroups, progress)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(actions, ",") != "download,verify,extract,extract" {
		t.Errorf("progress steps done: %v", actions)
	}
	if k.Release != pin.Release || k.Version != "1" || k.Arch != "arm64" {
		t.Errorf("kernel %+v", k)
	}
	// The gzip-compressed Image was decompressed: vz boots only a raw one.
	if got, _ := os.ReadFile(k.Path); !bytes.Equal(got, image) {
		t.Fatal("kernel image is not the decompressed Image")
	}
	if err := CheckImage(k.Path, "arm64"); err != nil {
		t.Fatal(err)
	}
	mods, err := ResolveModules(k.ModulesDir, []string{"virtio_blk"})
	if err != nil || len(mods) == 0 {
		t.Fatalf("modules after provisioning: %v, %v", mods, err)
	}
	if _, err := ResolveModules(k.ModulesDir, []string{"vsock_loopback"}); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("an unneeded module was kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pinned", "arm64", pin.DebName())); !errors.Is(err, os.ErrNotExist) {
		t.Error("the .deb was kept after extraction")
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, "pinned", "arm64", ".extract-*")); len(ents) != 0 {
		t.Errorf("staging left: %v", ents)
	}
	// Cached: no second request.
	k2, err := ProvisionPinned(context.Background(), dir, pin, testGroups, nil)
	if err != nil || k2 != k || len(fs.ranges()) != 1 {
		t.Fatalf("second provision: %+v, %v, %d requests", k2, err, len(fs.ranges()))
	}

	// A new pin that cannot be had (wrong checksum, server down) keeps
	// and returns the good cached kernel.
	bad := testPin(srv.URL+"/k.deb", deb, "2")
	bad.SHA256 = sha([]byte("something else"))
	down := testPin(deadURL(t), deb, "3")
	for _, p := range []Pin{bad, down} {
		got, err := ProvisionPinned(context.Background(), dir, p, testGroups, nil)
		if err != nil || got != k {
			t.Fatalf("pin %s unavailable: got %+v, %v; want the cached kernel", p.Version, got, err)
		}
		if b, _ := os.ReadFile(k.Path); !bytes.Equal(b, image) {
			t.Fatal("cached kernel damaged")
		}
	}

	// A new pin that works replaces the old kernel.
	image3 := fakeArm64Image("v3")
	deb3 := buildDeb(t, testDebFiles(t, "9.9.9-test-arm64", image3))
	srv3 := httptest.NewServer(&fileServer{body: deb3})
	defer srv3.Close()
	k3, err := ProvisionPinned(context.Background(), dir, testPin(srv3.URL, deb3, "3"), testGroups, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(k3.Path); !bytes.Equal(b, image3) || k3.Version != "3" {
		t.Fatalf("new kernel %+v", k3)
	}
	if _, err := os.Stat(k.Path); !errors.Is(err, os.ErrNotExist) {
		t.Error("old pinned kernel not removed after the update")
	}
	if l, err := LocatePinned(dir, testPin("", deb3, "3")); err != nil || l != k3 {
		t.Fatalf("LocatePinned: %+v, %v", l, err)
	}
}

func TestProvisionPinnedFailures(t *testing.T) {
	cases := []struct {
		name    string
		files   func(t *testing.T) map[string][]byte
		raw     []byte
		wantErr error
		msg     string
	}{
		{name: "not a deb", raw: []byte("<html>captive portal</html>"), wantErr: api.ErrCorrupt, msg: "not a Debian package"},
		{name: "no kernel image", files: func(t *testing.T) map[string][]byte {
			f := testDebFiles(t, "9.9.9-test-arm64", nil)
			delete(f, "boot/vmlinuz-9.9.9-test-arm64")
			return f
		}, wantErr: api.ErrCorrupt, msg: "has no boot/vmlinuz-9.9.9-test-arm64"},
		{name: "x86 kernel", files: func(t *testing.T) map[string][]byte {
			img := make([]byte, 4096)
			copy(img[0x202:], "HdrS")
			return testDebFiles(t, "9.9.9-test-arm64", img)
		}, wantErr: api.ErrInvalidArgument, msg: "x86 bzImage"},
		{name: "module missing", files: func(t *testing.T) map[string][]byte {
			f := testDebFiles(t, "9.9.9-test-arm64", fakeArm64Image("x"))
			for n := range f {
				if strings.HasSuffix(n, "/virtio_blk.ko") {
					delete(f, n)
				}
			}
			return f
		}, wantErr: api.ErrNotFound, msg: "virtio_blk is neither built into the kernel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			deb := tc.raw
			if deb == nil {
				deb = buildDeb(t, tc.files(t))
			}
			srv := httptest.NewServer(&fileServer{body: deb})
			defer srv.Close()
			dir := t.TempDir()
			_, err := ProvisionPinned(context.Background(), dir, testPin(srv.URL, deb, "1"), testGroups, nil)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.wantErr, tc.msg)
			}
			m, _ := LoadManifest(dir)
			if len(m.Pinned) != 0 {
				t.Fatalf("manifest names a kernel after a failure: %+v", m.Pinned)
			}
			left, _ := filepath.Glob(filepath.Join(dir, "pinned", "arm64", "*_*"))
			if len(left) != 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
	t.Run("offline with nothing cached", func(t *testing.T) {
		_, err := ProvisionPinned(context.Background(), t.TempDir(), testPin(deadURL(t), []byte("x"), "1"), testGroups, nil)
		if !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "--kernel PATH") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCheckImage(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bz := make([]byte, 4096)
	copy(bz[0x202:], "HdrS")
	arm := fakeArm64Image("x")
	cases := []struct {
		name, file, arch string
		ok               bool
		msg              string
	}{
		{"arm64 Image", write("Image", arm), "arm64", true, ""},
		{"gzip Image", write("Image.gz", gz(t, arm)), "arm64", false, "gzip-compressed"},
		{"bzImage for arm64", write("bzImage", bz), "arm64", false, "x86 bzImage"},
		{"bzImage", filepath.Join(dir, "bzImage"), "amd64", true, ""},
		{"ELF vmlinux", write("vmlinux", []byte("\x7fELF\x02\x01\x01")), "amd64", true, ""},
		{"arm64 Image for amd64", filepath.Join(dir, "Image"), "amd64", false, "arm64 Image"},
		{"text", write("notes", []byte("hello")), "arm64", false, "not an arm64 Image"},
		{"missing", filepath.Join(dir, "nope"), "arm64", false, "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckImage(tc.file, tc.arch)
			if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.msg)) {
				t.Fatalf("CheckImage = %v, want ok=%v %q", err, tc.ok, tc.msg)
			}
		})
	}
}

func TestMacKernelPin(t *testing.T) {
	p := MacKernel
	if !isSHA256(p.SHA256) || p.Size <= 0 || p.Arch != "arm64" {
		t.Fatalf("pin %+v", p)
	}
	if !strings.HasSuffix(p.Package, "-arm64") || !strings.Contains(p.Package, p.Release) {
		t.Errorf("package %s does not name release %s", p.Package, p.Release)
	}
	if len(p.URLs) < 2 {
		t.Error("the pin needs a mirror that keeps old versions (snapshot.debian.org)")
	}
	for _, u := range p.URLs {
		if !strings.HasPrefix(u, "https://") {
			t.Errorf("URL %s is not https", u)
		}
	}
	if filepath.Base(p.URLs[0]) != p.DebName() {
		t.Errorf("first URL %s is not %s", p.URLs[0], p.DebName())
	}
	// Debian's signed metadata agrees with the pin while apt still lists
	// this version.
	out, err := exec.Command("apt-cache", "show", "--no-all-versions", p.Package+":arm64").Output()
	if err != nil || !strings.Contains(string(out), "Version: "+p.Version) {
		t.Logf("apt does not list %s %s (newer Debian lists?): the pin is checked by the .deb test only", p.Package, p.Version)
		return
	}
	if sum := parseField(out, "SHA256"); sum != p.SHA256 {
		t.Errorf("apt says %s has sha256 %s, pinned %s", p.Package, sum, p.SHA256)
	}
	if size := parseField(out, "Size"); size != strconv.FormatInt(p.Size, 10) {
		t.Errorf("apt says %s has size %s, pinned %d", p.Package, size, p.Size)
	}
	if fn := parseField(out, "Filename"); !strings.HasSuffix(p.URLs[0], "/"+fn) {
		t.Errorf("apt's Filename %s is not in the first URL %s", fn, p.URLs[0])
	}
}

// The pinned macOS kernel, provisioned by make deps through the same code
// the Mac runs (packaging/kernels), is Debian's arm64 kernel: an
// uncompressed Image identical to the one apt unpacked, with every module
// the vz initramfs needs.
func TestMacKernelProvisioned(t *testing.T) {
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	k, err := LocatePinned(dir, MacKernel)
	if err != nil {
		if cur, stale := PinIsStale(dir, MacKernel); stale {
			t.Skipf("the pinned macOS kernel %s %s is not provisioned and Debian now ships %s: update kernel.MacKernel (pinned.go says how)",
				MacKernel.Package, MacKernel.Version, cur)
		}
		testenv.Missing(t, err.Error()+": run make deps (go run ./packaging/kernels)")
	}
	if err := CheckImage(k.Path, "arm64"); err != nil {
		t.Fatal(err)
	}
	for _, g := range VZModuleGroups {
		if _, err := ResolveModules(k.ModulesDir, g.Modules); err != nil {
			t.Errorf("group %s: %v", g.Name, err)
		}
	}
	apt, err := Locate("arm64")
	if err != nil || apt.Package != MacKernel.Package || apt.Version != MacKernel.Version {
		t.Logf("apt's arm64 kernel is %s %s, the pin %s %s: not compared", apt.Package, apt.Version, MacKernel.Package, MacKernel.Version)
		return
	}
	same := func(a, b string) {
		x, _ := os.ReadFile(a)
		y, _ := os.ReadFile(b)
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs from apt's %s", a, b)
		}
	}
	same(k.Path, apt.Path)
	mods, err := ResolveModules(k.ModulesDir, allNames(VZModuleGroups))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mods {
		rel, _ := filepath.Rel(k.ModulesDir, m.Path)
		same(m.Path, filepath.Join(apt.ModulesDir, rel))
	}
}

func allNames(groups []ModuleGroup) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g.Modules...)
	}
	return out
}

// The initramfs of the macOS build: the vz module groups from the pinned
// kernel, plus extra files.
func TestVZInitramfs(t *testing.T) {
	dir, _ := Dir()
	k, err := LocatePinned(dir, MacKernel)
	if err != nil {
		testenv.Missing(t, err.Error()+": run make deps")
	}
	agentBin := filepath.Join(t.TempDir(), "agent")
	data, _ := os.ReadFile(hostELF(t))
	// The arch check reads the ELF header: make it arm64's.
	data = append([]byte(nil), data...)
	data[18], data[19] = 0xb7, 0x00 // EM_AARCH64
	if err := os.WriteFile(agentBin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	ctx := context.Background()
	opts := InitramfsOptions{Kernel: k, Agent: agentBin, Groups: VZModuleGroups, CacheDir: cache}
	plain, err := BuildInitramfs(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Extra = map[string][]byte{"/berth/x86/echo": []byte("interp")}
	withExtra, err := BuildInitramfs(ctx, opts)
	if err != nil || withExtra == plain {
		t.Fatalf("with an extra file: %s, %v (plain %s)", withExtra, err, plain)
	}
	f, _ := os.Open(withExtra)
	defer f.Close()
	cmd := exec.Command(testenv.Tool(t, "cpio", "cpio"), "-t", "--quiet")
	cmd.Stdin = f
	list, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"init", "berth/x86/echo", "berth/modules.boot", "berth/modules.rosetta",
		"berth/modules/virtio_pci.ko", "berth/modules/vmw_vsock_virtio_transport.ko", "berth/modules/virtio_console.ko",
		"berth/modules/gpio_keys.ko", "berth/modules/virtio_rng.ko", "berth/modules/virtiofs.ko", "berth/modules/binfmt_misc.ko",
		"berth/modules/ext4.ko", "berth/modules/overlay.ko"} {
		if !strings.Contains(string(list), want+"\n") {
			t.Errorf("initramfs lacks %s", want)
		}
	}
	opts.Extra = map[string][]byte{"relative": nil}
	if _, err := BuildInitramfs(ctx, opts); !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("relative extra path: %v", err)
	}
}
