package main

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fixtureDir is a module of its own (its go.mod requires vz v3.7.1 and
// darwinkit v0.5.0) with one package per planted mistake. `./...` of the
// project skips testdata, so it never reaches `make darwin-check`.
const fixtureDir = "testdata/fixture"

var (
	fixtureOnce    = map[string]*sync.Once{"arm64": {}, "amd64": {}}
	fixtureResults = map[string]*Result{}
	fixtureErrs    = map[string]error{}
)

// fixtureResult checks the whole fixture module once per GOARCH (a load
// takes seconds) and shares the result between tests.
func fixtureResult(t *testing.T, goarch string) *Result {
	t.Helper()
	fixtureOnce[goarch].Do(func() {
		fixtureResults[goarch], fixtureErrs[goarch] = Check(context.Background(), Config{
			Dir: fixtureDir, Patterns: []string{"./..."}, GOARCH: goarch, Tests: true, Vet: true,
		})
	})
	if err := fixtureErrs[goarch]; err != nil {
		t.Fatalf("check fixture for darwin/%s: %v", goarch, err)
	}
	return fixtureResults[goarch]
}

// problemsIn returns the problems reported for files under dir, as the
// compiler-like lines the tool prints.
func problemsIn(res *Result, dir string) []string {
	var out []string
	for _, p := range res.Problems {
		if strings.HasPrefix(p.File, dir+"/") {
			out = append(out, p.String())
		}
	}
	return out
}

func TestFixturePackages(t *testing.T) {
	same := func(lines ...string) map[string][]string {
		return map[string][]string{"arm64": lines, "amd64": lines}
	}
	const (
		dk             = "github.com/progrium/darwinkit@v0.5.0"
		setDelegateWhy = "it wraps the delegate with objc.WrapAsProtocol, whose methods are libffi closures, " + closureDefect +
			"; give SetDelegateObject a delegate written in the package's .m file"
		funcParamWhy = "which darwinkit turns into a block or method made of libffi closures, " + closureDefect +
			"; write the callback's Objective-C side in the package's .m file"
	)
	cases := []struct {
		dir  string
		what string
		want map[string][]string // GOARCH -> exact lines, nil for none
	}{
		{
			dir:  "good",
			what: "real vz and darwinkit calls, the closure-free darwinkit API, objc.Call with real selectors, a cgo file, per-GOARCH files, std packages with cgo on darwin, tests",
		},
		{
			dir:  "linuxonly",
			what: "a package with no darwin files is skipped, not reported",
		},
		{
			dir:  "misspelledvz",
			what: "a misspelled vz function",
			want: same("misspelledvz/bad_darwin.go:6:15: undefined: vz.NewLinuxBootLoadr"),
		},
		{
			dir:  "misspelleddarwinkit",
			what: "a misspelled darwinkit appkit function",
			want: same("misspelleddarwinkit/bad_darwin.go:6:16: undefined: appkit.StatusBar_SystemStatusBr"),
		},
		{
			dir:  "wrongargtype",
			what: "a wrong argument type to a vz function",
			want: same("wrongargtype/bad_darwin.go:6:49: cannot use cpus (variable of type int) as uint value in argument to vz.NewVirtualMachineConfiguration"),
		},
		{
			dir:  "unknownconst",
			what: "an unknown vz constant",
			want: same("unknownconst/bad_darwin.go:7:6: undefined: vz.DiskImageCachingModeAutomatc"),
		},
		{
			dir:  "unusedvar",
			what: "an unused variable",
			want: same("unusedvar/bad_darwin.go:6:2: declared and not used: supported"),
		},
		{
			dir:  "unusedimport",
			what: "an unused import",
			want: same(`unusedimport/bad_darwin.go:4:2: "os" imported and not used`),
		},
		{
			dir:  "cgotypeerror",
			what: "Go type errors in a file with import \"C\" and a preamble",
			want: same(
				"cgotypeerror/bad_darwin.go:13:15: cannot use cs (variable of type *C.char) as unsafe.Pointer value in argument to C.free",
				"cgotypeerror/bad_darwin.go:16:9: cannot use x (variable of type int) as string value in return statement",
			),
		},
		{
			dir:  "arm64only",
			what: "arm64-only vz API in a file built for every darwin GOARCH",
			want: map[string][]string{"amd64": {
				"arm64only/rosetta_darwin.go:8:12: undefined: vz.LinuxRosettaDirectoryShareAvailability",
				"arm64only/rosetta_darwin.go:8:59: undefined: vz.LinuxRosettaAvailabilityInstalled",
			}},
		},
		{
			dir:  "badtest",
			what: "an error in a darwin _test.go file",
			want: same("badtest/ok_darwin_test.go:9:6: declared and not used: unused"),
		},
		{
			dir:  "runapp",
			what: "macos.RunApp, whose application delegate is made of libffi closures",
			want: same("runapp/bad_darwin.go:11:8: macos.RunApp is forbidden: its application delegate is made of libffi closures, " +
				"which abort (SIGABRT) when Objective-C calls them in a Go ≥ 1.25 build (darwinkit issue 286); " +
				"lock the main thread in init, then call appkit.Application_SharedApplication(), SetActivationPolicy and Run() with no delegate"),
		},
		{
			dir:  "setdelegate",
			what: "a SetDelegate call on a darwinkit menu",
			want: same("setdelegate/bad_darwin.go:8:7: appkit.Menu.SetDelegate is forbidden: " + setDelegateWhy),
		},
		{
			dir:  "newclass",
			what: "objc.NewClass, a class made of Go funcs",
			want: same("newclass/bad_darwin.go:17:14: objc.NewClass is forbidden: it implements Objective-C methods with Go funcs through libffi closures, " +
				closureDefect + "; write the class in the package's .m file with //export callbacks"),
		},
		{
			dir:  "takesfunc",
			what: "a generated darwinkit method that takes a Go func (a block)",
			want: same("takesfunc/bad_darwin.go:11:48: foundation.NotificationCenter.AddObserverForNameObjectQueueUsingBlock is forbidden: " +
				"its parameter block func(notification foundation.Notification) is a Go func, " + funcParamWhy),
		},
		{
			dir:  "closurevariants",
			what: "closures reached through an alias, method values and expressions, promotion, an interface, a protocol parameter, a builder, a block, objc.Call",
			want: same(
				"closurevariants/bad_darwin.go:15:18: macos.RunApp is forbidden: its application delegate is made of libffi closures, "+
					closureDefect+"; lock the main thread in init, then call appkit.Application_SharedApplication(), SetActivationPolicy and Run() with no delegate",
				"closurevariants/bad_darwin.go:18:39: appkit.Menu.SetDelegate is forbidden: "+setDelegateWhy,
				"closurevariants/bad_darwin.go:19:36: appkit.Window.SetDelegate is forbidden: "+setDelegateWhy,
				"closurevariants/bad_darwin.go:24:33: appkit.Menu.SetDelegate is forbidden: "+setDelegateWhy,
				"closurevariants/bad_darwin.go:26:39: appkit.IMenu.SetDelegate is forbidden: "+setDelegateWhy,
				"closurevariants/bad_darwin.go:28:36: appkit.TableView.SetDataSource is forbidden: its parameter value appkit.PTableViewDataSource is a protocol, "+
					"which darwinkit wraps with objc.WrapAsProtocol, whose methods are libffi closures, "+closureDefect+
					"; pass an object written in the package's .m file (the binding's ...Object variant takes one)",
				"closurevariants/bad_darwin.go:30:42: appkit.MenuDelegate.SetMenuWillOpen is forbidden: its parameter f func(menu appkit.Menu) is a Go func, "+funcParamWhy,
				"closurevariants/bad_darwin.go:32:39: objc.CreateMallocBlock is forbidden: it makes the block from a Go func with libffi closures, "+
					closureDefect+"; write the block in the package's .m file",
				"closurevariants/bad_darwin.go:36:86: a Go func passed to objc.Call is forbidden: darwinkit converts it to a block with objc.CreateMallocBlock, "+
					"made of libffi closures, "+closureDefect+"; write the block in the package's .m file",
			),
		},
		{
			dir:  "badselector",
			what: "a misspelled selector (setStat: for setState:) sent to a menu item",
			want: same(`badselector/bad_darwin.go:10:29: unknown selector: NSMenuItem (appkit.MenuItem) has no instance method -setStat: in ` + dk + `'s bindings or darwincheck's hand list (did you mean "setState:"?)`),
		},
		{
			dir:  "unknownclass",
			what: "an unknown Objective-C class",
			want: same(`unknownclass/bad_darwin.go:8:46: unknown Objective-C class "SMAppServce": not in ` + dk + `'s bindings or darwincheck's hand list (did you mean "SMAppService"?)`),
		},
		{
			dir:  "selectorarity",
			what: "a selector whose colons do not match objc.Call's arguments",
			want: same(`selectorarity/bad_darwin.go:11:29: objc.Call sends "setTitle:", which takes 1 argument, with 2`),
		},
		{
			dir:  "objcvariants",
			what: "held selectors, class vs instance methods, embedded bindings, names that are not constants, args..., objc.Call as a value, directives",
			want: same(
				`objcvariants/bad_darwin.go:13:62: objc.Call sends "setState:", which takes 1 argument, with 0`,
				`objcvariants/bad_darwin.go:16:42: unknown selector: NSMenuItem (appkit.MenuItem) has no instance method -separatorItem in `+dk+`'s bindings or darwincheck's hand list (did you mean "isSeparatorItem"?)`,
				`objcvariants/bad_darwin.go:20:52: unknown selector: NSMenuItem (appkit.MenuItem) has no class method +setState: in `+dk+`'s bindings or darwincheck's hand list`,
				`objcvariants/bad_darwin.go:25:48: unknown selector: NSMenuItem (appkit.MenuItem) has no instance method -setStat: in `+dk+`'s bindings or darwincheck's hand list (did you mean "setState:"?)`,
				`objcvariants/bad_darwin.go:28:35: objc.Sel with a selector that is not a constant: objc.Call's selector and argument count cannot be checked; use a constant, or say why with //darwincheck:unchecked`,
				`objcvariants/bad_darwin.go:29:23: objc.GetClass with a class name that is not a constant: it cannot be checked; use a constant, or say why with //darwincheck:unchecked`,
				`objcvariants/bad_darwin.go:37:26: objc.Call's selector is not objc.Sel of a constant (nor a variable set once to one): its name and argument count cannot be checked; say why with //darwincheck:unchecked`,
				`objcvariants/bad_darwin.go:40:66: objc.Call sends "setTitle:" with args...: the argument count cannot be checked; pass the arguments one by one`,
				`objcvariants/bad_darwin.go:42:17: objc.Call used as a value: the names it is given cannot be checked; call it directly`,
				`objcvariants/bad_darwin.go:45:77: unknown selector "sectionHeaderWithTitl:": no class or protocol has it in `+dk+`'s bindings or darwincheck's hand list (did you mean "sectionHeaderWithTitle:"?)`,
				`objcvariants/bad_darwin.go:51:2: //darwincheck:unchecked needs a reason: say why the name cannot be checked or is right`,
				`objcvariants/bad_darwin.go:52:20: unknown Objective-C class "BerthMenuObserver": not in `+dk+`'s bindings or darwincheck's hand list`,
				`objcvariants/bad_darwin.go:53:2: //darwincheck:unchecked suppresses nothing here: remove it`,
				`objcvariants/bad_darwin.go:58:26: unknown selector: NSMenuItem (appkit.MenuItem) has no instance method -setStat: in `+dk+`'s bindings or darwincheck's hand list (did you mean "setState:"?)`,
			),
		},
		{
			dir:  "objcsyntax",
			what: "an Objective-C file with a missing ], a misspelled AppKit selector and misspelled UserNotifications ones (the allow-list declares the classes GNUstep lacks)",
			want: same(
				"objcsyntax/bridge_darwin.m:7:40: Objective-C syntax: expected ']'",
				`objcsyntax/bridge_darwin.m:8:8: unknown selector "-registerForDragedTypes:": not in GNUstep's headers, `+dk+`'s bindings or darwincheck's hand list (did you mean "registerForDraggedTypes:"?)`,
				`objcsyntax/bridge_darwin.m:13:14: unknown selector "-setTitel:": not in GNUstep's headers, `+dk+`'s bindings or darwincheck's hand list (did you mean "setTitle:"?)`,
				`objcsyntax/bridge_darwin.m:16:44: unknown selector "+defaultSond": not in GNUstep's headers, `+dk+`'s bindings or darwincheck's hand list (did you mean "defaultSound"?)`,
			),
		},
		{
			dir:  "vetfindings",
			what: "go vet findings (printf, lostcancel) in darwin code that type-checks",
			want: same(
				"vetfindings/log_darwin.go:13:31: fmt.Sprintf format %d has arg vm.State().String() of wrong type string",
				"vetfindings/log_darwin.go:18:7: the cancel function returned by context.WithTimeout should be called, not discarded, to avoid a context leak",
			),
		},
	}
	for _, goarch := range []string{"arm64", "amd64"} {
		res := fixtureResult(t, goarch)
		covered := make(map[string]bool)
		for _, tc := range cases {
			covered[tc.dir] = true
			t.Run(goarch+"/"+tc.dir, func(t *testing.T) {
				got := problemsIn(res, tc.dir)
				if want := tc.want[goarch]; !slices.Equal(got, want) {
					t.Errorf("%s (%s) on darwin/%s:\ngot:\n%s\nwant:\n%s", tc.dir, tc.what, goarch,
						strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
		// Every problem must belong to a case above: nothing leaks from
		// dependencies, the standard library or the C stand-in.
		for _, p := range res.Problems {
			if dir, _, _ := strings.Cut(p.File, "/"); !covered[dir] {
				t.Errorf("darwin/%s: unexpected problem outside the table: %s (package %s)", goarch, p, p.Package)
			}
		}
	}
}

func TestFixtureCounts(t *testing.T) {
	res := fixtureResult(t, "arm64")
	// good + 20 planted packages; linuxonly has no darwin files; test
	// variants are not counted twice.
	if res.Packages != 21 {
		t.Errorf("Packages = %d, want 21", res.Packages)
	}
	if res.ObjcFiles != 2 {
		t.Errorf("ObjcFiles = %d, want 2 (good and objcsyntax)", res.ObjcFiles)
	}
	if res.AllowList == nil {
		t.Error("no Objective-C allow-list: the fixture sends objc messages")
	}
	if res.DarwinFiles == 0 || res.DarwinFiles != res.Files {
		t.Errorf("DarwinFiles = %d of Files = %d: every fixture file is darwin-only", res.DarwinFiles, res.Files)
	}
	if res.Deps == 0 {
		t.Error("no dependencies were loaded: vz and darwinkit should be")
	}
	if res.DepErrors == 0 {
		t.Error("no cgo artifacts were ignored in dependencies: is vz really checked from source?")
	}
}

func TestCLI(t *testing.T) {
	emptyModule := writeModule(t, map[string]string{})
	cases := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings
		stderr   []string
		noStdout []string
	}{
		{
			name: "good package passes for both arches",
			args: []string{"-C", fixtureDir, "./good"},
			code: exitClean,
			stdout: []string{"darwincheck: darwin/arm64 ok: 1 packages", "darwincheck: darwin/amd64 ok: 1 packages",
				"1 Objective-C files parsed by clang with GNUstep's headers"},
		},
		{
			name: "planted error fails with the compiler's message under a package header",
			args: []string{"-C", fixtureDir, "-goarch", "arm64", "./misspelledvz"},
			code: exitProblems,
			stdout: []string{
				"# example.com/fixture/misspelledvz (darwin/arm64)\n" +
					"misspelledvz/bad_darwin.go:6:15: undefined: vz.NewLinuxBootLoadr\n",
			},
			stderr: []string{"darwin/arm64 FAILED: 1 problems"},
		},
		{
			name: "a forbidden closure API fails the gate",
			args: []string{"-C", fixtureDir, "-goarch", "arm64", "./setdelegate"},
			code: exitProblems,
			stdout: []string{"# example.com/fixture/setdelegate (darwin/arm64)\n" +
				"setdelegate/bad_darwin.go:8:7: appkit.Menu.SetDelegate is forbidden: it wraps the delegate with objc.WrapAsProtocol"},
		},
		{
			name:   "a misspelled selector fails the gate; -v tells what the allow-list was built from",
			args:   []string{"-C", fixtureDir, "-goarch", "arm64", "-v", "./badselector"},
			code:   exitProblems,
			stdout: []string{`badselector/bad_darwin.go:10:29: unknown selector: NSMenuItem (appkit.MenuItem) has no instance method -setStat:`},
			stderr: []string{"darwin/arm64: Objective-C allow-list of github.com/progrium/darwinkit@v0.5.0: 1816 classes, 26642 (class, selector) pairs"},
		},
		{
			name:   "arm64-only API passes for arm64",
			args:   []string{"-C", fixtureDir, "-goarch", "arm64", "./arm64only"},
			code:   exitClean,
			stdout: []string{"darwin/arm64 ok"},
		},
		{
			name:   "arm64-only API fails for amd64",
			args:   []string{"-C", fixtureDir, "-goarch", "arm64, amd64", "./arm64only"},
			code:   exitProblems,
			stdout: []string{"darwin/arm64 ok", "(darwin/amd64)\narm64only/rosetta_darwin.go:8:12: undefined: vz.LinuxRosettaDirectoryShareAvailability"},
		},
		{
			name:     "-vet=false skips analyzers",
			args:     []string{"-C", fixtureDir, "-goarch", "arm64", "-vet=false", "./vetfindings"},
			code:     exitClean,
			noStdout: []string{"fmt.Sprintf"},
		},
		{
			name:     "-tests=false skips test files",
			args:     []string{"-C", fixtureDir, "-goarch", "arm64", "-tests=false", "./badtest"},
			code:     exitClean,
			noStdout: []string{"declared and not used"},
		},
		{
			name:   "unknown GOARCH",
			args:   []string{"-C", fixtureDir, "-goarch", "386", "./good"},
			code:   exitError,
			stderr: []string{`GOARCH "386" is not a darwin architecture: use arm64 or amd64`},
		},
		{
			name:   "empty -goarch",
			args:   []string{"-goarch", " , ", "./good"},
			code:   exitError,
			stderr: []string{"-goarch is empty"},
		},
		{
			name:   "pattern naming a missing directory",
			args:   []string{"-C", fixtureDir, "-goarch", "arm64", "./nosuchdir/..."},
			code:   exitProblems,
			stdout: []string{"pattern ./nosuchdir/...: lstat ./nosuchdir/: no such file or directory"},
		},
		{
			name:   "module without packages",
			args:   []string{"-C", emptyModule, "-goarch", "arm64"},
			code:   exitError,
			stderr: []string{"matched no packages for ./..."},
		},
		{
			name:   "missing directory",
			args:   []string{"-C", filepath.Join(t.TempDir(), "missing"), "-goarch", "arm64"},
			code:   exitError,
			stderr: []string{"go list for darwin/arm64 in"},
		},
		{
			name:   "bad flag",
			args:   []string{"-nosuchflag"},
			code:   exitError,
			stderr: []string{"flag provided but not defined: -nosuchflag"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, &stdout, &stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, &stdout)
				}
			}
			for _, s := range tc.noStdout {
				if strings.Contains(stdout.String(), s) {
					t.Errorf("stdout has %q:\n%s", s, &stdout)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, &stderr)
				}
			}
		})
	}
}

// writeModule makes a module in t.TempDir() with the fixture's go.mod and
// go.sum (vz and darwinkit) and the given files.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(fixtureDir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
	}
	for name, text := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestVariantsInTempDir plants mistakes in copies of a good fixture file and
