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
	for _, k := range []string{"LSMinimumSystemVersion", "NSLocalNetworkUsageDescription", "NSAppleEventsUsageDescription"} {
		if p[k] == "" {
			t.Errorf("Info.plist lacks %s", k)
		}
	}
}

func TestEntitlements(t *testing.T) {
	p := readPlist(t, "../resources/berth.entitlements")
	for _, k := range []string{"com.apple.security.virtualization", "com.apple.security.automation.apple-events"} {
		if p[k] != "true" {
			t.Errorf("entitlements = %v, want %s true", p, k)
		}
	}
}

// runScript runs a bash script of this directory and returns its
// combined output and exit code.
func runScript(t *testing.T, script string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(b), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(b), 0
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
	run := func(args ...string) (string, int) { return runScript(t, "bundle.sh", args...) }

	if msg, code := run("-o", out, "-v", "1.2.3", "-n", "452", "-b", berth, "-m", menubar, "-a", agent); code != 0 {
		t.Fatalf("bundle: exit %d: %s", code, msg)
	}
	app := filepath.Join(out, "Berth.app", "Contents")
	for path, from := range map[string]string{
		"MacOS/Berth":                       "menubar",
		"Helpers/berth":                     "berth",
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
	// Code only in MacOS and Helpers: nothing else is executable, and
	// MacOS holds the one main executable (APFS is case-insensitive).
	err := filepath.WalkDir(app, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(app, p)
		switch rel {
		case "Info.plist", "PkgInfo", "MacOS/Berth", "Helpers/berth", "Resources/berth-agent-linux-arm64":
		default:
			t.Errorf("unexpected file %s in the bundle", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p := readPlist(t, filepath.Join(app, "Info.plist"))
	if p["CFBundleShortVersionString"] != "1.2.3" || p["CFBundleVersion"] != "452" || p["LSUIElement"] != "true" ||
		p["CFBundleExecutable"] != "Berth" || p["LSMinimumSystemVersion"] != "13.0" {
		t.Errorf("bundled Info.plist: %v", p)
	}
	if msg, code := run("-o", out, "-v", "0.0.0", "-b", berth, "-m", menubar); code != 0 {
		t.Fatalf("bundle without a build number: exit %d: %s", code, msg)
	}
	if p := readPlist(t, filepath.Join(app, "Info.plist")); p["CFBundleShortVersionString"] != "0.0.0" || p["CFBundleVersion"] != "0.0.0" {
		t.Errorf("the build number defaults to the version: %v", p)
	}
	if msg, code := run("-o", out, "-v", "1.2.3", "-n", "452", "-b", berth, "-m", menubar, "-a", agent); code != 0 {
		t.Fatalf("bundle: exit %d: %s", code, msg)
	}

	// Bad input, and an app that would only run the CLI, change nothing:
	// the good bundle stays.
	copyOfBerth := filepath.Join(dir, "Berth")
	if b, err := os.ReadFile(berth); err != nil || os.WriteFile(copyOfBerth, b, 0o755) != nil {
		t.Fatal("copy berth")
	}
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no menu bar", []string{"-o", out, "-v", "1.0", "-b", berth, "-a", agent}, 1, "the Berth menu bar is not built yet"},
		{"the CLI as menu bar", []string{"-o", out, "-v", "1.0", "-b", berth, "-m", berth}, 1, "is the berth CLI"},
		{"a copy of the CLI as menu bar", []string{"-o", out, "-v", "1.0", "-b", berth, "-m", copyOfBerth}, 1, "is the berth CLI"},
		{"bad version", []string{"-o", out, "-v", "v1-beta", "-b", berth, "-m", menubar}, 2, "must be numeric"},
		{"commit hash as version", []string{"-o", out, "-v", "452d44d", "-b", berth, "-m", menubar}, 2, "must be numeric"},
		{"bad build number", []string{"-o", out, "-v", "1.0", "-n", "1.2.3.4", "-b", berth, "-m", menubar}, 2, "build number"},
		{"missing binary", []string{"-o", out, "-v", "1.0", "-b", filepath.Join(dir, "nope"), "-m", menubar}, 1, "build it first"},
		{"missing menu bar binary", []string{"-o", out, "-v", "1.0", "-b", berth, "-m", filepath.Join(dir, "nope")}, 1, "build it first"},
		{"missing flags", []string{"-o", out}, 2, "required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg, code := run(tc.args...)
			if code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Fatalf("exit %d %q; want %d containing %q", code, msg, tc.code, tc.msg)
			}
			if p := readPlist(t, filepath.Join(app, "Info.plist")); p["CFBundleVersion"] != "452" {
				t.Fatal("a failed bundle run changed the existing bundle")
			}
			if _, err := os.Stat(filepath.Join(out, ".Berth.app.tmp")); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("a failed bundle run left its staging directory")
			}
		})
	}
}

