package main

// End-to-end tests of mounts through the berth binary, with real VMs:
// tmpfs and read-only roots; binds over virtio-fs (QEMU's virtiofsd, the
// same device and guest driver a Mac's VM uses; what no Linux host shows
// is Apple's own virtio-fs server behind it); named volumes as disks.

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// expect runs berth and checks the exit code and that stdout and stderr
// hold the given pieces.
func expect(t *testing.T, home string, code int, want []string, args ...string) result {
	t.Helper()
	r := berth(t, home, args...)
	if r.code != code {
		t.Fatalf("berth %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, r.code, code, r.stdout, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Fatalf("berth %v: output lacks %q\nstdout: %s\nstderr: %s", args, w, r.stdout, r.stderr)
		}
	}
	return r
}

// loadVolumeImage loads local/volume:1 into home's daemon: the demo image
// with VOLUME /data holding seed.txt (0640, owned by 1000:1000).
func loadVolumeImage(t *testing.T, home string) {
	t.Helper()
	dir := t.TempDir()
	demo := filepath.Join(dir, "demo.tar")
	expect(t, home, 0, nil, "image", "save", "-o", demo, "berth/demo")
	base, err := tarball.ImageFromPath(demo, nil)
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 1000})
	tw.WriteHeader(&tar.Header{Name: "data/seed.txt", Typeflag: tar.TypeReg, Mode: 0o640, Uid: 1000, Gid: 1000, Size: 6})
	tw.Write([]byte("seeded"))
	tw.Close()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Volumes = map[string]struct{}{"/data": {}}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("local/volume:1")
	out := filepath.Join(dir, "volume.tar")
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		t.Fatal(err)
	}
	expect(t, home, 0, []string{"local/volume:1"}, "image", "load", "-i", out)
}

