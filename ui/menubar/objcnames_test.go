package menubar

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Every objc.GetClass and objc.Sel literal in the _darwin.go files is in
// objcNames and every entry is used; objc.Sel appears only as the
// selector of an objc.Call, with as many arguments as it has colons.
func TestMenuObjCNames(t *testing.T) {
	files, err := filepath.Glob("*_darwin.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no darwin files: %v", err)
	}
	classes, selectors := map[string]bool{}, map[string]bool{}
	for _, n := range objcNames {
		if n.Selector == "" {
			classes[n.Class] = true
		} else {
			selectors[n.Selector[1:]] = true
			if !strings.HasPrefix(n.Selector, "+") && !strings.HasPrefix(n.Selector, "-") {
				t.Errorf("objcNames: %s %q: start a selector with + or -", n.Class, n.Selector)
			}
		}
		if !strings.HasPrefix(n.Doc, "https://developer.apple.com/") {
			t.Errorf("objcNames: %s %s: no Apple documentation", n.Class, n.Selector)
		}
	}
	usedClasses, usedSelectors := map[string]bool{}, map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		selInCall := map[*ast.CallExpr]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			switch objcFunc(call) {
			case "Call":
				if len(call.Args) < 2 {
					t.Errorf("%s: objc.Call with %d arguments", fset.Position(call.Pos()), len(call.Args))
					return true
				}
				sel, ok := call.Args[1].(*ast.CallExpr)
				if !ok || objcFunc(sel) != "Sel" {
					t.Errorf("%s: objc.Call's selector is not an objc.Sel literal", fset.Position(call.Pos()))
					return true
				}
				selInCall[sel] = true
				if s, ok := literal(sel); ok {
					if colons, args := strings.Count(s, ":"), len(call.Args)-2; colons != args {
						t.Errorf("%s: selector %q has %d colons and %d arguments", fset.Position(sel.Pos()), s, colons, args)
					}
				}
			case "Sel":
				s, ok := literal(call)
				if !ok {
					t.Errorf("%s: objc.Sel of a non-literal", fset.Position(call.Pos()))
					return true
				}
				usedSelectors[s] = true
				if !selectors[s] {
					t.Errorf("%s: selector %q is not in objcNames", fset.Position(call.Pos()), s)
				}
			case "GetClass":
				s, ok := literal(call)
				if !ok {
					t.Errorf("%s: objc.GetClass of a non-literal", fset.Position(call.Pos()))
					return true
				}
				usedClasses[s] = true
				if !classes[s] {
					t.Errorf("%s: class %q is not in objcNames", fset.Position(call.Pos()), s)
				}
			}
			return true
		})
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && objcFunc(call) == "Sel" && !selInCall[call] {
				t.Errorf("%s: objc.Sel outside objc.Call: its arguments cannot be checked", fset.Position(call.Pos()))
			}
			return true
		})
	}
	for _, n := range objcNames {
		used := usedClasses[n.Class]
		if n.Selector != "" {
			used = usedSelectors[n.Selector[1:]]
		}
		if !used {
			t.Errorf("objcNames lists %s %s, which no darwin file uses", n.Class, n.Selector)
		}
	}
	if !slices.IsSortedFunc(objcNames, func(a, b objcName) int { return strings.Compare(a.Class, b.Class) }) {
		t.Error("objcNames: keep it grouped by class")
	}
}

// objcFunc is "Call", "Sel" or "GetClass" for objc.Call[T](…),
// objc.Sel(…), objc.GetClass(…); "" otherwise.
func objcFunc(call *ast.CallExpr) string {
	fun := call.Fun
	if ix, ok := fun.(*ast.IndexExpr); ok {
		fun = ix.X
	}
	sel, ok := fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "objc" {
		return ""
	}
	switch sel.Sel.Name {
	case "Call", "Sel", "GetClass":
		return sel.Sel.Name
	}
	return ""
}

func literal(call *ast.CallExpr) (string, bool) {
	if len(call.Args) != 1 {
		return "", false
	}
	lit, ok := call.Args[0].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}
