package main

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config says what one check covers.
type Config struct {
	// Dir is where the go command runs: a directory of the module to check.
	Dir string
	// Patterns are go package patterns, resolved in Dir.
	Patterns []string
	// GOARCH is the darwin architecture to check for (arm64 or amd64).
	GOARCH string
	// Tests also checks the _test.go files of the project's packages.
	Tests bool
	// Vet runs the vet analyzers of vet.go on the project's packages.
	Vet bool
}

// Problem is one error in the project's code, positioned like the compiler
// reports it.
type Problem struct {
	Package string // import path (test variants say so)
	File    string // relative to the module root when inside it
	Line    int
	Col     int
	Message string
	Source  string // "type", "list" or the vet analyzer's name
}

// String formats p as the compiler does: file:line:col: message.
func (p Problem) String() string {
	switch {
	case p.File == "":
		return p.Message
	case p.Line == 0:
		return fmt.Sprintf("%s: %s", p.File, p.Message)
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Message)
}

// Result is the outcome of one check.
type Result struct {
	GOARCH      string
	Packages    int // project packages checked (test variants not counted)
	Files       int // project files checked
	DarwinFiles int // of those, files that exist only for darwin
	Deps        int // other packages loaded (standard library and modules)
	DepErrors   int // errors ignored in those and in patched ones (cgo artifacts, mostly)
	Patched     int // of Deps, packages of patched dependencies (checked with bodies)
	Problems    []Problem
	Warnings    []string // vet analyzers that could not run on a package
	// AllowList is the Objective-C allow-list, when a package of the
	// project sends objc messages (built once per process, see allowlist.go).
	AllowList *allowList
	// ObjcFiles counts the project's Objective-C files (.m) given to clang
	// (none on macOS, where the real build compiles them).
	ObjcFiles int
	Duration  time.Duration
}

// pkgState is one listed package on its way through parse and check.
type pkgState struct {
	list  *listedPackage
	main  bool // the project's code: errors reported, vet runs
	full  bool // checked with function bodies, syntax and types.Info kept
	sizes types.Sizes
	files []*ast.File
	info  *types.Info
	types *types.Package
	errs  []diag
	// syntaxErrs says errs holds parse errors: like the compiler, report
	// those alone, since type errors after them are mostly follow-ons.
	syntaxErrs bool
	done       chan struct{}
	// patched: a dependency go.mod replaces with a copy in the project's
	// tree (listedPackage.patchedIn): checked in full, errors reported, not
	// vetted (the copy is upstream's code but for the patch).
	patched bool
}

// diag is one message from the parser or the type checker.
type diag struct {
	pos token.Position
	msg string
}

