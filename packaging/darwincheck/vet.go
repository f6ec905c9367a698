package main

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"os"
	"reflect"
	"runtime/debug"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/appends"
	"golang.org/x/tools/go/analysis/passes/assign"
	"golang.org/x/tools/go/analysis/passes/atomic"
	"golang.org/x/tools/go/analysis/passes/bools"
	"golang.org/x/tools/go/analysis/passes/composite"
	"golang.org/x/tools/go/analysis/passes/copylock"
	"golang.org/x/tools/go/analysis/passes/ctrlflow"
	"golang.org/x/tools/go/analysis/passes/defers"
	"golang.org/x/tools/go/analysis/passes/errorsas"
	"golang.org/x/tools/go/analysis/passes/httpresponse"
	"golang.org/x/tools/go/analysis/passes/ifaceassert"
	"golang.org/x/tools/go/analysis/passes/loopclosure"
	"golang.org/x/tools/go/analysis/passes/lostcancel"
	"golang.org/x/tools/go/analysis/passes/nilfunc"
	"golang.org/x/tools/go/analysis/passes/printf"
	"golang.org/x/tools/go/analysis/passes/shift"
	"golang.org/x/tools/go/analysis/passes/sigchanyzer"
	"golang.org/x/tools/go/analysis/passes/slog"
	"golang.org/x/tools/go/analysis/passes/stdmethods"
	"golang.org/x/tools/go/analysis/passes/stringintconv"
	"golang.org/x/tools/go/analysis/passes/structtag"
	"golang.org/x/tools/go/analysis/passes/testinggoroutine"
	"golang.org/x/tools/go/analysis/passes/tests"
	"golang.org/x/tools/go/analysis/passes/timeformat"
	"golang.org/x/tools/go/analysis/passes/unmarshal"
	"golang.org/x/tools/go/analysis/passes/unreachable"
	"golang.org/x/tools/go/analysis/passes/unusedresult"
	"golang.org/x/tools/go/analysis/passes/waitgroup"
)

// vetAnalyzers are the go vet checks run on the project's darwin packages:
// those of `go vet`'s default suite that need no cgo-processed files, no
// assembly and no facts from dependencies beyond what is computed here.
var vetAnalyzers = []*analysis.Analyzer{
	appends.Analyzer,
	assign.Analyzer,
	atomic.Analyzer,
	bools.Analyzer,
	composite.Analyzer,
	copylock.Analyzer,
	defers.Analyzer,
	errorsas.Analyzer,
	httpresponse.Analyzer,
	ifaceassert.Analyzer,
	loopclosure.Analyzer,
	lostcancel.Analyzer,
	nilfunc.Analyzer,
	printf.Analyzer,
	shift.Analyzer,
	sigchanyzer.Analyzer,
	slog.Analyzer,
	stdmethods.Analyzer,
	stringintconv.Analyzer,
	structtag.Analyzer,
	testinggoroutine.Analyzer,
	tests.Analyzer,
	timeformat.Analyzer,
	unmarshal.Analyzer,
	unreachable.Analyzer,
	unusedresult.Analyzer,
	waitgroup.Analyzer,
}

// noReturnSources are the standard packages whose never-returning functions
// (os.Exit, log.Fatal, t.FailNow...) matter to lostcancel's control flow.
// When vet runs they are type-checked with their function bodies and
// ctrlflow runs on them first, so its facts are the ones go vet would have.
var noReturnSources = map[string]bool{"os": true, "log": true, "testing": true}

// vetDiag is one analyzer finding.
type vetDiag struct {
	pos      token.Position
	msg      string
	analyzer string
}

// vetRunner runs analyzers package by package, in dependency order, keeping
// facts in memory for the packages that come later.
type vetRunner struct {
	fset     *token.FileSet
	objFacts map[objFactKey]analysis.Fact
	pkgFacts map[pkgFactKey]analysis.Fact
	warnings []string // analyzers that failed or panicked, for -v
}

type objFactKey struct {
	obj types.Object
	typ reflect.Type
}

type pkgFactKey struct {
	pkg *types.Package
	typ reflect.Type
}

func newVetRunner(fset *token.FileSet) *vetRunner {
	return &vetRunner{
		fset:     fset,
		objFacts: make(map[objFactKey]analysis.Fact),
		pkgFacts: make(map[pkgFactKey]analysis.Fact),
	}
}