// TestMounts shares one daemon across its subtests, which run in order.
func TestMounts(t *testing.T) {
	home := vmHome(t)

	t.Run("read-only root with a tmpfs", func(t *testing.T) {
		r := expect(t, home, 0, []string{"/x: Read-only file system", "tmp ok", "8192", "noexec"},
			run("--rm", "--read-only", "--tmpfs", "/tmp:size=8m", "berth/demo", "sh", "-c",
				"touch /x; echo ok > /tmp/f && echo tmp $(cat /tmp/f); df -k /tmp | tail -1; grep ' /tmp ' /proc/mounts")...)
		if strings.Contains(r.stdout, "exec,") && !strings.Contains(r.stdout, "noexec") {
			t.Fatalf("tmpfs is not noexec: %s", r.stdout)
		}
	})
	t.Run("read-only root leaves /tmp read-only", func(t *testing.T) {
		expect(t, home, 0, []string{"/tmp/x: Read-only file system", "etc hosts written"},
			run("--rm", "--read-only", "berth/demo", "sh", "-c", "touch /tmp/x; grep -q 127.0.0.1 /etc/hosts && echo etc hosts written")...)
	})
	t.Run("a named volume outlives its containers", func(t *testing.T) {
		expect(t, home, 0, nil, run("--rm", "-v", "data:/data", "berth/demo", "sh", "-c", "echo kept > /data/f")...)
		expect(t, home, 0, []string{"kept", "-rw-r--r--"}, run("--rm", "--mount", "source=data,target=/srv", "berth/demo", "sh", "-c", "cat /srv/f; ls -l /srv; ls -a /srv")...)
		r := expect(t, home, 0, nil, run("--rm", "-v", "data:/srv", "berth/demo", "ls", "-a", "/srv")...)
		if strings.Contains(r.stdout, "lost+found") {
			t.Fatalf("the volume shows its file system's lost+found: %s", r.stdout)
		}
		expect(t, home, 0, []string{"data"}, "volume", "ls", "-q")
	})
	t.Run("a new volume is seeded from the image, nocopy is not", func(t *testing.T) {
		expect(t, home, 0, []string{"root:x:0:0"}, run("--rm", "-v", "etc:/etc", "berth/demo", "cat", "/etc/passwd")...)
		r := expect(t, home, 0, nil, run("--rm", "-v", "bare:/etc:nocopy", "berth/demo", "ls", "/etc")...)
		if strings.Contains(r.stdout, "passwd") {
			t.Fatalf("a nocopy volume was seeded: %s", r.stdout)
		}
		// Seeded once: what a container changes stays.
		expect(t, home, 0, nil, run("--rm", "-v", "etc:/etc", "berth/demo", "rm", "/etc/passwd")...)
		expect(t, home, 0, []string{"No such file"}, run("--rm", "-v", "etc:/etc", "berth/demo", "sh", "-c", "cat /etc/passwd 2>&1; true")...)
	})
	t.Run("a volume in use", func(t *testing.T) {
		expect(t, home, 0, nil, run("-d", "--name", "holder", "-v", "data:/data", "berth/demo", "sleep", "600")...)
		expect(t, home, 1, []string{"volume is in use - [holder]"}, "volume", "rm", "data")
		expect(t, home, 125, []string{"volume data is in use by running container holder"},
			run("--name", "second", "-v", "data:/data", "berth/demo", "true")...)
		expect(t, home, 0, nil, "rm", "-f", "holder", "second")
		expect(t, home, 0, []string{"data"}, "volume", "rm", "data")
	})
	t.Run("the image's VOLUME gets an anonymous volume, seeded, gone with --rm", func(t *testing.T) {
		loadVolumeImage(t, home)
		before := berth(t, home, "volume", "ls", "-q").stdout
		expect(t, home, 0, []string{"seeded", "1000 1000", "-rw-r-----", "drwxr-x---"}, run("--rm", "local/volume:1", "sh", "-c",
			"cat /data/seed.txt; echo; ls -ln /data | tail -1 | awk '{print $1, $3, $4}'; ls -ld /data; grep ' /data ' /proc/mounts")...)
		if after := berth(t, home, "volume", "ls", "-q").stdout; after != before {
			t.Fatalf("run --rm left its anonymous volume: before %q, after %q", before, after)
		}
		expect(t, home, 0, nil, run("--name", "keeps", "local/volume:1", "true")...)
		c := inspect(t, home, "keeps")
		if len(c.Spec.Mounts) != 1 || c.Spec.Mounts[0].Target != "/data" || len(c.Spec.Mounts[0].Source) != 64 {
			t.Fatalf("mounts of keeps: %+v", c.Spec.Mounts)
		}
		expect(t, home, 0, []string{c.Spec.Mounts[0].Source}, "volume", "ls", "-q")
		expect(t, home, 0, nil, "rm", "keeps")
		expect(t, home, 0, []string{c.Spec.Mounts[0].Source}, "volume", "prune", "-f")
	})
	t.Run("a bind mount shares a host folder live, both ways", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "from-host"), []byte("v1"), 0o644)
		conf := filepath.Join(t.TempDir(), "app.conf")
		os.WriteFile(conf, []byte("setting=1\n"), 0o600)
		expect(t, home, 0, nil, run("-d", "--name", "binder", "-v", dir+":/src", "-v", conf+":/etc/app.conf:ro",
			"-v", dir+":/ro:ro", "berth/demo", "sleep", "600")...)
		defer berth(t, home, "rm", "-f", "binder")
		expect(t, home, 0, []string{"v1", "setting=1"}, "exec", "binder", "sh", "-c", "cat /src/from-host; echo; cat /etc/app.conf")
		// The container's root writes; the host sees the files as the
		// host user's (berth runs as root here, and virtiofsd passes the
		// container's ids through, as docker on Linux does; run by another
		// user, virtiofsd maps the container's root to that user, and on a
		// Mac vz's virtio-fs makes every file the user's).
		expect(t, home, 0, nil, "exec", "binder", "sh", "-c", "echo by-root > /src/root.txt && mkdir /src/sub && chmod 750 /src/sub")
		for name, want := range map[string]string{"root.txt": "by-root\n"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || string(b) != want {
				t.Fatalf("host reads %s: %q, %v", name, b, err)
			}
		}
		fi, err := os.Stat(filepath.Join(dir, "root.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Getuid() {
			t.Fatalf("root.txt is owned by uid %d; the host user is %d", st.Uid, os.Getuid())
		}
		if fi, err := os.Stat(filepath.Join(dir, "sub")); err != nil || fi.Mode().Perm() != 0o750 {
			t.Fatalf("sub: %v, %v", fi.Mode(), err)
		}
		// The host changes a file; the running container sees it.
		os.WriteFile(filepath.Join(dir, "from-host"), []byte("v2"), 0o644)
		expect(t, home, 0, []string{"saw v2"}, "exec", "binder", "sh", "-c",
			"for i in $(seq 100); do grep -q v2 /src/from-host && echo saw v2 && break; sleep 0.1; done")
		// Read-only binds refuse writes, and cannot be made writable from
		// inside.
		expect(t, home, 0, []string{"/ro/x: Read-only file system", "/etc/app.conf: Read-only file system"},
			"exec", "binder", "sh", "-c", "touch /ro/x; echo 2 >> /etc/app.conf; true")
		if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
			t.Fatal("a write through the read-only bind reached the host")
		}
	})
	t.Run("berth cp reaches a stopped container's volume", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "note.txt")
		os.WriteFile(src, []byte("copied in"), 0o640)
		expect(t, home, 0, nil, "create", "--name", "cpvol", "-v", "cpdata:/data", "berth/demo", "cat", "/data/note.txt")
		expect(t, home, 0, nil, "cp", src, "cpvol:/data/")
		expect(t, home, 0, []string{"copied in"}, "start", "-a", "cpvol")
		expect(t, home, 0, []string{"copied in"}, run("--rm", "-v", "cpdata:/d", "berth/demo", "cat", "/d/note.txt")...)
		expect(t, home, 0, nil, "rm", "cpvol")
	})
	t.Run("bad mounts are refused and leave nothing", func(t *testing.T) {
		hostFile := filepath.Join(t.TempDir(), "file")
		os.WriteFile(hostFile, []byte("x"), 0o644)
		before := len(listAll(t, home))
		volumes := berth(t, home, "volume", "ls", "-q").stdout
		for _, c := range []struct {
			args []string
			code int
			want string
		}{
			{run("--rm", "-v", "/no/such/dir:/x", "berth/demo", "true"), 125, "bind source path does not exist: /no/such/dir"},
			{run("--rm", "--mount", "type=bind,source=rel,target=/x", "berth/demo", "true"), 125, `bind source "rel" must be an absolute path`},
			{run("--rm", "-v", "bad*name:/x", "berth/demo", "true"), 125, `"bad*name" includes invalid characters for a volume name`},
			{run("--rm", "-v", "vol:relative", "berth/demo", "true"), 125, "the container path must be absolute"},
			{run("--rm", "--tmpfs", "/t:size=lots", "berth/demo", "true"), 125, "invalid --tmpfs"},
			{run("--rm", "-v", "/etc/passwd", "berth/demo", "true"), 125, "cannot mount a volume onto a file"},
			{run("--rm", "-v", hostFile+":/etc", "berth/demo", "true"), 125, "cannot mount a file onto a directory"},
		} {
			expect(t, home, c.code, []string{c.want}, c.args...)
		}
		if after := len(listAll(t, home)); after != before {
			t.Fatalf("containers before %d, after %d", before, after)
		}
		if after := berth(t, home, "volume", "ls", "-q").stdout; after != volumes {
			t.Fatalf("volumes before %q, after %q", volumes, after)
		}
		if runs, _ := os.ReadDir(filepath.Join(home, "run")); len(runs) != 0 {
			t.Fatalf("VM run directories left: %v", runs)
		}
	})
	t.Run("tmpfs with exec and mode", func(t *testing.T) {
		expect(t, home, 0, []string{"ran from tmpfs", "drwxrwx---"},
			run("--rm", "--mount", "type=tmpfs,target=/work,tmpfs-mode=770", "--tmpfs", "/bin2:exec", "berth/demo", "sh", "-c",
				"printf '#!/bin/sh\\necho ran from tmpfs\\n' > /bin2/x && chmod +x /bin2/x && /bin2/x; ls -ld /work")...)
	})
}