// Check lists, parses and type-checks the packages matched by cfg for
// darwin/cfg.GOARCH. It returns an error only when it could not run; errors
// in the checked code are Result.Problems.
func Check(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	sizes := types.SizesFor("gc", cfg.GOARCH)
	if sizes == nil || (cfg.GOARCH != "arm64" && cfg.GOARCH != "amd64") {
		return nil, fmt.Errorf("GOARCH %q is not a darwin architecture: use arm64 or amd64", cfg.GOARCH)
	}
	listed, err := goList(ctx, cfg.Dir, cfg.GOARCH, cfg.Tests, cfg.Patterns)
	if err != nil {
		return nil, err
	}

	res := &Result{GOARCH: cfg.GOARCH}
	root := ""
	for _, lp := range listed {
		if lp.inMainModule() && lp.Module.Dir != "" {
			root = lp.Module.Dir
			break
		}
	}
	byPath := make(map[string]*pkgState, len(listed))
	var states []*pkgState
	for _, lp := range listed {
		if lp.isTestMain() {
			continue
		}
		main := lp.inMainModule()
		patched := lp.patchedIn(root)
		st := &pkgState{
			list:    lp,
			main:    main,
			patched: patched,
			full:    main || patched || (cfg.Vet && lp.Standard && noReturnSources[lp.ImportPath]),
			sizes:   sizes,
			done:    make(chan struct{}),
		}
		byPath[lp.ImportPath] = st
		states = append(states, st)
	}

	fset := token.NewFileSet()
	tctx := types.NewContext()
	// Parsing and checking run in parallel: each package waits only for the
	// packages it imports. The semaphore bounds work in progress, never
	// waiting, so a package blocked on its imports holds no slot.
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	acquire := func() bool {
		select {
		case sem <- struct{}{}:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var wg sync.WaitGroup
	for _, st := range states {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(st.done)
			if !acquire() {
				return
			}
			st.parse(fset)
			<-sem
			for _, imp := range st.list.Imports {
				if dep := byPath[st.resolve(imp)]; dep != nil {
					select {
					case <-dep.done:
					case <-ctx.Done():
						return
					}
				}
			}
			if !acquire() {
				return
			}
			st.check(fset, tctx, byPath)
			<-sem
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("darwin/%s check: %w", cfg.GOARCH, err)
	}

	cwd, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("darwin/%s check: %w", cfg.GOARCH, err)
	}
	for _, st := range states {
		if p := listProblem(st, cwd, root); p != nil {
			res.Problems = append(res.Problems, *p)
		}
	}
	counted := make(map[string]bool)
	var vet *vetRunner
	if cfg.Vet {
		vet = newVetRunner(fset)
	}
	// In go list order, which is dependency order: vet facts flow from a
	// package to its importers.
	for _, st := range states {
		if st.patched {
			ps, ignored := st.typeProblems(root)
			res.Deps++
			res.Patched++
			res.DepErrors += ignored
			res.Problems = append(res.Problems, ps...)
			continue
		}
		if !st.main {
			res.Deps++
			res.DepErrors += len(st.errs)
			if vet != nil && st.full {
				vet.run(st, ctrlflowOnly)
			}
			continue
		}
		if st.list.ForTest == "" {
			res.Packages++
		}
		for _, f := range st.files {
			name := fset.File(f.Pos()).Name()
			if counted[name] {
				continue
			}
			counted[name] = true
			res.Files++
			if darwinOnly(name, f, cfg.GOARCH) {
				res.DarwinFiles++
			}
		}
		kept, _ := st.typeProblems(root)
		res.Problems = append(res.Problems, kept...)
		ds, list, err := st.darwinkitChecks(fset, listed)
		if err != nil {
			return nil, fmt.Errorf("darwin/%s check: %w", cfg.GOARCH, err)
		}
		if list != nil {
			res.AllowList = list
		}
		for _, d := range ds {
			res.Problems = append(res.Problems, newProblem(st, d.pos, root, d.msg, "darwinkit"))
		}
		mds, err := st.objcFileProblems(ctx, listed)
		if err != nil {
			return nil, fmt.Errorf("darwin/%s check: %w", cfg.GOARCH, err)
		}
		for _, d := range mds {
			res.Problems = append(res.Problems, newProblem(st, d.pos, root, d.msg, "objc-file"))
		}
		if len(st.list.MFiles) > 0 && st.list.ForTest == "" && runtime.GOOS != "darwin" {
			res.ObjcFiles += len(st.list.MFiles)
		}
		// Like go vet: analyzers need a package that type-checks.
		if vet != nil && len(kept) == 0 && st.list.Error == nil && len(st.list.DepsErrors) == 0 {
			for _, d := range vet.run(st, vetAnalyzers) {
				res.Problems = append(res.Problems, newProblem(st, d.pos, root, d.msg, d.analyzer))
			}
		}
	}
	if vet != nil {
		res.Warnings = vet.warnings
	}
	if t := objcToolsOnce.tools; t != nil {
		if h := t.stubbedHeaders(); len(h) > 0 {
			res.Warnings = append(res.Warnings, "objc: headers GNUstep lacks, parsed as empty files: "+strings.Join(h, ", "))
		}
	}
	res.Problems = dedupe(res.Problems)
	res.Duration = time.Since(start)
	return res, nil
}

// typeProblems turns the package's parse and type errors into problems,
// leaving out (and counting) cgo artifacts and follow-ons of imports go
// list could not load (reported on their own).
func (st *pkgState) typeProblems(root string) (out []Problem, ignored int) {
	for _, e := range st.errs {
		if isCgoNoise(e.msg) || strings.HasSuffix(e.msg, errNotLoaded.Error()+")") {
			ignored++
			continue
		}
		out = append(out, newProblem(st, e.pos, root, e.msg, "type"))
	}
	return out, ignored
}

// resolve maps an import path as written in st's files to the listed
// package it means (vendoring, test variants).
func (st *pkgState) resolve(imp string) string {
	if p, ok := st.list.ImportMap[imp]; ok {
		return p
	}
	return imp
}

// parse reads the package's files. Dependencies are parsed without comments
// (faster); the project's keep them for the vet analyzers and for reading
// build constraints.
func (st *pkgState) parse(fset *token.FileSet) {
	mode := parser.SkipObjectResolution
	if st.full {
		mode |= parser.ParseComments
	}
	names := append(append([]string(nil), st.list.GoFiles...), st.list.CgoFiles...)
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(st.list.Dir, name)
		f, err := parser.ParseFile(fset, path, nil, mode)
		if f != nil {
			st.files = append(st.files, f)
		}
		var list scanner.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				st.errs = append(st.errs, diag{e.Pos, e.Msg})
			}
			st.syntaxErrs = true
		} else if err != nil {
			st.errs = append(st.errs, diag{token.Position{Filename: path}, err.Error()})
			st.syntaxErrs = true
		}
	}
}