// run applies analyzers (and what they require) to one type-checked package.
// A package checked without function bodies or with type errors must not be
// given to it: analyzers assume complete type information, as go vet does.
//
// Cgo code breaks that assumption: expressions built on unknown C names have
// no type information, and analyzers that do not declare RunDespiteErrors may
// panic on them (printf does). So in a package with cgo, those analyzers see
// only the files that neither import "C" nor use a declaration whose type is
// invalid; the RunDespiteErrors ones see every file. Findings whose range
// covers an unknown C name are dropped. An analyzer that still fails or
// panics is skipped for that package and noted in r.warnings: vet is a bonus
// on top of the type check, never a source of false failures.
func (r *vetRunner) run(st *pkgState, analyzers []*analysis.Analyzer) []vetDiag {
	unknownC := unknownCSelectors(st.files, st.info)
	var clean []*ast.File
	for _, f := range st.files {
		if !taintedByCgo(f, st.info) {
			clean = append(clean, f)
		}
	}
	if len(clean) == len(st.files) {
		return r.session(st, st.files, analyzers, unknownC)
	}
	var despite, strict []*analysis.Analyzer
	for _, a := range analyzers {
		if a.RunDespiteErrors {
			despite = append(despite, a)
		} else {
			strict = append(strict, a)
		}
	}
	diags := r.session(st, st.files, despite, unknownC)
	if len(strict) > 0 {
		r.warnings = append(r.warnings, fmt.Sprintf("vet: %d of %d files of %s use cgo: only %d analyzers that tolerate missing types ran on them",
			len(st.files)-len(clean), len(st.files), st.list.ImportPath, len(despite)))
		if len(clean) > 0 {
			diags = append(diags, r.session(st, clean, strict, unknownC)...)
		}
	}
	return diags
}

// session runs analyzers over one set of files of st, each analyzer's
// prerequisites first, sharing their results within the session.
func (r *vetRunner) session(st *pkgState, files []*ast.File, analyzers []*analysis.Analyzer, unknownC []*ast.SelectorExpr) []vetDiag {
	results := make(map[*analysis.Analyzer]any)
	failed := make(map[*analysis.Analyzer]bool)
	var diags []vetDiag
	var exec func(a *analysis.Analyzer)
	exec = func(a *analysis.Analyzer) {
		if _, ok := results[a]; ok || failed[a] {
			return
		}
		for _, req := range a.Requires {
			exec(req)
			if failed[req] {
				failed[a] = true
				return
			}
		}
		inputs := make(map[*analysis.Analyzer]any, len(a.Requires))
		for _, req := range a.Requires {
			inputs[req] = results[req]
		}
		pass := r.newPass(st, files, a, inputs, func(d analysis.Diagnostic) {
			if coversUnknownC(d, unknownC) {
				return
			}
			diags = append(diags, vetDiag{pos: r.fset.Position(d.Pos), msg: d.Message, analyzer: a.Name})
		})
		res, err := runAnalyzer(a, pass)
		if err != nil {
			failed[a] = true
			r.warnings = append(r.warnings, fmt.Sprintf("vet %s on %s skipped: %v", a.Name, st.list.ImportPath, err))
			return
		}
		results[a] = res
	}
	for _, a := range analyzers {
		exec(a)
	}
	return diags
}

func runAnalyzer(a *analysis.Analyzer, pass *analysis.Pass) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			stack := strings.SplitN(string(debug.Stack()), "\n", 12)
			err = fmt.Errorf("panic: %v\n%s", p, strings.Join(stack, "\n"))
		}
	}()
	return a.Run(pass)
}