func TestAppVersion(t *testing.T) {
	cases := []struct {
		describe, count string
		short, build    string
	}{
		{"v1.2.3", "500", "1.2.3", "500"},
		{"v1.2.3-4-gabc1234", "504", "1.2.3", "504"},
		{"v1.2.3-4-gabc1234-dirty", "504", "1.2.3", "504"},
		{"v1.2.3-dirty", "500", "1.2.3", "500"},
		{"v1.2.3-rc1", "", "1.2.3", "1.2.3"},
		{"v2", "7", "2", "7"},
		{"v0.10", "", "0.10", "0.10"},
		{"1.4.0", "12", "1.4.0", "12"},
		{"452d44d", "106", "0.0.0", "106"}, // untagged: a commit hash
		{"deadbee", "", "0.0.0", "0.0.0"},  // and no commit count
		{"452d44d-dirty", "106", "0.0.0", "106"},
		{"1234567", "3", "0.0.0", "3"}, // an all-digit hash is no version
		{"", "", "0.0.0", "0.0.0"},     // no git at all
		{"dev", "0", "0.0.0", "0.0.0"},
		{"v1.2.3.4", "9", "0.0.0", "9"}, // four numbers: not a release tag
		{"vnext", "9", "0.0.0", "9"},
		{"release-1.2", "9", "0.0.0", "9"},
		{"v1.2.3", "12a", "1.2.3", "1.2.3"}, // a count that is no number
	}
	for _, tc := range cases {
		t.Run(tc.describe+"/"+tc.count, func(t *testing.T) {
			out, code := runScript(t, "appversion.sh", "short", tc.describe)
			if code != 0 || strings.TrimSpace(out) != tc.short {
				t.Errorf("short %q = %q (exit %d), want %q", tc.describe, out, code, tc.short)
			}
			out, code = runScript(t, "appversion.sh", "build", tc.describe, tc.count)
			if code != 0 || strings.TrimSpace(out) != tc.build {
				t.Errorf("build %q %q = %q (exit %d), want %q", tc.describe, tc.count, out, code, tc.build)
			}
		})
	}
	// Every answer is something bundle.sh takes.
	if _, code := runScript(t, "appversion.sh", "short"); code != 2 {
		t.Errorf("no DESCRIBE: exit %d, want 2", code)
	}
	if _, code := runScript(t, "appversion.sh", "major", "v1"); code != 2 {
		t.Errorf("unknown mode: exit %d, want 2", code)
	}
}

