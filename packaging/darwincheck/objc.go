package main

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/types/typeutil"
)

// The Objective-C string check: a class or selector name that reaches
// objc.GetClass, objc.Sel (or objc.RegisterSelectorName) or objc.Call
// must exist, or the app raises an NSException at run time (a misspelled
// selector passes every build). Names are checked against the allow-list
// (allowlist.go, handlist.go):
//   - objc.GetClass("X"): X is a class;
//   - objc.Call[T](recv, objc.Sel("s:"), args...): the selector's colons
//     match len(args), and s: is a method of recv's class when that is known
//     (a darwinkit type such as appkit.MenuItem is an instance of NSMenuItem,
//     appkit.MenuItemClass or objc.GetClass("NSMenuItem") is the class
//     object, whose class methods are looked up), walking superclasses;
//     otherwise some class or protocol must have it;
//   - objc.Sel("s") anywhere else: some class or protocol has s.
// Only constant strings can be checked, so a selector or class name that is
// not a constant is itself a finding, as are objc.Call with args... and these
// functions taken as values. A variable holding objc.Sel("s") or
// objc.GetClass("X"), assigned once where it is declared, counts as the
// constant. A finding that is right as it is (a class of the project's own
// .m file) is suppressed by a comment on its line or the line above:
//
//	//darwincheck:unchecked <why>
//
// A directive without a reason, or one that suppresses nothing, is a finding.

const objcPkgPath = darwinkitModule + "/objc"

// objcChecker checks one package's files.
type objcChecker struct {
	fset  *token.FileSet
	info  *types.Info
	files []*ast.File
	list  *allowList
	// handled: objc.Sel/GetClass calls already checked as part of an
	// objc.Call, not to be checked again on their own.
	handled map[*ast.CallExpr]bool
	called  map[*ast.Ident]bool // objc function names used as callees
	inits   map[*types.Var]ast.Expr
	out     []diag
}

// objcUses reports whether the package's files use objc.GetClass, Sel,
// RegisterSelectorName or Call at all: the allow-list is built only then.
func objcUses(files []*ast.File, info *types.Info) bool {
	found := false
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && objcFuncName(info.Uses[id]) != "" {
				found = true
			}
			return !found
		})
	}
	return found
}

// objcFindings checks every objc.GetClass, Sel, RegisterSelectorName and
// Call of the package's files against list, then applies the
// //darwincheck:unchecked directives.
func objcFindings(fset *token.FileSet, files []*ast.File, info *types.Info, list *allowList) []diag {
	c := &objcChecker{
		fset: fset, info: info, files: files, list: list,
		handled: make(map[*ast.CallExpr]bool),
		called:  make(map[*ast.Ident]bool),
		inits:   singleInits(files, info),
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			name, id := c.objcCallee(call)
			if id != nil {
				c.called[id] = true
			}
			switch name {
			case "Call":
				c.checkCall(call)
			case "Sel", "RegisterSelectorName":
				if !c.handled[call] {
					c.checkSel(call)
				}
			case "GetClass":
				c.checkGetClass(call)
			}
			return true
		})
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok && !c.called[id] {
				if name := objcFuncName(c.info.Uses[id]); name != "" {
					c.report(id.Pos(), fmt.Sprintf("objc.%s used as a value: the names it is given cannot be checked; call it directly", name))
				}
			}
			return true
		})
	}
	return applyDirectives(fset, files, c.out)
}

func (c *objcChecker) report(pos token.Pos, msg string) {
	c.out = append(c.out, diag{c.fset.Position(pos), msg})
}

// objcFuncName returns "Sel", "RegisterSelectorName", "GetClass" or "Call"
// when obj is that function of darwinkit's objc package.
func objcFuncName(obj types.Object) string {
	fn, ok := obj.(*types.Func)
	if !ok || fn.Pkg() == nil || fn.Pkg().Path() != objcPkgPath || fn.Signature().Recv() != nil {
		return ""
	}
	switch fn.Name() {
	case "Sel", "RegisterSelectorName", "GetClass", "Call":
		return fn.Name()
	}
	return ""
}