// check type-checks the parsed files. The project's packages and patched
// dependencies are checked in full; everything else has function bodies
// skipped (its API is all the project can get wrong) and its errors are kept
// only to be counted.
func (st *pkgState) check(fset *token.FileSet, tctx *types.Context, byPath map[string]*pkgState) {
	conf := &types.Config{
		Context:          tctx,
		Sizes:            st.sizes,
		IgnoreFuncBodies: !st.full,
		Importer: importerFunc(func(path, _ string, _ types.ImportMode) (*types.Package, error) {
			return st.importPackage(path, byPath)
		}),
		Error: func(err error) {
			var te types.Error
			if errors.As(err, &te) && !st.syntaxErrs {
				st.errs = append(st.errs, diag{te.Fset.Position(te.Pos), te.Msg})
			}
		},
	}
	if (st.main || st.patched) && st.list.Module.GoVersion != "" {
		// The module's go line gates language features, as in `go build`.
		conf.GoVersion = "go" + st.list.Module.GoVersion
	}
	if st.full {
		st.info = &types.Info{
			Types:        make(map[ast.Expr]types.TypeAndValue),
			Instances:    make(map[*ast.Ident]types.Instance),
			Defs:         make(map[*ast.Ident]types.Object),
			Uses:         make(map[*ast.Ident]types.Object),
			Implicits:    make(map[ast.Node]types.Object),
			Selections:   make(map[*ast.SelectorExpr]*types.Selection),
			Scopes:       make(map[ast.Node]*types.Scope),
			FileVersions: make(map[*ast.File]string),
		}
	}
	path := st.list.ImportPath
	if st.list.ForTest != "" {
		// "p [p.test]" is package p compiled with its tests: same path.
		path, _, _ = strings.Cut(path, " ")
	}
	// Errors go to conf.Error; the package is usable by importers whatever
	// they are, like the compiler's export data would be.
	st.types, _ = conf.Check(path, fset, st.files, st.info)
	if !st.full {
		st.files = nil // only the API is needed from here on
	}
}

func (st *pkgState) importPackage(path string, byPath map[string]*pkgState) (*types.Package, error) {
	switch path {
	case "C":
		return newCPackage(), nil
	case "unsafe":
		return types.Unsafe, nil
	}
	dep := byPath[st.resolve(path)]
	if dep == nil || dep.types == nil || (dep.list.Error != nil && len(dep.files) == 0) {
		// go list said why (missing module, no Go files for darwin...) and
		// that is reported on its own; errors.go drops this follow-on.
		return nil, fmt.Errorf("%s: %w", path, errNotLoaded)
	}
	return dep.types, nil
}

