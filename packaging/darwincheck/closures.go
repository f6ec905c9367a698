package main

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/types/typeutil"
)

// The closure check: darwinkit v0.5.0 built with Go 1.25 or later aborts
// (SIGABRT) the first time Objective-C calls any libffi closure it made
// (darwinkit issue 286: ffi.PrepCIF keeps a pointer to an argument-type
// slice that Go 1.25+ allocates on the stack). Berth's darwin code must not
// reach ffi.CreateClosure at all. Every use of a darwinkit function or
// method, called or taken as a value, is resolved by go/types and refused
// when it makes such a closure:
//   - by name: macos.RunApp, any SetDelegate method, objc.NewClass,
//     AddMethod, ReplaceMethod, AddClassMethod, ReplaceClassMethod,
//     WrapAsProtocol, CreateMallocBlock, CreateGlobalBlock, ffi.CreateClosure;
//   - by signature: a parameter of func type (a completion handler, a
//     delegate builder's callback), or of a generated protocol type (P...),
//     which the binding wraps with objc.WrapAsProtocol;
//   - by argument: a Go func passed where darwinkit takes any (objc.Call's
//     arguments), which it converts with objc.CreateMallocBlock.
// closureSafe lists the darwinkit functions that take a Go func without a
// libffi closure (a cgo handle and an //export callback instead).

// closureDefect is the common explanation, for messages.
const closureDefect = "which abort (SIGABRT) when Objective-C calls them in a Go ≥ 1.25 build (darwinkit issue 286)"

// closureFuncs are refused by name: "importpath.Func" -> what makes libffi
// closures, and what to do instead.
var closureFuncs = map[string][2]string{
	darwinkitModule + "/macos.RunApp": {"its application delegate is made of libffi closures",
		"lock the main thread in init, then call appkit.Application_SharedApplication(), SetActivationPolicy and Run() with no delegate"},
	darwinkitModule + "/objc.NewClass":           {"it implements Objective-C methods with Go funcs through libffi closures", "write the class in the package's .m file with //export callbacks"},
	darwinkitModule + "/objc.AddMethod":          {"it implements an Objective-C method with a Go func through libffi closures", "write the method in the package's .m file with an //export callback"},
	darwinkitModule + "/objc.ReplaceMethod":      {"it implements an Objective-C method with a Go func through libffi closures", "write the method in the package's .m file with an //export callback"},
	darwinkitModule + "/objc.AddClassMethod":     {"it implements an Objective-C method with a Go func through libffi closures", "write the method in the package's .m file with an //export callback"},
	darwinkitModule + "/objc.ReplaceClassMethod": {"it implements an Objective-C method with a Go func through libffi closures", "write the method in the package's .m file with an //export callback"},
	darwinkitModule + "/objc.WrapAsProtocol":     {"it implements the protocol's methods with libffi closures", "write the delegate in the package's .m file"},
	darwinkitModule + "/objc.CreateMallocBlock":  {"it makes the block from a Go func with libffi closures", "write the block in the package's .m file"},
	darwinkitModule + "/objc.CreateGlobalBlock":  {"it makes the block from a Go func with libffi closures", "write the block in the package's .m file"},
	darwinkitModule + "/objc/ffi.CreateClosure":  {"it makes libffi closures", "write the callback in the package's .m file"},
}

// closureSafe take a Go func without any libffi closure: "importpath.Func"
// or "importpath.Type.Method" -> how, as read in darwinkit v0.5.0's source.
var closureSafe = map[string]string{
	darwinkitModule + "/helper/action.Wrap":                 "a cgo handle; action_handler.m calls back through //export callAction",
	darwinkitModule + "/helper/action.Set":                  "action.Wrap",
	darwinkitModule + "/macos/appkit.NewMenuItemWithAction": "action.Set",
	darwinkitModule + "/dispatch.Queue.DispatchAsync":       "a cgo handle; queue.m calls back through //export runQueueTask",
	darwinkitModule + "/dispatch.Queue.DispatchSync":        "a cgo handle; queue.m calls back through //export runQueueTask",
	darwinkitModule + "/objc.WithAutoreleasePool":           "a cgo handle; runtime_utils.m calls back through //export runTaskAndDeleteHandle",
	darwinkitModule + "/objc.SetDeallocListener":            "a cgo handle; runtime_utils.m calls back through //export runTaskAndDeleteHandle",
	darwinkitModule + "/objc.SyncCache.Load":                "a Go map guarded by a mutex, no Objective-C",
}

