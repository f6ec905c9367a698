package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// darwinkitModule is the module whose generated bindings make the
// Objective-C allow-list.
const darwinkitModule = "github.com/progrium/darwinkit"

// objcClass is what the allow-list knows of one Objective-C class.
type objcClass struct {
	name  string
	super string // "" for the root, NSObject
	// inst and class are the selectors of its instance and class methods,
	// without those it inherits.
	inst, class map[string]bool
	// goTypes are the darwinkit Go types bound to it ("appkit.MenuItem"),
	// for messages.
	goTypes []string
}

// goBinding says what a darwinkit Go type stands for: a class's instances
// (appkit.MenuItem, or its interface appkit.IMenuItem), the class object
// itself (appkit._MenuItemClass), or an object known only by a protocol it
// conforms to (appkit.MenuDelegateObject).
type goBinding struct {
	class    string // the Objective-C class, for instances and class objects
	meta     bool   // the class object: class methods
	protocol map[string]bool
}

// allowList holds every (class, selector) pair darwinkit's generated
// bindings send, plus the hand list (handlist.go).
type allowList struct {
	module   string // darwinkit@version it was built from
	classes  map[string]*objcClass
	bindings map[string]*goBinding // "importpath.Type" -> binding
	anySel   map[string]bool       // every selector of any class or protocol
	files    int                   // generated files read
	pairs    int                   // (class, ±selector) pairs, hand list included
	took     time.Duration
}

var allowLists sync.Map // module dir -> *allowListOnce

type allowListOnce struct {
	once sync.Once
	list *allowList
	err  error
}

// loadAllowList returns the allow-list built from the darwinkit module in
// dir (its root in the module cache), building it on first use in this
// process: both GOARCH runs share it.
func loadAllowList(dir, version string) (*allowList, error) {
	v, _ := allowLists.LoadOrStore(dir, new(allowListOnce))
	o := v.(*allowListOnce)
	o.once.Do(func() { o.list, o.err = buildAllowList(dir, version, handList) })
	return o.list, o.err
}

// genFacts is what one generated file says.
type genFacts struct {
	pkg string // import path
	// classVars: Go type of the class object ("_MenuItemClass") -> the
	// Objective-C class name, from var MenuItemClass = _MenuItemClass{objc.GetClass("NSMenuItem")}.
	classVars map[string]string
	// embeds: Go struct type -> its first embedded type ("importpath.Type"):
	// the superclass binding (objc.Object for NSObject's subclasses).
	embeds map[string]string
	// sels: receiver Go type -> selectors its methods send to the receiver.
	sels map[string][]string
}

