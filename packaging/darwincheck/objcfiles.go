package main

import (
	"bytes"
	"context"
	"fmt"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The Objective-C file check: each .m file of the project's packages (go
// list's MFiles) is parsed by clang -fsyntax-only against GNUstep's
// Foundation and AppKit headers, the only Objective-C headers a Linux
// machine has (Debian's clang and libgnustep-gui-dev; no Apple SDK can be
// had here). GNUstep's API is older and smaller than Apple's, so only what
// does not depend on Apple's declarations is reported:
//   - clang's "Parse Issue" errors (brackets, semicolons, block and
//     @interface syntax) and preprocessor errors in the file;
//   - "method not found" for a selector that neither GNUstep's headers nor
//     the allow-list (darwinkit's bindings and the hand list) have.
// Every other diagnostic ("Semantic Issue": types, undeclared names, which
// all of Apple's newer API is here) is dropped. Headers GNUstep lacks
// (UserNotifications, ServiceManagement, dispatch, cgo's _cgo_export.h)
// are replaced by empty files, and Apple's annotation macros (API_AVAILABLE,
// NS_SWIFT_NAME...) expand to nothing (objcPrelude). On macOS the check is
// skipped: the real build compiles the file with Apple's SDK.

// objcPrelude defines Apple's annotation macros that GNUstep's headers do
// not: without them valid Apple code fails to parse. They carry no API.
const objcPrelude = `/* darwincheck: Apple's annotation macros, empty. */
#define API_AVAILABLE(...)
#define API_UNAVAILABLE(...)
#define API_DEPRECATED(...)
#define API_DEPRECATED_WITH_REPLACEMENT(...)
#define NS_SWIFT_NAME(x)
#define NS_SWIFT_UI_ACTOR
#define NS_REFINED_FOR_SWIFT
#define NS_HEADER_AUDIT_BEGIN(...)
#define NS_HEADER_AUDIT_END(...)
`

// objcTools is what the check runs: clang and the include directories.
type objcTools struct {
	clang    string
	gnustep  string // GNUstep's headers (Foundation/, AppKit/)
	objcInc  string // the GNU Objective-C runtime's headers (objc/objc.h)
	stubs    string // a temporary directory: prelude, empty headers
	err      error  // why the check cannot run here
	mu       sync.Mutex
	stubbed  map[string]bool // header names replaced by empty files
	results  map[string][]diag
	inFlight map[string]*sync.WaitGroup
}

var objcToolsOnce struct {
	once  sync.Once
	tools *objcTools
}

// findObjcTools locates clang and the headers once per process.
func findObjcTools(ctx context.Context) *objcTools {
	objcToolsOnce.once.Do(func() {
		t := &objcTools{stubbed: make(map[string]bool), results: make(map[string][]diag), inFlight: make(map[string]*sync.WaitGroup)}
		objcToolsOnce.tools = t
		var err error
		if t.clang, err = exec.LookPath("clang"); err != nil {
			t.err = fmt.Errorf("clang is missing")
			return
		}
		t.gnustep = "/usr/include/GNUstep"
		if out, err := exec.CommandContext(ctx, "gnustep-config", "--variable=GNUSTEP_SYSTEM_HEADERS").Output(); err == nil && strings.TrimSpace(string(out)) != "" {
			t.gnustep = strings.TrimSpace(string(out))
		}
		if _, err := os.Stat(filepath.Join(t.gnustep, "AppKit", "AppKit.h")); err != nil {
			t.err = fmt.Errorf("GNUstep's AppKit headers are missing (no %s)", filepath.Join(t.gnustep, "AppKit", "AppKit.h"))
			return
		}
		if out, err := exec.CommandContext(ctx, "gcc", "-print-file-name=include").Output(); err == nil {
			t.objcInc = strings.TrimSpace(string(out))
		}
		if _, err := os.Stat(filepath.Join(t.objcInc, "objc", "objc.h")); err != nil {
			t.err = fmt.Errorf("the GNU Objective-C runtime's headers are missing (no objc/objc.h under gcc's include directory)")
			return
		}
		if t.stubs, err = os.MkdirTemp("", "darwincheck-objc-"); err != nil {
			t.err = err
			return
		}
		for name, text := range map[string]string{
			"darwincheck_prelude.h": objcPrelude,
			"_cgo_export.h":         "/* darwincheck: cgo writes this at build time; empty here. */\n",
			// GNUstep's headers include it under -fblocks; Debian's GNU
			// runtime (libobjc) has no blocks runtime header.
			"objc/blocks_runtime.h": "/* darwincheck: empty. */\n",
		} {
			if err := writeStub(t.stubs, name, text); err != nil {
				t.err = err
				return
			}
		}
	})
	return objcToolsOnce.tools
}

func writeStub(dir, name, text string) error {
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(text), 0o644)
}