// objcCallee returns the objc function call calls, and the identifier that
// names it.
func (c *objcChecker) objcCallee(call *ast.CallExpr) (string, *ast.Ident) {
	fn := typeutil.Callee(c.info, call)
	name := objcFuncName(fn)
	if name == "" {
		return "", nil
	}
	fun := ast.Unparen(call.Fun)
	switch f := fun.(type) {
	case *ast.IndexExpr:
		fun = ast.Unparen(f.X)
	case *ast.IndexListExpr:
		fun = ast.Unparen(f.X)
	}
	switch f := fun.(type) {
	case *ast.SelectorExpr:
		return name, f.Sel
	case *ast.Ident:
		return name, f
	}
	return name, nil
}

// constString returns the value of e when it is a string constant.
func (c *objcChecker) constString(e ast.Expr) (string, bool) {
	tv, ok := c.info.Types[e]
	if !ok || tv.Value == nil || tv.Value.Kind() != constant.String {
		return "", false
	}
	return constant.StringVal(tv.Value), true
}

// checkSel checks a selector on its own: some class or protocol has it.
func (c *objcChecker) checkSel(call *ast.CallExpr) {
	if len(call.Args) != 1 {
		return // a type error, reported as such
	}
	sel, ok := c.constString(call.Args[0])
	if !ok {
		c.report(call.Args[0].Pos(), "objc.Sel with a selector that is not a constant: it cannot be checked; use a constant, or say why with //darwincheck:unchecked")
		return
	}
	if !c.list.anySel[sel] {
		c.report(call.Args[0].Pos(), fmt.Sprintf("unknown selector %q: no class or protocol has it in %s's bindings or darwincheck's hand list%s",
			sel, c.list.module, suggest(sel, keys(c.list.anySel))))
	}
}

func (c *objcChecker) checkGetClass(call *ast.CallExpr) {
	if len(call.Args) != 1 {
		return
	}
	name, ok := c.constString(call.Args[0])
	if !ok {
		c.report(call.Args[0].Pos(), "objc.GetClass with a class name that is not a constant: it cannot be checked; use a constant, or say why with //darwincheck:unchecked")
		return
	}
	if c.list.classes[name] == nil {
		c.report(call.Args[0].Pos(), fmt.Sprintf("unknown Objective-C class %q: not in %s's bindings or darwincheck's hand list%s",
			name, c.list.module, suggest(name, keys(c.list.classes))))
	}
}

// checkCall checks objc.Call[T](recv, sel, args...).
func (c *objcChecker) checkCall(call *ast.CallExpr) {
	if len(call.Args) < 2 {
		return
	}
	recv, selExpr, args := call.Args[0], call.Args[1], call.Args[2:]
	sel, ok := c.selector(selExpr)
	if !ok {
		return
	}
	pos := selExpr.Pos()
	if call.Ellipsis.IsValid() {
		c.report(pos, fmt.Sprintf("objc.Call sends %q with args...: the argument count cannot be checked; pass the arguments one by one", sel))
	} else if want := strings.Count(sel, ":"); want != len(args) {
		c.report(pos, fmt.Sprintf("objc.Call sends %q, which takes %d %s, with %d", sel, want, plural(want, "argument"), len(args)))
	}
	class, meta, known := c.receiverClass(recv)
	if known && c.list.classes[class] != nil {
		if !c.list.lookup(class, sel, meta) {
			kind, sign := "instance", "-"
			if meta {
				kind, sign = "class", "+"
			}
			c.report(pos, fmt.Sprintf("unknown selector: %s has no %s method %s%s in %s's bindings or darwincheck's hand list%s",
				c.classLabel(class), kind, sign, sel, c.list.module, suggest(sel, c.list.selectors(class, meta))))
		}
		return
	}
	if !c.list.anySel[sel] {
		c.report(pos, fmt.Sprintf("unknown selector %q: no class or protocol has it in %s's bindings or darwincheck's hand list%s",
			sel, c.list.module, suggest(sel, keys(c.list.anySel))))
	}
}

