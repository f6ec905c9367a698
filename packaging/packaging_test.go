package packaging

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readPlist decodes a flat XML property list dict into key -> value, where
// <true/> and <false/> become "true" and "false".
func readPlist(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	out := map[string]string{}
	var key, text string
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not valid XML: %v", path, err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			text = ""
			if depth == 3 && (el.Name.Local == "true" || el.Name.Local == "false") {
				out[key] = el.Name.Local
			}
		case xml.CharData:
			text += string(el)
		case xml.EndElement:
			if depth == 3 {
				switch el.Name.Local {
				case "key":
					key = text
				case "string":
					out[key] = text
				}
			}
			depth--
		}
	}
	return out
}

func TestInfoPlist(t *testing.T) {
	p := readPlist(t, "../Info.plist")
	want := map[string]string{
		"CFBundleIdentifier":  "com.berthvm.Berth",
		"CFBundleExecutable":  "Berth",
		"CFBundlePackageType": "APPL",
		"LSUIElement":         "true",
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("Info.plist %s = %q, want %q", k, p[k], v)
		}
	}
	for _, k := range []string{"LSMinimumSystemVersion", "NSLocalNetworkUsageDescription"} {
		if p[k] == "" {
			t.Errorf("Info.plist lacks %s", k)
		}
	}
}

func TestEntitlements(t *testing.T) {
	p := readPlist(t, "../resources/berth.entitlements")
	if p["com.apple.security.virtualization"] != "true" {
		t.Fatalf("entitlements = %v, want com.apple.security.virtualization true", p)
	}
}

func TestBundle(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/true\n"+name), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	berth, menubar, agent := write("berth"), write("menubar"), write("berth-agent-linux-arm64")
	out := filepath.Join(dir, "out")
	run := func(args ...string) (string, int) {
		cmd := exec.Command("bash", append([]string{"bundle.sh"}, args...)...)
		b, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(b), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(b), 0
	}

	if msg, code := run("-o", out, "-v", "1.2.3", "-b", berth, "-m", menubar, "-a", agent); code != 0 {
		t.Fatalf("bundle: exit %d: %s", code, msg)
	}
	app := filepath.Join(out, "Berth.app", "Contents")
	for path, from := range map[string]string{
		"MacOS/Berth":                       "menubar",
		"Resources/bin/berth":               "berth",
		"Resources/berth-agent-linux-arm64": "berth-agent-linux-arm64",
	} {
		st, err := os.Stat(filepath.Join(app, path))
		if err != nil || st.Mode().Perm() != 0o755 {
			t.Fatalf("%s: %v %v", path, st, err)
		}
		b, _ := os.ReadFile(filepath.Join(app, path))
		if !strings.HasSuffix(string(b), from) {
			t.Errorf("%s holds %q, want the %s binary", path, b, from)
		}
	}
	p := readPlist(t, filepath.Join(app, "Info.plist"))
	if p["CFBundleShortVersionString"] != "1.2.3" || p["CFBundleVersion"] != "1.2.3" || p["LSUIElement"] != "true" {
		t.Errorf("bundled Info.plist: %v", p)
	}

	// Bad input changes nothing: the good bundle stays.
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"bad version", []string{"-o", out, "-v", "v1-beta", "-b", berth}, 2, "must be numeric"},
		{"missing binary", []string{"-o", out, "-v", "1.0", "-b", filepath.Join(dir, "nope")}, 1, "build it first"},
		{"missing flags", []string{"-o", out}, 2, "required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg, code := run(tc.args...)
			if code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Fatalf("exit %d %q; want %d containing %q", code, msg, tc.code, tc.msg)
			}
			if p := readPlist(t, filepath.Join(app, "Info.plist")); p["CFBundleVersion"] != "1.2.3" {
				t.Fatal("a failed bundle run changed the existing bundle")
			}
		})
	}
}

func TestSigningScriptsRefuseOffMac(t *testing.T) {
	if b, _ := exec.Command("uname", "-s").Output(); strings.TrimSpace(string(b)) == "Darwin" {
		t.Skip("on macOS the scripts do real work")
	}
	for _, script := range []string{"codesign.sh", "notarize.sh"} {
		out, err := exec.Command("bash", script, filepath.Join(t.TempDir(), "Berth.app")).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "needs macOS") {
			t.Errorf("%s off macOS: %v %q", script, err, out)
		}
	}
}