// errNotLoaded marks imports of packages that go list could not load.
var errNotLoaded = errors.New("package not loaded for darwin")

type importerFunc func(path, dir string, mode types.ImportMode) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path, "", 0) }
func (f importerFunc) ImportFrom(path, dir string, mode types.ImportMode) (*types.Package, error) {
	return f(path, dir, mode)
}

// listProblem turns a go list error into a problem when it would stop a
// darwin build of the project. Packages of the project that have no files
// for darwin at all (linux-only backends) are simply not part of it.
// Positions from go list are relative to the directory it ran in (cwd).
func listProblem(st *pkgState, cwd, root string) *Problem {
	e := st.list.Error
	if e == nil {
		return nil
	}
	if strings.Contains(e.Err, "build constraints exclude all Go files") {
		return nil
	}
	p := &Problem{Package: st.list.ImportPath, Message: strings.TrimSpace(e.Err), Source: "list"}
	if e.Pos == "" {
		if len(e.ImportStack) > 1 {
			p.Message += " (imported by " + strings.Join(e.ImportStack[:len(e.ImportStack)-1], " -> ") + ")"
		}
		return p
	}
	pos := parsePos(e.Pos)
	if !filepath.IsAbs(pos.Filename) {
		pos.Filename = filepath.Join(cwd, pos.Filename)
	}
	q := newProblem(st, pos, root, p.Message, "list")
	return &q
}

// parsePos reads go list's "file:line:col" (line and col optional).
func parsePos(s string) token.Position {
	pos := token.Position{Filename: s}
	rest := s
	var nums []int
	for range 2 {
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			break
		}
		n, err := strconv.Atoi(rest[i+1:])
		if err != nil {
			break
		}
		nums = append([]int{n}, nums...)
		rest = rest[:i]
	}
	pos.Filename = rest
	switch len(nums) {
	case 2:
		pos.Line, pos.Column = nums[0], nums[1]
	case 1:
		pos.Line = nums[0]
	}
	return pos
}

func newProblem(st *pkgState, pos token.Position, root, msg, source string) Problem {
	file := pos.Filename
	if root != "" {
		if rel, err := filepath.Rel(root, file); err == nil && !strings.HasPrefix(rel, "..") {
			file = filepath.ToSlash(rel)
		}
	}
	return Problem{Package: st.list.ImportPath, File: file, Line: pos.Line, Col: pos.Column, Message: msg, Source: source}
}

// dedupe drops repeats (a package and its test variant share files) and
// sorts problems by file and position.
func dedupe(ps []Problem) []Problem {
	seen := make(map[string]bool, len(ps))
	out := ps[:0]
	for _, p := range ps {
		key := p.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return out
}

// darwinOnly reports whether the file is one a Linux build of the same
// GOARCH leaves out: a _darwin.go name, or a //go:build line that is false
// for linux. These are the files only this check looks at.
func darwinOnly(path string, f *ast.File, goarch string) bool {
	base := strings.TrimSuffix(filepath.Base(path), ".go")
	base = strings.TrimSuffix(base, "_test")
	base = strings.TrimSuffix(base, "_"+goarch)
	if strings.HasSuffix(base, "_darwin") {
		return true
	}
	linux := func(tag string) bool {
		switch tag {
		case "linux", "unix", "cgo", "gc", goarch:
			return true
		}
		return strings.HasPrefix(tag, "go1.")
	}
	for _, g := range f.Comments {
		if g.Pos() >= f.Package {
			break
		}
		for _, c := range g.List {
			if !constraint.IsGoBuild(c.Text) {
				continue
			}
			if expr, err := constraint.Parse(c.Text); err == nil && !expr.Eval(linux) {
				return true
			}
		}
	}
	return false
}
