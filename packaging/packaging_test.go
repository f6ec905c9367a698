package packaging

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/testenv"
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

// Function names that bundle.sh looks for in the berth binary: Go keeps
// them in every binary's function table for the code that is linked.
const (
	markVMHost  = "github.com/berthvm/berth/core/hypervisor/vz.MaybeRunHost"
	markNetHost = "github.com/berthvm/berth/core/network/nethost.MaybeRun"
	markMenuBar = "github.com/berthvm/berth/ui/menubar.(*App).Run"
)

func TestBundle(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, content ...string) string {
		p := filepath.Join(dir, name)
		b := "\x7fELF-or-Mach-O\x00" + strings.Join(content, "\x00") + "\x00" + name
		if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	berth := write("berth", markVMHost, markNetHost, markMenuBar)
	agent := write("berth-agent-linux-arm64")
	cliOnly := write("berth-cli-only", markVMHost, markNetHost)                                     // a berth without the menu bar
	noNets := write("berth-no-nets", markVMHost, markMenuBar)                                       // an older berth: no network processes
	menuOnly := write("menubar", markMenuBar)                                                       // the old, separate menu-bar binary
	near := write("berth-near", markVMHost, markNetHost, "github.com/berthvm/berth/ui/menubar.New") // the package, not Run
	out := filepath.Join(dir, "out")
	run := func(args ...string) (string, int) { return runScript(t, "bundle.sh", args...) }

	if msg, code := run("-o", out, "-v", "1.2.3", "-n", "452", "-b", berth, "-a", agent); code != 0 {
		t.Fatalf("bundle: exit %d: %s", code, msg)
	}
	app := filepath.Join(out, "Berth.app", "Contents")
	for path, from := range map[string]string{
		"MacOS/Berth":                       "berth",
		"Resources/berth-agent-linux-arm64": "berth-agent-linux-arm64",
	} {
		st, err := os.Lstat(filepath.Join(app, path))
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o755 {
			t.Fatalf("%s: %v %v", path, st, err)
		}
		b, _ := os.ReadFile(filepath.Join(app, path))
		if !strings.HasSuffix(string(b), "\x00"+from) {
			t.Errorf("%s holds %q, want the %s binary", path, b, from)
		}
	}
	// Helpers/berth: a relative link to the one binary, so it survives
	// moving the app and names the same signed file.
	helper := filepath.Join(app, "Helpers", "berth")
	if target, err := os.Readlink(helper); err != nil || target != "../MacOS/Berth" {
		t.Fatalf("Helpers/berth links to %q (%v), want ../MacOS/Berth", target, err)
	}
	if a, err1 := os.Stat(helper); err1 != nil {
		t.Fatal(err1)
	} else if b, err2 := os.Stat(filepath.Join(app, "MacOS", "Berth")); err2 != nil || !os.SameFile(a, b) {
		t.Fatalf("Helpers/berth does not resolve to MacOS/Berth: %v", err2)
	}
	// Code only in MacOS (and the link in Helpers): nothing else is
	// executable, and MacOS holds the one main executable (APFS is
	// case-insensitive).
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
	if msg, code := run("-o", out, "-v", "0.0.0", "-b", berth); code != 0 {
		t.Fatalf("bundle without a build number: exit %d: %s", code, msg)
	}
	if p := readPlist(t, filepath.Join(app, "Info.plist")); p["CFBundleShortVersionString"] != "0.0.0" || p["CFBundleVersion"] != "0.0.0" {
		t.Errorf("the build number defaults to the version: %v", p)
	}
	if msg, code := run("-o", out, "-v", "1.2.3", "-n", "452", "-b", berth, "-a", agent); code != 0 {
		t.Fatalf("bundle: exit %d: %s", code, msg)
	}

	// Bad input, and an app that would show nothing or host no VMs,
	// change nothing: the good bundle stays.
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"berth without the menu bar", []string{"-o", out, "-v", "1.0", "-b", cliOnly, "-a", agent}, 1, "has no menu bar"},
		{"the menu bar's package without its Run", []string{"-o", out, "-v", "1.0", "-b", near}, 1, "has no menu bar"},
		{"berth without network processes", []string{"-o", out, "-v", "1.0", "-b", noNets}, 1, "does not carry networks"},
		{"a menu bar that is not berth", []string{"-o", out, "-v", "1.0", "-b", menuOnly}, 1, "not a berth binary that hosts VMs"},
		{"an agent as berth", []string{"-o", out, "-v", "1.0", "-b", agent}, 1, "not a berth binary"},
		{"a separate menu bar (-m)", []string{"-o", out, "-v", "1.0", "-b", berth, "-m", menuOnly}, 2, "-m is gone"},
		{"bad version", []string{"-o", out, "-v", "v1-beta", "-b", berth}, 2, "must be numeric"},
		{"commit hash as version", []string{"-o", out, "-v", "452d44d", "-b", berth}, 2, "must be numeric"},
		{"bad build number", []string{"-o", out, "-v", "1.0", "-n", "1.2.3.4", "-b", berth}, 2, "build number"},
		{"missing binary", []string{"-o", out, "-v", "1.0", "-b", filepath.Join(dir, "nope")}, 1, "build it first"},
		{"missing agent", []string{"-o", out, "-v", "1.0", "-b", berth, "-a", filepath.Join(dir, "nope")}, 1, "build it first"},
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

