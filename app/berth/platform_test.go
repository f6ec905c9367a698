package main

import (
	"strings"
	"testing"

	"github.com/berthvm/berth/core/image/registrytest"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPlatformAndPulledName: run/create --platform with a local image of
// another platform pulls the one asked for (or says clearly that there is
// none), and image pull names the reference it pulled, not another name
// of the same image. No VM boots.
func TestPlatformAndPulledName(t *testing.T) {
	reg := registrytest.Start(t, registrytest.Options{})
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	amd := linuxImage(t, 100_000, 1)
	cf, _ := amd.ConfigFile()
	cf = cf.DeepCopy()
	cf.Architecture = "arm64"
	arm, err := mutate.ConfigFile(amd, cf)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	src := reg.Host + "/multi/app:1"
	ref, _ := name.ParseReference(src)
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	home := newHome(t)
	mustRun(t, home, "image", "pull", "--platform", "linux/amd64", src)
	mustRun(t, home, "image", "tag", src, "another:1")
	if out := mustRun(t, home, "image", "pull", "--platform", "linux/amd64", src); !strings.HasPrefix(out, "Pulled "+src+" ") {
		t.Errorf("pull names another name of the image:\n%s", out)
	}

	r := berth(t, home, "create", "--platform", "linux/arm64", src)
	if !strings.Contains(r.stderr, "is linux/amd64 locally, not linux/arm64; pulling linux/arm64") {
		t.Errorf("create --platform linux/arm64 over a local amd64 image: exit %d\n%s", r.code, r.stderr)
	}
	if p := strings.TrimSpace(mustRun(t, home, "image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", src)); p != "linux/arm64" {
		t.Errorf("after create --platform linux/arm64 the local image is %s", p)
	}

	r = berth(t, home, "create", "--platform", "linux/s390x", src)
	if r.code == 0 || !strings.Contains(r.stderr, "linux/s390x") {
		t.Errorf("create --platform linux/s390x (not in the index): exit %d\n%s", r.code, r.stderr)
	}
	t.Logf("a platform the image lacks:\n%s", r.stderr)
}
