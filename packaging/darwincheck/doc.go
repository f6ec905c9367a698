// Command darwincheck type-checks the module's packages as they compile for
// GOOS=darwin, on a Linux machine with no macOS SDK and no darwin C compiler.
// It is Berth's gate for the code in _darwin.go files (vz, darwinkit, vmnet
// cgo bindings), which neither `go build` nor `go vet` can compile here, and
// for what a compiler cannot see there: darwinkit API that aborts with Go
// 1.25+, Objective-C names sent through objc, and the syntax of .m files.
//
//	go run ./packaging/darwincheck [-goarch arm64,amd64] [-tests=true] [-vet=true] [-v] [-C dir] [packages]
//
// Packages default to ./... . For each GOARCH it prints the project's errors
// in the compiler's form, under a "# package (darwin/arch)" header, with paths
// relative to the module root, and exits 1; on success it prints one summary
// line per GOARCH. Exit status 2 means the check could not run.
//
// # How
//
// `GOOS=darwin GOARCH=x CGO_ENABLED=1 go list -e -deps -test -json` lists
// every package with its GoFiles and CgoFiles without running cgo. All of
// them, the standard library included, are parsed and type-checked from
// source with go/types in dependency order (in parallel), with the gc sizes
// of the GOARCH. Dependencies are checked without function bodies: only
// their API matters. The exception is a dependency that go.mod replaces with
// a directory inside the project (the patched vz in packaging/third_party):
// that code is Berth's to get right, so its bodies are checked and its
// errors reported like the project's, cgo artifacts dropped the same way;
// vet does not run on it (it is upstream's code but for the patch). `import "C"` resolves to a stand-in package, one per
// importing package as in cgo, holding what cgo defines whatever the preamble
// says: C.char ... C.ulonglong, C.float, C.double, the complex types,
// size_t, uintptr_t, the intN_t typedefs, bool, C.CString, C.CBytes,
// C.GoString, C.GoStringN, C.GoBytes, C.malloc and C.free, with darwin's
// LP64 sizes. Any other C.x is unknown: its "undefined: C.x" error is
// dropped and the expression becomes invalid, which go/types accepts
// silently wherever it flows. Also dropped: "name x not exported by package
// C" (C.int is lower-case), `"C" imported and not used`, and follow-on
// messages mentioning an invalid type or operand after their first word.
// Errors in other dependencies are never reported (all of them are such
// cgo artifacts in vz and darwinkit); -v counts them.
//
// Running each GOARCH matters: vz has arm64-only API (Rosetta, macOS guests,
// configuration_arm64.go) that an amd64 check rejects in files lacking an
// arm64 build constraint.
//
// With -vet (default) a set of go vet analyzers (printf, lostcancel,
// copylocks, unusedresult, nilfunc, assign, bools, structtag, unreachable and
// the rest of vet.go's list) runs on the project's packages that type-check,
// with facts flowing between them and from os, log and testing (checked with
// bodies for that). Analyzers that need full type information see only the
// files without cgo; any analyzer panic skips that analyzer for that package
// (-v tells which), it never fails the check.
//
// # darwinkit: closures (closures.go)
//
// darwinkit v0.5.0 built with Go 1.25 or later aborts (SIGABRT) the first
// time Objective-C calls a libffi closure it made (darwinkit issue 286). In
// every project package that imports darwinkit, each use of a darwinkit
// function or method, called or taken as a value (so import aliases, method
// values and expressions, promoted methods and darwinkit's own interfaces
// count), is resolved with go/types and refused when it makes one: by name
// (macos.RunApp, any SetDelegate, objc.NewClass, AddMethod, ReplaceMethod,
// AddClassMethod, ReplaceClassMethod, WrapAsProtocol, CreateMallocBlock,
// CreateGlobalBlock, ffi.CreateClosure); by signature (a parameter of func
// type, or of a generated protocol type P..., which the binding wraps with
// WrapAsProtocol); by argument (a Go func passed where darwinkit takes any,
// such as objc.Call's arguments, which become blocks). Allowed, because they
// use a cgo handle and an //export callback instead: action.Wrap, action.Set,
// appkit.NewMenuItemWithAction, dispatch.Queue's DispatchAsync and
// DispatchSync, objc.WithAutoreleasePool, objc.SetDeallocListener. These
// findings cannot be suppressed. What needs a real class or a block goes in
// the package's .m file (SetDelegateObject takes its objects).
//
// # darwinkit: Objective-C names (objc.go, allowlist.go, handlist.go)
//
// A class or selector name that reaches objc.GetClass, objc.Sel
// (RegisterSelectorName) or objc.Call must exist: a misspelled one builds
// and raises an NSException at run time. The names are checked against an
// allow-list read at check time from darwinkit's generated bindings in the
// module cache (each *.gen.go method sends objc.Call with a literal selector
// to its receiver, a class's instances or its class object; a struct's first
// embedded field is its superclass): for v0.5.0, 1,807 classes and 2,439
// files, ~170 ms once per run, and only when a package sends objc messages.
// The hand list (handlist.go) adds, each with Apple's page, what darwinkit
// lacks: NSObject's own methods, SMAppService, the UserNotifications classes
// and +[NSMenuItem sectionHeaderWithTitle:]; 1,814 classes and 26,642
// (class, selector) pairs in all. Generating at check time follows go.mod's
// darwinkit version with nothing to regenerate; a committed copy would be
// 0.6 MB of text for a saving of ~0.2 s.
//
//   - objc.GetClass("X"): X is a known class.
//   - objc.Call[T](recv, objc.Sel("s:"), args...): the selector's colons
//     equal len(args); s: is a method of recv's class when the code says
//     which (a darwinkit type such as appkit.MenuItem or IMenuItem, a struct
//     embedding one, appkit.MenuItemClass or objc.GetClass("NSMenuItem") for
//     class methods), superclasses included; otherwise some class or protocol
//     has it.
//   - objc.Sel("s") elsewhere (targets, RespondsToSelector): some class or
//     protocol has it.
//
// A variable set once to objc.Sel("s") or objc.GetClass("X") counts as the
// constant. What cannot be checked is itself a finding: a name that is not a
// constant, objc.Call with args..., these functions taken as values.
// `//darwincheck:unchecked <why>` on the finding's line or the line above
// suppresses it (for a class of the project's own .m file); a directive
// without a reason, or one that suppresses nothing, is a finding. Messages
// suggest the closest known name.
//
// # Objective-C files (objcfiles.go)
//
// Each .m file of the project's packages is parsed by Debian's clang
// (-fsyntax-only) against GNUstep's Foundation and AppKit headers
// (libgnustep-gui-dev; packaging/deps.sh installs both: 45.6 MiB, 194 MB
// installed). GNUstep's API is older and smaller than Apple's, so only what
// does not depend on Apple's declarations is reported: clang's Parse Issue
// and preprocessor errors in the file, and "method not found" for a
// selector that neither GNUstep's headers nor the allow-list have. Every
// other diagnostic is dropped. Headers GNUstep lacks (UserNotifications,
// ServiceManagement, dispatch, cgo's _cgo_export.h) are replaced by empty
// files (-v names them) and Apple's annotation macros (API_AVAILABLE,
// NS_SWIFT_NAME...) expand to nothing. On macOS the check is skipped: the
// real build compiles the file with Apple's SDK. Without clang or GNUstep's
// headers, a project with .m files fails the check with what to install.
//
// # What it catches
//
// Everything the Go type checker sees in darwin-only Go code: misspelled or
// missing vz/darwinkit functions, methods, types and constants; wrong
// argument counts and types; unused variables and imports; Go errors inside
// cgo files, including misuse of cgo's own helpers (C.free(cs) without
// unsafe.Pointer); API that exists for one darwin GOARCH only; errors in
// darwin _test.go files; and the vet findings above. Any use of darwinkit
// API that makes a libffi closure. Misspelled Objective-C class and selector
// names sent through objc, selectors sent to the wrong class or to the class
// instead of its instances, and a selector whose colons do not match the
// arguments. In .m files: syntax errors, and misspelled selectors that no
// class has (registerForDragedTypes:, setTitel:).
//
// # What it cannot catch
//
//   - C code, and Objective-C beyond the syntax and selector checks above:
//     cgo preambles (even with -x objective-c) and .c files are never
//     compiled, nor checked against Apple's headers, so a wrong C function
//     name, a wrong argument to a C function, or a misuse of a value
//     returned by one (its type is unknown) goes unnoticed. In .m files:
//     types, misspelled constants, functions and class names of API GNUstep
//     lacks (all of UserNotifications and ServiceManagement, most of macOS
//     10.12 and later; classes the allow-list knows are declared with
//     @class, and the hand list's option types with typedefs, so messages
//     to them are checked and their names parse), block signatures, memory
//     management, a misspelled header
//     name (it becomes an empty stand-in), and whether the //export
//     callbacks it calls exist (cgo's _cgo_export.h is not generated here).
//   - Objective-C names that are not constants, or that pass through
//     something other than objc.GetClass, Sel, RegisterSelectorName and
//     Call (a darwinkit binding's own selectors are right by construction).
//     A selector is checked against the receiver's static Go type: an
//     appkit.View holding an NSButton must be converted before it is sent
//     -setTitle:. The allow-list holds what darwinkit's symbol data knew (it
//     predates macOS 14) plus the hand list: a method that exists on the
//     user's macOS but in neither needs a hand-list line.
//   - A libffi closure reached through an interface the project declares
//     itself, or through reflection, and darwinkit API that is safe in its
//     body but listed by name: the rules look at the callee's name and
//     signature, not at what it does.
//   - macOS version availability: an API from macOS 15 used on macOS 13
//     type-checks; vz returns an error at run time, objc.Call raises.
//   - Linking, code signing and entitlements (com.apple.security.virtualization):
//     only a real macOS build and run show those.
//   - Messages name cgo types as C.int where the real compiler says
//     _Ctype_int, and the rare two-value call `_, err := C.free(p)` is
//     reported although cgo accepts it.
//
// It caches nothing on disk: every run lists and checks from source (the go
// command's own module and build caches aside); the Objective-C stand-in
// headers live in a temporary directory removed on exit.
package main