// macOS ships GNU make 3.81, which ignores .SHELLFLAGS and lacks what came
// after it: the Makefile must not rely on any of that, and a recipe line
// that pipes must set pipefail itself (bash -c has it off).
func TestMakefileForMake381(t *testing.T) {
	b, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ") // join continued lines
	for i, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, bad := range []string{".SHELLFLAGS", ".ONESHELL", ".RECIPEPREFIX", "undefine ", "!=", "::=", "$(file ", "private "} {
			if strings.Contains(line, bad) {
				t.Errorf("Makefile line %d uses %q, which make 3.81 lacks: %s", i+1, bad, line)
			}
		}
		if !strings.HasPrefix(line, "\t") {
			continue
		}
		cmd := strings.ReplaceAll(line, "||", "")
		if strings.Contains(cmd, "|") && !strings.Contains(cmd, "set -o pipefail;") {
			t.Errorf("Makefile line %d pipes without set -o pipefail: %s", i+1, strings.TrimSpace(line))
		}
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

// deps.sh on a Mac, run here with stand-ins for macOS's tools: it names
// each missing piece with its fix and fails, or says all is there.
func TestDepsOnMac(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	type mac struct {
		clt               bool   // xcode-select -p succeeds
		sdk               string // xcrun --sdk macosx --show-sdk-version
		goVersion, goArch string // "" goVersion: no go
		shellcheck        bool
		appleSilicon      bool
	}
	good := mac{clt: true, sdk: "15.2", goVersion: "go1.26.1", goArch: "arm64", shellcheck: true, appleSilicon: true}
	cases := []struct {
		name string
		edit func(*mac)
		ok   bool
		want []string
	}{
		{"all there", func(*mac) {}, true, []string{"macOS 15.2 SDK", "go1.26.1"}},
		{"macOS 26 SDK, newer Go", func(m *mac) { m.sdk, m.goVersion = "26.0", "go1.27rc1" }, true, nil},
		{"intel mac", func(m *mac) { m.goArch, m.appleSilicon = "amd64", false }, true, nil},
		{"no command line tools", func(m *mac) { m.clt = false }, false, []string{"xcode-select --install"}},
		{"sdk 14", func(m *mac) { m.sdk = "14.5" }, false, []string{"macOS SDK is 14.5", "macOS 15 SDK or newer", "nested virtualization"}},
		{"no sdk", func(m *mac) { m.sdk = "" }, false, []string{"finds no macOS SDK"}},
		{"no go", func(m *mac) { m.goVersion = "" }, false, []string{"install Go 1.26"}},
		{"old go", func(m *mac) { m.goVersion = "go1.25.4" }, false, []string{"Go is go1.25.4", "Go 1.26 or later"}},
		{"go under rosetta", func(m *mac) { m.goArch = "amd64" }, false, []string{"amd64 (Intel) build", "arm64 (Apple silicon) Go"}},
		{"no shellcheck", func(m *mac) { m.shellcheck = false }, false, []string{"brew install shellcheck"}},
		{"everything missing", func(m *mac) { *m = mac{} }, false, []string{"xcode-select --install", "install Go", "brew install shellcheck", "3 missing"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := good
			tc.edit(&m)
			bin := t.TempDir()
			stub := func(name, body string) {
				if err := os.WriteFile(filepath.Join(bin, name), []byte("#!"+bash+"\n"+body+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if p, err := exec.LookPath("dirname"); err == nil {
				_ = os.Symlink(p, filepath.Join(bin, "dirname"))
			}
			stub("uname", "echo Darwin")
			stub("xcode-select", map[bool]string{true: "echo /Library/Developer/CommandLineTools", false: "exit 2"}[m.clt])
			stub("xcrun", "[ -n '"+m.sdk+"' ] || exit 1; echo '"+m.sdk+"'")
			stub("sysctl", map[bool]string{true: "echo 1", false: "exit 1"}[m.appleSilicon])
			if m.goVersion != "" {
				stub("go", `case "$2" in GOVERSION) echo `+m.goVersion+`;; GOHOSTARCH) echo `+m.goArch+`;; esac`)
			}
			if m.shellcheck {
				stub("shellcheck", "exit 0")
			}
			cmd := exec.Command(bash, "deps.sh")
			cmd.Env = append(os.Environ(), "PATH="+bin)
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.ok {
				t.Fatalf("ok=%v, want %v: %v\n%s", err == nil, tc.ok, err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), "apt") {
				t.Errorf("the macOS path mentions apt:\n%s", out)
			}
		})
	}
}