// buildAllowList reads every *.gen.go file of darwinkit: each binding is a
// method whose body sends objc.Call with a literal selector to its own
// receiver, a class's instance (type MenuItem) or its class object (type
// _MenuItemClass, bound to a class name by the generated ...Class variable).
// A struct's first embedded field is its superclass (StatusBarButton embeds
// Button). Types with methods but no class variable are protocol objects.
func buildAllowList(dir, version string, hand []handEntry) (*allowList, error) {
	start := time.Now()
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != dir && (strings.HasPrefix(d.Name(), "_") || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir // examples and work in progress: not packages
		}
		if !d.IsDir() && strings.HasSuffix(path, ".gen.go") {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("Objective-C allow-list: read %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("Objective-C allow-list: no generated bindings (*.gen.go) in %s", dir)
	}

	facts := make([]*genFacts, len(paths))
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fset := token.NewFileSet() // per worker: no lock on the shared one
			for i := range next {
				rel, _ := filepath.Rel(dir, filepath.Dir(paths[i]))
				facts[i], errs[i] = readGenFile(fset, paths[i], darwinkitModule+"/"+filepath.ToSlash(rel))
			}
		}()
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("Objective-C allow-list: %w", err)
		}
	}

	l := &allowList{
		module:   darwinkitModule + "@" + version,
		classes:  make(map[string]*objcClass),
		bindings: make(map[string]*goBinding),
		anySel:   make(map[string]bool),
		files:    len(paths),
	}
	class := func(name string) *objcClass {
		c := l.classes[name]
		if c == nil {
			c = &objcClass{name: name, inst: make(map[string]bool), class: make(map[string]bool)}
			l.classes[name] = c
		}
		return c
	}
	// Pass 1: which Go types are classes.
	instanceOf := make(map[string]string) // "pkg.MenuItem" -> "NSMenuItem"
	for _, f := range facts {
		for classType, name := range f.classVars {
			inst := strings.TrimSuffix(strings.TrimPrefix(classType, "_"), "Class")
			instanceOf[f.pkg+"."+inst] = name
			l.bindings[f.pkg+"."+inst] = &goBinding{class: name}
			l.bindings[f.pkg+"."+classType] = &goBinding{class: name, meta: true}
			if iface := f.pkg + ".I" + inst; l.bindings[iface] == nil {
				// The class's interface (IMenuItem): an instance of it or
				// of a subclass, so its methods apply.
				l.bindings[iface] = &goBinding{class: name}
			}
			c := class(name)
			c.goTypes = append(c.goTypes, shortType(f.pkg+"."+inst))
		}
	}
	// Pass 2: superclasses and selectors.
	objcObject := darwinkitModule + "/objc.Object"
	for _, f := range facts {
		for typ, embedded := range f.embeds {
			name, ok := instanceOf[f.pkg+"."+typ]
			if !ok {
				continue
			}
			switch super, known := instanceOf[embedded]; {
			case known:
				class(name).super = super
			case embedded == objcObject:
				class(name).super = "NSObject"
			}
		}
		for recv, sels := range f.sels {
			b := l.bindings[f.pkg+"."+recv]
			if b == nil {
				// A protocol object (MenuDelegateObject): its selectors
				// are known, its class is not.
				b = &goBinding{protocol: make(map[string]bool)}
				l.bindings[f.pkg+"."+recv] = b
			}
			for _, s := range sels {
				l.anySel[s] = true
				switch {
				case b.protocol != nil:
					b.protocol[s] = true
				case b.meta:
					class(b.class).class[s] = true
				default:
					class(b.class).inst[s] = true
				}
			}
		}
	}
	for _, h := range hand {
		c := class(h.class)
		if c.super == "" && h.super != "" {
			c.super = h.super
		}
		for _, s := range h.inst {
			c.inst[s] = true
			l.anySel[s] = true
		}
		for _, s := range h.classSels {
			c.class[s] = true
			l.anySel[s] = true
		}
	}
	for _, c := range l.classes {
		if c.super == "" && c.name != "NSObject" {
			c.super = "NSObject" // a class darwinkit binds without a known superclass
		}
		l.pairs += len(c.inst) + len(c.class)
		sort.Strings(c.goTypes)
	}
	l.took = time.Since(start)
	return l, nil
}

