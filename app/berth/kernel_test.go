package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

// berth system kernel, set PATH, set --default, through the binary and
// its daemon.
func TestSystemKernel(t *testing.T) {
	home := newHome(t)
	img := make([]byte, 4096)
	if runtime.GOARCH == "arm64" {
		copy(img[56:], "ARM\x64")
	} else {
		copy(img[0x202:], "HdrS")
	}
	dir := t.TempDir()
	kernelFile := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(kernelFile, img, 0o644); err != nil {
		t.Fatal(err)
	}
	r := berth(t, home, "system", "kernel")
	if r.code != 0 || !strings.Contains(r.stdout, "Kernel:") || !strings.Contains(r.stdout, "Default:") {
		t.Fatalf("system kernel: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"system", "kernel", "set"}, 125, "give the kernel image PATH, or --default"},
		{[]string{"system", "kernel", "set", "--default", "x"}, 125, "not both"},
		{[]string{"system", "kernel", "set", filepath.Join(dir, "nope")}, 1, "nope"},
		{[]string{"system", "kernel", "set", dir}, 1, "is a directory"},
	}
	for _, tc := range cases {
		r := berth(t, home, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("berth %v: exit %d %q; want %d containing %q", tc.args, r.code, r.stderr, tc.code, tc.stderr)
		}
	}
	// A relative path is the user's current directory's.
	cmd := berthInDir(t, home, dir, "system", "kernel", "set", "vmlinuz")
	if cmd.code != 0 || !strings.Contains(cmd.stdout, "set with berth system kernel set") || !strings.Contains(cmd.stdout, kernelFile) {
		t.Fatalf("set: exit %d\n%s%s", cmd.code, cmd.stdout, cmd.stderr)
	}
	r = berth(t, home, "system", "kernel", "--format", "json")
	var info api.KernelInfo
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || info.Setting != kernelFile || info.Source != api.KernelFromSetting {
		t.Fatalf("json: %+v, %v\n%s", info, err, r.stdout)
	}
	r = berth(t, home, "system", "kernel", "set", "--default")
	if r.code != 0 || strings.Contains(r.stdout, "set with berth system kernel set") {
		t.Fatalf("set --default: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// berthInDir is berth run from the directory dir.
func berthInDir(t *testing.T, home, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(berthBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BERTH_HOME="+home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}