// cleanupObjcTools removes the stub directory (main calls it on exit).
func cleanupObjcTools() {
	if t := objcToolsOnce.tools; t != nil && t.stubs != "" {
		os.RemoveAll(t.stubs)
	}
}

// clangDiag is one line of clang's output with -fdiagnostics-show-category=name:
// file:line:col: error: message [-Wflag,Category]
var clangDiag = regexp.MustCompile(`^(.+?):(\d+):(\d+): (fatal error|error|warning): (.*?)(?: \[([^\]]*)\])?$`)

var (
	clangNotFound     = regexp.MustCompile(`^'([^']+)' file not found`)
	clangNoMethod     = regexp.MustCompile(`^(instance|class) method '([-+])([^']+)' not found`)
	clangDidYouMean   = regexp.MustCompile(`did you mean '([-+][^']+)'\?`)
	objcCheckMaxStubs = 32
)

// stubbedHeaders lists the headers replaced by empty files so far.
func (t *objcTools) stubbedHeaders() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return keys(t.stubbed)
}

// checkObjcFile returns the problems clang finds in the Objective-C file at
// path, filtered as the package comment says. Results are cached per file:
// both GOARCH runs share them.
func (t *objcTools) checkObjcFile(ctx context.Context, path string, list *allowList) []diag {
	t.mu.Lock()
	if ds, ok := t.results[path]; ok {
		t.mu.Unlock()
		return ds
	}
	if wg := t.inFlight[path]; wg != nil {
		t.mu.Unlock()
		wg.Wait()
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.results[path]
	}
	wg := new(sync.WaitGroup)
	wg.Add(1)
	t.inFlight[path] = wg
	t.mu.Unlock()

	ds := t.runClang(ctx, path, list)

	t.mu.Lock()
	t.results[path] = ds
	delete(t.inFlight, path)
	t.mu.Unlock()
	wg.Done()
	return ds
}

func (t *objcTools) runClang(ctx context.Context, path string, list *allowList) []diag {
	at := token.Position{Filename: path}
	if t.err != nil {
		return []diag{{at, fmt.Sprintf("cannot check this Objective-C file: %v (make deps installs clang and libgnustep-gui-dev)", t.err)}}
	}
	apple, err := t.appleDecls(list)
	if err != nil {
		return []diag{{at, err.Error()}}
	}
	args := []string{
		"-fsyntax-only", "-x", "objective-c", "-fobjc-runtime=gcc", "-fblocks",
		"-fconstant-string-class=NSConstantString", "-ferror-limit=0",
		"-fdiagnostics-show-category=name", "-fno-color-diagnostics", "-fno-caret-diagnostics",
		"-DGNUSTEP", "-DGNUSTEP_BASE_LIBRARY=1", "-DGNU_GUI_LIBRARY=1", "-DGNU_RUNTIME=1",
		"-include", filepath.Join(t.stubs, "darwincheck_prelude.h"),
		"-include", apple,
		"-I", filepath.Dir(path), "-I", t.stubs, "-I", t.gnustep, "-I", t.objcInc,
		path,
	}
	last := ""
	for range objcCheckMaxStubs {
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, t.clang, args...)
		cmd.Stdout = &out
		cmd.Stderr = &out
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			return []diag{{at, fmt.Sprintf("cannot run clang: %v", err)}}
		}
		ds, missing := filterClang(out.String(), filepath.Dir(path), list)
		if missing == "" {
			return ds
		}
		if missing == last {
			return append(ds, diag{at, fmt.Sprintf("clang still cannot find %s after an empty stand-in was written", missing)})
		}
		last = missing
		// A header GNUstep lacks (UserNotifications/UserNotifications.h):
		// replace it by an empty file and parse again.
		t.mu.Lock()
		t.stubbed[missing] = true
		err = writeStub(t.stubs, missing, "/* darwincheck: a header GNUstep lacks; empty. */\n")
		t.mu.Unlock()
		if err != nil {
			return []diag{{at, err.Error()}}
		}
	}
	return []diag{{at, fmt.Sprintf("more than %d headers missing: is this Objective-C?", objcCheckMaxStubs)}}
}