// selector returns the selector objc.Call is given: objc.Sel("s") (or a
// constant expression), or a variable set once to that. Otherwise it
// reports why it cannot tell.
func (c *objcChecker) selector(e ast.Expr) (string, bool) {
	e = ast.Unparen(e)
	if call, ok := e.(*ast.CallExpr); ok {
		if name, _ := c.objcCallee(call); name == "Sel" || name == "RegisterSelectorName" {
			c.handled[call] = true
			if len(call.Args) != 1 {
				return "", false
			}
			if s, ok := c.constString(call.Args[0]); ok {
				return s, true
			}
			c.report(call.Args[0].Pos(), "objc.Sel with a selector that is not a constant: objc.Call's selector and argument count cannot be checked; use a constant, or say why with //darwincheck:unchecked")
			return "", false
		}
	}
	if s, ok := c.heldString(e, "Sel", "RegisterSelectorName"); ok {
		return s, true
	}
	c.report(e.Pos(), "objc.Call's selector is not objc.Sel of a constant (nor a variable set once to one): its name and argument count cannot be checked; say why with //darwincheck:unchecked")
	return "", false
}

// heldString returns s when e is, or is a variable set once to, objc.fn("s")
// for one of fns.
func (c *objcChecker) heldString(e ast.Expr, fns ...string) (string, bool) {
	e = ast.Unparen(e)
	if id, ok := e.(*ast.Ident); ok {
		v, ok := c.info.Uses[id].(*types.Var)
		if !ok || c.inits[v] == nil {
			return "", false
		}
		e = ast.Unparen(c.inits[v])
	}
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return "", false
	}
	name, _ := c.objcCallee(call)
	for _, fn := range fns {
		if name == fn {
			return c.constString(call.Args[0])
		}
	}
	return "", false
}

// receiverClass returns the Objective-C class of objc.Call's receiver when
// the code says it: objc.GetClass("X") (the class object), or a value of a
// darwinkit type bound to a class (directly or embedded in a struct).
func (c *objcChecker) receiverClass(recv ast.Expr) (class string, meta, known bool) {
	if name, ok := c.heldString(recv, "GetClass"); ok {
		return name, true, true
	}
	t := c.info.TypeOf(recv)
	for range 8 {
		if t == nil {
			return "", false, false
		}
		t = types.Unalias(t)
		if p, ok := t.(*types.Pointer); ok {
			t = p.Elem()
			continue
		}
		named, ok := t.(*types.Named)
		if !ok || named.Obj().Pkg() == nil {
			return "", false, false
		}
		if b := c.list.bindings[named.Obj().Pkg().Path()+"."+named.Obj().Name()]; b != nil && b.protocol == nil {
			return b.class, b.meta, true
		}
		st, ok := named.Underlying().(*types.Struct)
		if !ok || st.NumFields() == 0 || !st.Field(0).Embedded() {
			return "", false, false
		}
		t = st.Field(0).Type() // a struct embedding a binding: its class
	}
	return "", false, false
}

func (c *objcChecker) classLabel(class string) string {
	if g := c.list.classes[class].goTypes; len(g) > 0 {
		return fmt.Sprintf("%s (%s)", class, strings.Join(g, ", "))
	}
	return class
}