// The markers bundle.sh looks for are where Go puts function names: in a
// real berth binary, stripped as releases are (-s -w), for the functions
// it links. Built for this host: a darwin binary cannot be built here
// (cgo), and the function table is the same format on every OS.
func TestBundleMarkersInARealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds berth")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		testenv.Missing(t, "no go tool in PATH: "+err.Error())
	}
	bin := filepath.Join(t.TempDir(), "berth")
	cmd := exec.Command(goTool, "build", "-ldflags=-s -w", "-o", bin, "../app/berth")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{markVMHost, markNetHost} {
		if !bytes.Contains(b, []byte(m)) {
			t.Errorf("a stripped berth lacks %q", m)
		}
	}
	// Method names of linked code take this form (the CLI's client).
	if m := "github.com/berthvm/berth/core/client.(*Client).Ping"; !bytes.Contains(b, []byte(m)) {
		t.Errorf("a stripped berth lacks %q: bundle.sh's menu-bar marker has the wrong form", m)
	}
	// This host's berth has no menu bar (AppKit is darwin-only): bundle.sh
	// refuses it.
	if msg, code := runScript(t, "bundle.sh", "-o", t.TempDir(), "-v", "1.0", "-b", bin); code != 1 || !strings.Contains(msg, "has no menu bar") {
		t.Errorf("bundle.sh with a berth for %s: exit %d %q, want the menu-bar refusal", runtime.GOOS, code, msg)
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

// codesign.sh on a Mac, run here with stand-ins for uname and codesign: one
// signature, the bundle's (no separate identifier for a helper), and a
// bundle whose Helpers/berth is not the link is refused.
func TestCodesignWithStandIns(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	berth := filepath.Join(dir, "berth")
	if err := os.WriteFile(berth, []byte(markVMHost+"\x00"+markNetHost+"\x00"+markMenuBar), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if msg, code := runScript(t, "bundle.sh", "-o", out, "-v", "1.0", "-b", berth); code != 0 {
		t.Fatalf("bundle: %d %s", code, msg)
	}
	app := filepath.Join(out, "Berth.app")

	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"dirname", "readlink"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(dir, "codesign.log")
	for name, body := range map[string]string{
		"uname":    "echo Darwin",
		"codesign": `printf '%s\n' "$*" >> '` + log + `'`,
	} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!"+bash+"\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sign := func(args ...string) (string, string, error) {
		os.Remove(log)
		cmd := exec.Command(bash, append([]string{"codesign.sh", app}, args...)...)
		cmd.Env = append(os.Environ(), "PATH="+bin, "BERTH_SIGN_IDENTITY=")
		b, err := cmd.CombinedOutput()
		calls, _ := os.ReadFile(log)
		return string(b), string(calls), err
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	ent := wd + "/../resources/berth.entitlements" // as codesign.sh names it

	msg, calls, err := sign()
	if err != nil {
		t.Fatalf("ad hoc: %v\n%s", err, msg)
	}
	want := "--force --entitlements " + ent + " --sign - " + app + "\n" +
		"--verify --deep --strict --verbose=2 " + app + "\n"
	if calls != want {
		t.Errorf("ad hoc codesign calls:\n%s\nwant:\n%s", calls, want)
	}
	_, calls, err = sign("Developer ID Application: Berth (TEAMID)")
	if err != nil || !strings.HasPrefix(calls, "--force --entitlements "+ent+" --sign Developer ID Application: Berth (TEAMID) --options runtime --timestamp "+app+"\n") {
		t.Errorf("Developer ID: %v, calls:\n%s", err, calls)
	}

	// A copy instead of the link: two binaries to sign, refused.
	helper := filepath.Join(app, "Contents", "Helpers", "berth")
	if err := os.Remove(helper); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(helper, []byte("copy"), 0o755); err != nil {
		t.Fatal(err)
	}
	msg, calls, err = sign()
	if err == nil || !strings.Contains(msg, "must be a link to ../MacOS/Berth") || calls != "" {
		t.Errorf("a copied helper: %v %q, codesign calls %q", err, msg, calls)
	}
}