// closureFindings reports every use of darwinkit API that makes a libffi
// closure, in the files of one package of the project.
func closureFindings(fset *token.FileSet, files []*ast.File, info *types.Info) []diag {
	var out []diag
	report := func(pos token.Pos, msg string) {
		out = append(out, diag{fset.Position(pos), msg})
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Ident:
				fn, ok := info.Uses[n].(*types.Func)
				if !ok || !inDarwinkit(fn.Pkg()) {
					return true
				}
				if why := closureReason(fset, fn.Origin()); why != "" {
					report(n.Pos(), funcName(fn.Origin())+" is forbidden: "+why)
				}
			case *ast.CallExpr:
				fn, ok := typeutil.Callee(info, n).(*types.Func)
				if !ok || !inDarwinkit(fn.Pkg()) || closureReason(fset, fn.Origin()) != "" {
					return true // not darwinkit's, or refused already
				}
				sig, ok := info.TypeOf(n.Fun).(*types.Signature)
				if !ok {
					return true
				}
				for i, arg := range n.Args {
					if !isFunc(info.TypeOf(arg)) {
						continue
					}
					if p := paramType(sig, i, n.Ellipsis.IsValid()); p != nil && types.IsInterface(p) {
						report(arg.Pos(), fmt.Sprintf("a Go func passed to %s is forbidden: darwinkit converts it to a block with objc.CreateMallocBlock, made of libffi closures, %s; write the block in the package's .m file",
							funcName(fn.Origin()), closureDefect))
					}
				}
			}
			return true
		})
	}
	return out
}

// closureReason says why fn makes a libffi closure, or "" when it does not.
func closureReason(fset *token.FileSet, fn *types.Func) string {
	key := funcKey(fn)
	if why, ok := closureFuncs[key]; ok {
		return why[0] + ", " + closureDefect + "; " + why[1]
	}
	sig := fn.Signature()
	if sig.Recv() != nil && fn.Name() == "SetDelegate" {
		return "it wraps the delegate with objc.WrapAsProtocol, whose methods are libffi closures, " + closureDefect +
			"; give SetDelegateObject a delegate written in the package's .m file"
	}
	if _, ok := closureSafe[key]; ok {
		return ""
	}
	for v := range sig.Params().Variables() {
		t := v.Type()
		if isFunc(t) || sig.Variadic() && v == sig.Params().At(sig.Params().Len()-1) && isFunc(t.(*types.Slice).Elem()) {
			return fmt.Sprintf("its parameter %s is a Go func, which darwinkit turns into a block or method made of libffi closures, %s; write the callback's Objective-C side in the package's .m file", paramLabel(v), closureDefect)
		}
		if p := protocolType(fset, t); p != "" {
			return fmt.Sprintf("its parameter %s is a protocol, which darwinkit wraps with objc.WrapAsProtocol, whose methods are libffi closures, %s; pass an object written in the package's .m file (the binding's ...Object variant takes one)", paramLabel(v), closureDefect)
		}
	}
	return ""
}

// protocolType returns the name of t when it is a protocol interface of
// darwinkit's generated bindings (appkit.PMenuDelegate): the generator
// names them P<Protocol> and wraps such arguments with objc.WrapAsProtocol
// (class interfaces are I<Class>, passed as they are).
func protocolType(fset *token.FileSet, t types.Type) string {
	named, ok := types.Unalias(t).(*types.Named)
	if !ok || !types.IsInterface(named) {
		return ""
	}
	obj := named.Obj()
	name := obj.Name()
	if !inDarwinkit(obj.Pkg()) || len(name) < 2 || name[0] != 'P' || name[1] < 'A' || name[1] > 'Z' {
		return ""
	}
	if !strings.HasSuffix(fset.Position(obj.Pos()).Filename, ".gen.go") {
		return ""
	}
	return shortType(obj.Pkg().Path() + "." + name)
}

func inDarwinkit(p *types.Package) bool {
	return p != nil && (p.Path() == darwinkitModule || strings.HasPrefix(p.Path(), darwinkitModule+"/"))
}

func isFunc(t types.Type) bool {
	if t == nil {
		return false
	}
	_, ok := t.Underlying().(*types.Signature)
	return ok
}

// paramType is the type of the parameter that argument i is passed to.
func paramType(sig *types.Signature, i int, spread bool) types.Type {
	params := sig.Params()
	n := params.Len()
	switch {
	case n == 0:
		return nil
	case sig.Variadic() && i >= n-1:
		last := params.At(n - 1).Type()
		if spread {
			return last
		}
		return last.(*types.Slice).Elem()
	case i < n:
		return params.At(i).Type()
	}
	return nil
}

func paramLabel(v *types.Var) string {
	t := types.TypeString(v.Type(), func(p *types.Package) string { return p.Name() })
	if v.Name() == "" {
		return t
	}
	return v.Name() + " " + t
}

// funcKey is "importpath.Func" or "importpath.Type.Method".
func funcKey(fn *types.Func) string {
	if recv := fn.Signature().Recv(); recv != nil {
		t := recv.Type()
		if p, ok := t.(*types.Pointer); ok {
			t = p.Elem()
		}
		if named, ok := types.Unalias(t).(*types.Named); ok {
			return fn.Pkg().Path() + "." + named.Obj().Name() + "." + fn.Name()
		}
		return fn.Pkg().Path() + "." + fn.Name() // interface method
	}
	return fn.Pkg().Path() + "." + fn.Name()
}

// funcName is the key as a reader writes it: appkit.Menu.SetDelegate.
func funcName(fn *types.Func) string {
	return shortType(funcKey(fn))
}