// appleDecls writes (once per allow-list) a header declaring what the
// allow-list knows of Apple's API and GNUstep's headers may lack: every
// class (@class, which also stands beside a full @interface) and the hand
// list's C types. Without it, a method taking a UNNotificationResponse *
// stops clang's parse; with it, only the names themselves go unchecked,
// as the package comment says.
func (t *objcTools) appleDecls(list *allowList) (string, error) {
	name := "darwincheck_apple.h"
	var b strings.Builder
	b.WriteString("/* darwincheck: what the allow-list knows of Apple's API, declared. */\n")
	if list != nil {
		name = "darwincheck_apple_" + strings.NewReplacer("/", "_", "@", "_").Replace(list.module) + ".h"
		classes := keys(list.classes)
		sort.Strings(classes)
		for _, c := range classes {
			fmt.Fprintf(&b, "@class %s;\n", c)
		}
	}
	for _, ty := range handTypes {
		b.WriteString(ty.decl + "\n")
	}
	path := filepath.Join(t.stubs, name)
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	return path, writeStub(t.stubs, name, b.String())
}

// filterClang keeps the diagnostics the check trusts (see the package
// comment) in files of the package's directory, and returns the first
// missing header, if clang stopped on one.
func filterClang(out, dir string, list *allowList) (ds []diag, missingHeader string) {
	for line := range strings.SplitSeq(out, "\n") {
		m := clangDiag.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil {
			continue
		}
		file, kind, msg, category := m[1], m[4], m[5], m[6]
		if kind == "fatal error" {
			if nf := clangNotFound.FindStringSubmatch(msg); nf != nil {
				return ds, nf[1]
			}
		}
		if filepath.Dir(file) != dir {
			continue // GNUstep's headers are not the project's to fix
		}
		lineNo, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		pos := token.Position{Filename: file, Line: lineNo, Column: col}
		switch {
		case kind != "warning" && (strings.HasSuffix(category, "Parse Issue") || strings.HasSuffix(category, "Lexical or Preprocessor Issue")):
			ds = append(ds, diag{pos, "Objective-C syntax: " + msg})
		case strings.Contains(category, "-Wobjc-method-access"):
			nm := clangNoMethod.FindStringSubmatch(msg)
			if nm == nil || list == nil || list.anySel[nm[3]] {
				continue // API GNUstep lacks but Apple has (per the allow-list)
			}
			hint := suggest(nm[3], keys(list.anySel))
			if dm := clangDidYouMean.FindStringSubmatch(msg); dm != nil {
				hint = fmt.Sprintf(" (did you mean %q?)", dm[1][1:])
			}
			ds = append(ds, diag{pos, fmt.Sprintf("unknown selector %q: not in GNUstep's headers, %s's bindings or darwincheck's hand list%s",
				nm[2]+nm[3], list.module, hint)})
		}
	}
	return ds, ""
}

// objcFileProblems checks the .m files of one of the project's packages.
func (st *pkgState) objcFileProblems(ctx context.Context, listed []*listedPackage) ([]diag, error) {
	if len(st.list.MFiles) == 0 || st.list.ForTest != "" || runtime.GOOS == "darwin" {
		return nil, nil
	}
	var list *allowList
	if dir, version := darwinkitDir(listed); dir != "" {
		var err error
		if list, err = loadAllowList(dir, version); err != nil {
			return nil, err
		}
	}
	t := findObjcTools(ctx)
	var ds []diag
	for _, name := range st.list.MFiles {
		ds = append(ds, t.checkObjcFile(ctx, filepath.Join(st.list.Dir, name), list)...)
	}
	return ds, nil
}
