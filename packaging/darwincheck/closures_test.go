package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestClosureRuleNamesExist: every function the closure check refuses or
// allows by name is declared in darwinkit v0.5.0, so a typo cannot
// silently disable a rule.
func TestClosureRuleNamesExist(t *testing.T) {
	dir, _ := fixtureDarwinkit(t)
	declared := make(map[string]bool) // "importpath.Func" and "importpath.Type.Method"
	parsed := make(map[string]bool)
	var keys []string
	for k := range closureFuncs {
		keys = append(keys, k)
	}
	for k := range closureSafe {
		keys = append(keys, k)
	}
	for _, k := range keys {
		rest := strings.TrimPrefix(k, darwinkitModule)
		pkg := darwinkitModule + rest[:strings.IndexByte(rest, '.')]
		if parsed[pkg] {
			continue
		}
		parsed[pkg] = true
		pkgDir := filepath.Join(dir, strings.TrimPrefix(pkg, darwinkitModule+"/"))
		fset := token.NewFileSet()
		matches, _ := filepath.Glob(filepath.Join(pkgDir, "*.go"))
		for _, m := range matches {
			if strings.HasSuffix(m, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, m, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok {
					continue
				}
				if fd.Recv == nil {
					declared[pkg+"."+fd.Name.Name] = true
					continue
				}
				rt := fd.Recv.List[0].Type
				if s, ok := rt.(*ast.StarExpr); ok {
					rt = s.X
				}
				if ix, ok := rt.(*ast.IndexListExpr); ok {
					rt = ix.X
				}
				if ix, ok := rt.(*ast.IndexExpr); ok {
					rt = ix.X
				}
				if id, ok := rt.(*ast.Ident); ok {
					declared[pkg+"."+id.Name+"."+fd.Name.Name] = true
				}
			}
		}
	}
	for _, k := range keys {
		if !declared[k] {
			t.Errorf("%s is not declared in %s", k, dir)
		}
	}
}