// writes broken modules: the check must report exactly the compiler's lines.
func TestVariantsInTempDir(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtureDir, "good", "menu_darwin.go"))
	if err != nil {
		t.Fatal(err)
	}
	menu := strings.Replace(string(b), "package good", "package menu", 1)
	edit := func(old, new string) map[string]string {
		if !strings.Contains(menu, old) {
			t.Fatalf("fixture changed: %q not in good/menu_darwin.go", old)
		}
		return map[string]string{"menu/menu_darwin.go": strings.Replace(menu, old, new, 1)}
	}
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{name: "unchanged good file", files: map[string]string{"menu/menu_darwin.go": menu}},
		{
			name:  "wrong darwinkit argument type",
			files: edit(`item.Button().SetTitle(title)`, `item.Button().SetTitle(42.5)`),
			want:  []string{"menu/menu_darwin.go:16:25: cannot use 42.5 (untyped float constant) as string value in argument to item.Button().SetTitle"},
		},
		{
			name:  "unknown darwinkit constant",
			files: edit(`appkit.VariableStatusItemLength`, `appkit.VariableStatusItemLenght`),
			want:  []string{"menu/menu_darwin.go:11:73: undefined: appkit.VariableStatusItemLenght"},
		},
		{
			name:  "syntax error is reported alone, like the compiler",
			files: map[string]string{"b/b_darwin.go": "package b\n\nfunc F() {\n\tx :=\n}\n"},
			want:  []string{"b/b_darwin.go:5:1: expected operand, found '}'"},
		},
		{
			name:  "import of a module go.mod lacks is reported once, at the import",
			files: map[string]string{"a/a_darwin.go": "package a\n\nimport \"github.com/nosuch/module/pkg\"\n\nfunc F() { pkg.X() }\n"},
			want: []string{"a/a_darwin.go:3:8: no required module provides package github.com/nosuch/module/pkg; to add it:\n" +
				"\tgo get github.com/nosuch/module/pkg"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeModule(t, tc.files)
			res, err := Check(context.Background(), Config{Dir: dir, Patterns: []string{"./..."}, GOARCH: "arm64", Vet: true})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range res.Problems {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestPatchedDependency: a dependency go.mod replaces with a directory
// inside the project (a patched copy, like packaging/third_party/vz) is
// checked with function bodies and its errors are reported; one replaced
// with a directory outside the project stays an ordinary dependency.
func TestPatchedDependency(t *testing.T) {
	base := t.TempDir()
	dial := func(pkg string) string {
		// A planted body error, and a C call the stand-in cannot know.
		return "package " + pkg + "\n\n// #include <unistd.h>\nimport \"C\"\n\n" +
			"func Dial() int {\n\tvar unused int\n\treturn int(C.dup(1))\n}\n"
	}
	files := map[string]string{
		"m/go.mod": "module example.com/m\n\ngo 1.26\n\n" +
			"require (\n\texample.com/patched v0.0.0\n\texample.com/outside v0.0.0\n)\n\n" +
			"replace example.com/patched => ./third_party/patched\n\n" +
			"replace example.com/outside => ../outside\n",
		"m/use/use_darwin.go": "package use\n\nimport (\n\t\"example.com/outside\"\n\t\"example.com/patched\"\n)\n\n" +
			"func F() int { return patched.Dial() + outside.Dial() }\n",
		"m/third_party/patched/go.mod":  "module example.com/patched\n\ngo 1.22\n",
		"m/third_party/patched/dial.go": dial("patched"),
		"outside/go.mod":                "module example.com/outside\n\ngo 1.22\n",
		"outside/dial.go":               dial("outside"),
	}
	for name, text := range files {
		p := filepath.Join(base, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Check(context.Background(), Config{Dir: filepath.Join(base, "m"), Patterns: []string{"./..."}, GOARCH: "arm64", Vet: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Problems {
		got = append(got, p.String())
	}
	want := []string{"third_party/patched/dial.go:7:6: declared and not used: unused"}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res.Patched != 1 || res.Packages != 1 {
		t.Errorf("Patched = %d, Packages = %d; want 1 and 1", res.Patched, res.Packages)
	}
	if res.DepErrors == 0 {
		t.Error("the unknown C.dup in the patched package was not counted as an ignored cgo artifact")
	}
}

func TestIsCgoNoise(t *testing.T) {
	cases := []struct {
		msg  string
		want bool
	}{
		{"undefined: C.greet_len", true},
		{"undefined: C.VZThing (but have VZthing)", true},
		{"name int not exported by package C", true},
		{`"C" imported and not used`, true},
		{"cannot use x (variable of invalid type) as int value in assignment", true},
		{"invalid operation: operator + not defined on x (variable of invalid operand)", true},
		{"undefined: vz.NewFoo", false},
		{"undefined: Cfoo", false},
		{"undefined: C", false},
		{"name foo not exported by package vz", false},
		{`"os" imported and not used`, false},
		{"declared and not used: C", false},
		{"invalid type assertion", false}, // "invalid type" at the start is a real error
		{"cannot use cs (variable of type *C.char) as unsafe.Pointer value in argument to C.free", false},
	}
	for _, tc := range cases {
		t.Run(tc.msg, func(t *testing.T) {
			if got := isCgoNoise(tc.msg); got != tc.want {
				t.Errorf("isCgoNoise(%q) = %v, want %v", tc.msg, got, tc.want)
			}
		})
	}
}

func TestCPackage(t *testing.T) {
	sizes := types.SizesFor("gc", "arm64")
	c := newCPackage()
	typ := func(name string) types.Type {
		t.Helper()
		obj := c.Scope().Lookup(name)
		if obj == nil {
			t.Fatalf("C.%s is not defined", name)
		}
		return obj.Type()
	}
	sizeCases := []struct {
		name string
		size int64
	}{
		{"char", 1}, {"schar", 1}, {"uchar", 1}, {"short", 2}, {"ushort", 2}, {"int", 4}, {"uint", 4},
		{"long", 8}, {"ulong", 8}, {"longlong", 8}, {"ulonglong", 8}, {"float", 4}, {"double", 8},
		{"size_t", 8}, {"uintptr_t", 8}, {"int32_t", 4}, {"uint8_t", 1},
	}
	for _, tc := range sizeCases {
		t.Run("sizeof "+tc.name, func(t *testing.T) {
			if got := sizes.Sizeof(typ(tc.name)); got != tc.size {
				t.Errorf("sizeof(C.%s) = %d, want %d", tc.name, got, tc.size)
			}
		})
	}
	identical := []struct {
		a, b string
		want bool
	}{
		{"size_t", "ulong", true},     // typedef: alias in cgo's output
		{"uintptr_t", "ulong", true},  // typedef
		{"int32_t", "int", true},      // typedef
		{"int", "long", false},        // distinct base types need a conversion
		{"long", "longlong", false},   // same size, still distinct in cgo
		{"char", "schar", false},      // distinct C types
		{"int64_t", "longlong", true}, // darwin's stdint.h
		{"bool", "_Bool", true},       // stdbool.h macro
	}
	for _, tc := range identical {
		t.Run(fmt.Sprintf("%s vs %s", tc.a, tc.b), func(t *testing.T) {
			if got := types.Identical(typ(tc.a), typ(tc.b)); got != tc.want {
				t.Errorf("Identical(C.%s, C.%s) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
	if c2 := newCPackage(); types.Identical(typ("int"), c2.Scope().Lookup("int").Type()) {
		t.Error("C.int of two packages are identical; cgo makes them distinct")
	}
	if got := typ("CString").String(); got != "func(string) *C.char" {
		t.Errorf("C.CString has type %s", got)
	}
}

func TestDarwinOnly(t *testing.T) {
	cases := []struct {
		name, src string
		want      bool
	}{
		{"vz_darwin.go", "package p", true},
		{"vz_darwin_arm64.go", "package p", true},
		{"vz_darwin_test.go", "package p", true},
		{"config.go", "package p", false},
		{"menu.go", "//go:build darwin\n\npackage p", true},
		{"menu.go", "//go:build darwin && arm64\n\npackage p", true},
		{"unix.go", "//go:build unix\n\npackage p", false},
		{"notlinux.go", "//go:build !linux\n\npackage p", true},
		{"cgo.go", "//go:build cgo\n\npackage p", false},
		{"new.go", "//go:build go1.22\n\npackage p", false},
	}
	for _, tc := range cases {
		t.Run(tc.name+" "+tc.src, func(t *testing.T) {
			f := parseForTest(t, tc.name, tc.src)
			if got := darwinOnly(tc.name, f, "arm64"); got != tc.want {
				t.Errorf("darwinOnly = %v, want %v", got, tc.want)
			}
		})
	}
}

func parseForTest(t *testing.T, name, src string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// BenchmarkCheck measures one full darwin/arm64 check of the good fixture
// package (go list, parse and type-check of the standard library, vz and
// darwinkit, vet): the cost of one GOARCH in `make darwin-check`.
func BenchmarkCheck(b *testing.B) {
	for _, vet := range []bool{false, true} {
		b.Run(fmt.Sprintf("vet=%v", vet), func(b *testing.B) {
			for b.Loop() {
				res, err := Check(context.Background(), Config{Dir: fixtureDir, Patterns: []string{"./good"}, GOARCH: "arm64", Tests: true, Vet: vet})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Problems) > 0 {
					b.Fatalf("good fixture has problems: %v", res.Problems)
				}
			}
		})
	}
}