// sourceTree writes a tar of n small files in folders of 50, like a
// source tree (200 B to 8 KiB each), and returns its path.
func sourceTree(b *testing.B, dir string, n int) string {
	b.Helper()
	p := filepath.Join(dir, "src.tar")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	rnd := rand.New(rand.NewPCG(1, 2))
	body := bytes.Repeat([]byte("func main() { println(\"berth\") }\n"), 400)
	for i := range n {
		if i%50 == 0 {
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("src/pkg%03d/", i/50), Typeflag: tar.TypeDir, Mode: 0o755})
		}
		size := 200 + rnd.IntN(8000)
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("src/pkg%03d/file%04d.go", i/50, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(size)})
		tw.Write(body[:size])
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkMounts compares the container's own root, a named volume and
// a bind mount in one run, on one container: untarring a source tree of
// 5,000 files into each, reading every file back with the guest's caches
// dropped, and sequential 64 MiB writes (fsync'd) and reads.
func BenchmarkMounts(b *testing.B) {
	home := vmHome(b)
	in, err := os.MkdirTemp("", "bench-in")
	if err != nil {
		b.Fatal(err)
	}
	bind, err := os.MkdirTemp("", "bench-bind")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(in); os.RemoveAll(bind) })
	sourceTree(b, in, 5000)
	if r := berth(b, home, "run", "-d", "-c", "2", "-m", "1g", "--name", "bench", "-v", in+":/in:ro", "-v", bind+":/bind",
		"-v", "benchvol:/vol", "berth/demo", "sleep", "1000000"); r.code != 0 {
		b.Fatal(r.stderr)
	}
	sh := func(b *testing.B, script string) {
		b.Helper()
		if r := berth(b, home, "exec", "bench", "sh", "-c", script); r.code != 0 {
			b.Fatalf("%s: %s%s", script, r.stdout, r.stderr)
		}
	}
	const drop = "sync; echo 3 > /proc/sys/vm/drop_caches"
	for _, target := range []struct{ name, dir string }{{"root", "/tree"}, {"volume", "/vol"}, {"bind", "/bind"}} {
		d := target.dir
		b.Run("untar/"+target.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				sh(b, "rm -rf "+d+"/src; mkdir -p "+d+"; "+drop)
				b.StartTimer()
				sh(b, "tar -xf /in/src.tar -C "+d+" && sync")
			}
		})
		b.Run("read/"+target.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				sh(b, drop)
				b.StartTimer()
				sh(b, "find "+d+"/src -type f | xargs cat > /dev/null")
			}
		})
		b.Run("write64M/"+target.name, func(b *testing.B) {
			b.SetBytes(64 << 20)
			for b.Loop() {
				sh(b, "dd if=/dev/zero of="+d+"/big bs=1M count=64 conv=fsync 2>/dev/null")
			}
		})
		b.Run("read64M/"+target.name, func(b *testing.B) {
			b.SetBytes(64 << 20)
			for b.Loop() {
				b.StopTimer()
				sh(b, "[ -f "+d+"/big ] || dd if=/dev/zero of="+d+"/big bs=1M count=64 2>/dev/null; "+drop)
				b.StartTimer()
				sh(b, "dd if="+d+"/big of=/dev/null bs=1M 2>/dev/null")
			}
		})
	}
}