func (r *vetRunner) newPass(st *pkgState, syntax []*ast.File, a *analysis.Analyzer, inputs map[*analysis.Analyzer]any, report func(analysis.Diagnostic)) *analysis.Pass {
	pkg := st.types
	files := make(map[string]bool, len(st.files))
	for _, f := range st.files {
		files[r.fset.File(f.Pos()).Name()] = true
	}
	module := &analysis.Module{}
	if m := st.list.Module; m != nil {
		module = &analysis.Module{Path: m.Path, GoVersion: m.GoVersion}
	}
	return &analysis.Pass{
		Analyzer:   a,
		Fset:       r.fset,
		Files:      syntax,
		Pkg:        pkg,
		TypesInfo:  st.info,
		TypesSizes: st.sizes,
		Module:     module,
		Report:     report,
		ResultOf:   inputs,
		ReadFile: func(name string) ([]byte, error) {
			if !files[name] {
				return nil, fmt.Errorf("vet %s may not read %s: not a file of package %s", a.Name, name, pkg.Path())
			}
			return os.ReadFile(name)
		},
		ImportObjectFact: func(obj types.Object, fact analysis.Fact) bool {
			return copyFact(r.objFacts[objFactKey{obj, reflect.TypeOf(fact)}], fact)
		},
		ExportObjectFact: func(obj types.Object, fact analysis.Fact) {
			r.objFacts[objFactKey{obj, reflect.TypeOf(fact)}] = fact
		},
		ImportPackageFact: func(p *types.Package, fact analysis.Fact) bool {
			return copyFact(r.pkgFacts[pkgFactKey{p, reflect.TypeOf(fact)}], fact)
		},
		ExportPackageFact: func(fact analysis.Fact) {
			r.pkgFacts[pkgFactKey{pkg, reflect.TypeOf(fact)}] = fact
		},
		AllObjectFacts: func() []analysis.ObjectFact {
			var out []analysis.ObjectFact
			for k, f := range r.objFacts {
				if factTypeOf(a, k.typ) {
					out = append(out, analysis.ObjectFact{Object: k.obj, Fact: f})
				}
			}
			return out
		},
		AllPackageFacts: func() []analysis.PackageFact {
			var out []analysis.PackageFact
			for k, f := range r.pkgFacts {
				if factTypeOf(a, k.typ) {
					out = append(out, analysis.PackageFact{Package: k.pkg, Fact: f})
				}
			}
			return out
		},
	}
}

// copyFact copies a stored fact into the caller's fact value, as the
// analysis framework specifies for Import*Fact.
func copyFact(stored, into analysis.Fact) bool {
	if stored == nil {
		return false
	}
	reflect.ValueOf(into).Elem().Set(reflect.ValueOf(stored).Elem())
	return true
}

func factTypeOf(a *analysis.Analyzer, t reflect.Type) bool {
	for _, f := range a.FactTypes {
		if reflect.TypeOf(f) == t {
			return true
		}
	}
	return false
}

// unknownCSelectors returns the C.x selectors whose name the synthetic C
// package does not define: their expressions carry no type information.
func unknownCSelectors(files []*ast.File, info *types.Info) []*ast.SelectorExpr {
	var out []*ast.SelectorExpr
	for _, f := range files {
		if !importsC(f) {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok {
				if pn, ok := info.Uses[id].(*types.PkgName); ok && pn.Imported().Path() == "C" && info.Uses[sel.Sel] == nil {
					out = append(out, sel)
				}
			}
			return true
		})
	}
	return out
}

// taintedByCgo reports whether f imports "C" or uses a declaration of
// invalid type (a variable of an unknown C type, a function returning one):
// such a file has expressions without type information.
func taintedByCgo(f *ast.File, info *types.Info) bool {
	if importsC(f) {
		return true
	}
	tainted := false
	ast.Inspect(f, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			switch obj := info.Uses[id].(type) {
			case *types.Var, *types.Const, *types.Func:
				// Package names and builtins have no type: skip them.
				if yieldsInvalid(obj.Type()) {
					tainted = true
				}
			}
		}
		return !tainted
	})
	return tainted
}

// yieldsInvalid reports whether using a value of type t gives an expression
// that go/types leaves untyped: t is invalid, or a function with an invalid
// result. A valid type with invalid parts inside (a struct with a C field)
// still types its expressions.
func yieldsInvalid(t types.Type) bool {
	if sig, ok := t.(*types.Signature); ok {
		for v := range sig.Results().Variables() {
			if yieldsInvalid(v.Type()) {
				return true
			}
		}
		return false
	}
	b, ok := types.Unalias(t).(*types.Basic)
	return ok && b.Kind() == types.Invalid
}

func importsC(f *ast.File) bool {
	for _, imp := range f.Imports {
		if imp.Path.Value == `"C"` {
			return true
		}
	}
	return false
}

func coversUnknownC(d analysis.Diagnostic, sels []*ast.SelectorExpr) bool {
	end := d.End
	if !end.IsValid() {
		end = d.Pos
	}
	for _, s := range sels {
		if s.Pos() <= end && d.Pos <= s.End() {
			return true
		}
	}
	return false
}

// ctrlflowOnly is what runs on noReturnSources packages.
var ctrlflowOnly = []*analysis.Analyzer{ctrlflow.Analyzer}