// readGenFile extracts the facts of one generated file. Only the shapes the
// generator writes are read; anything else in the file is ignored.
func readGenFile(fset *token.FileSet, path, pkg string) (*genFacts, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	imports := make(map[string]string) // local name -> import path
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := p[strings.LastIndexByte(p, '/')+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		imports[name] = p
	}
	facts := &genFacts{pkg: pkg, classVars: make(map[string]string), embeds: make(map[string]string), sels: make(map[string][]string)}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.ValueSpec:
					// var MenuItemClass = _MenuItemClass{objc.GetClass("NSMenuItem")}
					if len(s.Values) != 1 {
						continue
					}
					lit, ok := s.Values[0].(*ast.CompositeLit)
					if !ok || len(lit.Elts) != 1 {
						continue
					}
					typ, ok := lit.Type.(*ast.Ident)
					if !ok {
						continue
					}
					if name, ok := stringArgOf(lit.Elts[0], imports, "objc", "GetClass"); ok {
						facts.classVars[typ.Name] = name
					}
				case *ast.TypeSpec:
					st, ok := s.Type.(*ast.StructType)
					if !ok || st.Fields == nil || len(st.Fields.List) == 0 || len(st.Fields.List[0].Names) > 0 {
						continue
					}
					switch e := st.Fields.List[0].Type.(type) {
					case *ast.Ident:
						facts.embeds[s.Name.Name] = pkg + "." + e.Name
					case *ast.SelectorExpr:
						if x, ok := e.X.(*ast.Ident); ok && imports[x.Name] != "" {
							facts.embeds[s.Name.Name] = imports[x.Name] + "." + e.Sel.Name
						}
					}
				}
			}
		case *ast.FuncDecl:
			if d.Recv == nil || len(d.Recv.List) != 1 || len(d.Recv.List[0].Names) != 1 || d.Body == nil {
				continue
			}
			recvType, ok := d.Recv.List[0].Type.(*ast.Ident)
			if !ok {
				continue
			}
			recv := d.Recv.List[0].Names[0].Name
			ast.Inspect(d.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) < 2 || !isPkgFunc(call.Fun, imports, "objc", "Call") {
					return true
				}
				if id, ok := call.Args[0].(*ast.Ident); !ok || id.Name != recv {
					return true // sent to something else: not this class's method
				}
				if sel, ok := stringArgOf(call.Args[1], imports, "objc", "Sel"); ok {
					facts.sels[recvType.Name] = append(facts.sels[recvType.Name], sel)
				}
				return true
			})
		}
	}
	return facts, nil
}

// stringArgOf returns s when e is pkg.fn("s"), pkg being darwinkit's
// package of that name as the file imports it.
func stringArgOf(e ast.Expr, imports map[string]string, pkg, fn string) (string, bool) {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 || !isPkgFunc(call.Fun, imports, pkg, fn) {
		return "", false
	}
	lit, ok := call.Args[0].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// isPkgFunc reports whether fun is darwinkit's pkg.fn, possibly
// instantiated (objc.Call[T]).
func isPkgFunc(fun ast.Expr, imports map[string]string, pkg, fn string) bool {
	switch f := fun.(type) {
	case *ast.IndexExpr:
		fun = f.X
	case *ast.IndexListExpr:
		fun = f.X
	}
	sel, ok := fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != fn {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && imports[x.Name] == darwinkitModule+"/"+pkg
}

// shortType turns "github.com/progrium/darwinkit/macos/appkit.MenuItem"
// into "appkit.MenuItem".
func shortType(full string) string {
	dot := strings.LastIndexByte(full, '.')
	if dot < 0 {
		return full
	}
	pkg := full[:dot]
	return pkg[strings.LastIndexByte(pkg, '/')+1:] + full[dot:]
}

// lookup walks c and its superclasses for sel: instance methods, or class
// methods for meta. A class object also answers its root class's instance
// methods (the root metaclass inherits from the root class), as the
// Objective-C runtime does.
func (l *allowList) lookup(class, sel string, meta bool) bool {
	for _, c := range l.chain(class) {
		if meta && c.class[sel] || !meta && c.inst[sel] {
			return true
		}
	}
	if meta {
		return l.lookup("NSObject", sel, false)
	}
	return false
}

// chain returns class and its superclasses, nearest first.
func (l *allowList) chain(class string) []*objcClass {
	var out []*objcClass
	for c := l.classes[class]; c != nil && len(out) < 64; c = l.classes[c.super] {
		out = append(out, c)
	}
	return out
}

// selectors lists what lookup would accept for class (instance or class
// methods), for suggestions.
func (l *allowList) selectors(class string, meta bool) []string {
	seen := make(map[string]bool)
	for _, c := range l.chain(class) {
		m := c.inst
		if meta {
			m = c.class
		}
		for s := range m {
			seen[s] = true
		}
	}
	if root := l.classes["NSObject"]; meta && root != nil {
		for s := range root.inst {
			seen[s] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