// singleInits maps each variable declared with one initial value and never
// assigned again (nor its address taken) to that value.
func singleInits(files []*ast.File, info *types.Info) map[*types.Var]ast.Expr {
	inits := make(map[*types.Var]ast.Expr)
	changed := make(map[*types.Var]bool)
	def := func(lhs []*ast.Ident, rhs []ast.Expr) {
		if len(lhs) != len(rhs) {
			return
		}
		for i, id := range lhs {
			if v, ok := info.Defs[id].(*types.Var); ok {
				inits[v] = rhs[i]
			}
		}
	}
	mark := func(e ast.Expr) {
		if id, ok := ast.Unparen(e).(*ast.Ident); ok {
			if v, ok := info.Uses[id].(*types.Var); ok {
				changed[v] = true
			}
		}
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				def(n.Names, n.Values)
			case *ast.AssignStmt:
				var ids []*ast.Ident
				for _, l := range n.Lhs {
					id, _ := l.(*ast.Ident)
					ids = append(ids, id)
					if n.Tok != token.DEFINE || id == nil || info.Defs[id] == nil {
						mark(l) // an assignment, or := redeclaring an existing variable
					}
				}
				if n.Tok == token.DEFINE {
					var named []*ast.Ident
					for _, id := range ids {
						if id == nil {
							return true
						}
						named = append(named, id)
					}
					def(named, n.Rhs)
				}
			case *ast.IncDecStmt:
				mark(n.X)
			case *ast.RangeStmt:
				if n.Tok == token.ASSIGN {
					mark(n.Key)
					if n.Value != nil {
						mark(n.Value)
					}
				}
			case *ast.UnaryExpr:
				if n.Op == token.AND {
					mark(n.X)
				}
			}
			return true
		})
	}
	for v := range changed {
		delete(inits, v)
	}
	return inits
}

// directive is one //darwincheck:unchecked comment.
type directive struct {
	pos    token.Position
	reason string
	used   bool
}

const directivePrefix = "//darwincheck:unchecked"

// applyDirectives drops the findings that a //darwincheck:unchecked
// comment on the same line or the line above suppresses, and reports the
// directives that have no reason or suppress nothing.
func applyDirectives(fset *token.FileSet, files []*ast.File, found []diag) []diag {
	byLine := make(map[string]map[int]*directive) // file -> line -> directive
	var all []*directive
	for _, f := range files {
		for _, g := range f.Comments {
			for _, cm := range g.List {
				rest, ok := strings.CutPrefix(cm.Text, directivePrefix)
				if !ok || rest != "" && rest[0] != ' ' && rest[0] != '\t' {
					continue
				}
				d := &directive{pos: fset.Position(cm.Pos()), reason: strings.TrimSpace(rest)}
				if byLine[d.pos.Filename] == nil {
					byLine[d.pos.Filename] = make(map[int]*directive)
				}
				byLine[d.pos.Filename][d.pos.Line] = d
				all = append(all, d)
			}
		}
	}
	var out []diag
	for _, d := range found {
		lines := byLine[d.pos.Filename]
		if s := lines[d.pos.Line]; s != nil && s.reason != "" {
			s.used = true
			continue
		}
		if s := lines[d.pos.Line-1]; s != nil && s.reason != "" {
			s.used = true
			continue
		}
		out = append(out, d)
	}
	for _, d := range all {
		switch {
		case d.reason == "":
			out = append(out, diag{d.pos, directivePrefix + " needs a reason: say why the name cannot be checked or is right"})
		case !d.used:
			out = append(out, diag{d.pos, directivePrefix + " suppresses nothing here: remove it"})
		}
	}
	return out
}

// suggest returns ` (did you mean "x"?)` for the closest candidate within
// two edits, or "".
func suggest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := lenDiff(c, name); d >= bestD {
			continue
		}
		if d := editDistance(name, c, bestD); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || best == name {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func lenDiff(a, b string) int {
	if len(a) > len(b) {
		return len(a) - len(b)
	}
	return len(b) - len(a)
}

// editDistance is the edit distance of a and b counting a swap of two
// neighbours as one edit (optimal string alignment), or max when it is at
// least max.
func editDistance(a, b string, max int) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		low := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			low = min(low, cur[j])
		}
		if low >= max {
			return max
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], max)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
