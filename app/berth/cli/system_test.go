package cli

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockercontext"
)

// system info on a Mac: a build that cannot run VMs says so first, and
// the SDK berth was built with shows beside the OS.
func TestPrintSystemInfoMac(t *testing.T) {
	cases := []struct {
		name   string
		host   api.Capabilities
		want   []string
		absent []string
	}{
		{"arm64 build", api.Capabilities{OS: "darwin", OSName: "macOS", OSVersion: "26.0", Arch: "arm64", Kernel: "25.0.0", BuildSDK: "26.0"},
			[]string{" OS:", "macOS 26.0 (darwin/arm64, kernel 25.0.0)", "Built with:", "macOS 26.0 SDK"}, []string{"Error:"}},
		{"amd64 build under rosetta", api.Capabilities{OS: "darwin", OSName: "macOS", OSVersion: "15.2", Arch: "amd64", BuildSDK: "14.5",
			Unsupported: "this berth is the amd64 (Intel) build, running under Rosetta on an Apple silicon Mac, where it cannot run VMs: install the arm64 (Apple silicon) build of Berth",
			Problems:    []string{"this berth was built with the macOS 14.5 SDK"}},
			[]string{"Host:\n Error:", "install the arm64 (Apple silicon) build of Berth", "Warning:", "macOS 14.5 SDK"}, nil},
		{"linux", api.Capabilities{OS: "linux", OSName: "Debian GNU/Linux", OSVersion: "12", Arch: "amd64"},
			[]string{"Debian GNU/Linux 12"}, []string{"Error:", "Built with:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := printSystemInfo(&b, api.SystemInfo{Host: tc.host}); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(b.String(), a) {
					t.Errorf("output has %q:\n%s", a, b.String())
				}
			}
		})
	}
}

// system info names docker.sock, the versions served and the line to
// export; a daemon that reports no docker API prints no section.
func TestPrintSystemInfoDockerAPI(t *testing.T) {
	var b bytes.Buffer
	info := api.SystemInfo{DockerAPI: api.DockerAPIInfo{Socket: "/h/docker.sock", MinVersion: "1.41", MaxVersion: "1.47"}}
	if err := printSystemInfo(&b, info); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Docker API:\n", " Socket:    /h/docker.sock\n", " Versions:  1.41 to 1.47\n",
		" Use it:    export DOCKER_HOST=unix:///h/docker.sock\n", "berth system docker-context"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, b.String())
		}
	}
	b.Reset()
	if err := printSystemInfo(&b, api.SystemInfo{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Docker API") {
		t.Errorf("a section without a socket:\n%s", b.String())
	}
}

// docker-context creates, then reports an update or that nothing changed.
func TestWriteDockerContext(t *testing.T) {
	dir := t.TempDir()
	steps := []struct {
		socket, want string
	}{
		{"/a/docker.sock", `docker context "dev" created: unix:///a/docker.sock`},
		{"/a/docker.sock", `docker context "dev" is up to date: unix:///a/docker.sock`},
		{"/b/docker.sock", `docker context "dev" updated: unix:///b/docker.sock (was unix:///a/docker.sock)`},
	}
	for _, st := range steps {
		var b bytes.Buffer
		if err := writeDockerContext(&b, dir, "dev", api.DockerAPIInfo{Socket: st.socket}); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(b.String(), st.want+"\n") || !strings.Contains(b.String(), "berth system docker-context --rm --name dev\n") {
			t.Errorf("got:\n%s\nwant first line %q", b.String(), st.want)
		}
	}
	if c, err := dockercontext.Read(dir, "dev"); err != nil || c.Host != "unix:///b/docker.sock" {
		t.Errorf("the store holds %+v, %v", c, err)
	}
	if err := writeDockerContext(io.Discard, dir, "dev", api.DockerAPIInfo{}); !errors.Is(err, api.ErrUnavailable) {
		t.Errorf("no socket: %v", err)
	}
}
