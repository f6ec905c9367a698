// Command darwincheck type-checks the module's packages as they compile for
// GOOS=darwin, on a Linux machine with no macOS SDK and no darwin C compiler.
// It is Berth's gate for the code in _darwin.go files (vz, darwinkit, vmnet
// cgo bindings), which neither `go build` nor `go vet` can compile here.
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
// # What it catches
//
// Everything the Go type checker sees in darwin-only Go code: misspelled or
// missing vz/darwinkit functions, methods, types and constants; wrong
// argument counts and types; unused variables and imports; Go errors inside
// cgo files, including misuse of cgo's own helpers (C.free(cs) without
// unsafe.Pointer); API that exists for one darwin GOARCH only; errors in
// darwin _test.go files; and the vet findings above.
//
// # What it cannot catch
//
//   - C and Objective-C code: preambles, .m/.c files and Apple headers are
//     never compiled, so a wrong C function name, a wrong argument to a C
//     function, or a misuse of a value returned by one (its type is unknown)
//     goes unnoticed.
//   - Objective-C selector strings (objc.Sel("terminate:")) and dynamic
//     objc.Call messages: they are checked at run time only.
//   - macOS version availability: an API from macOS 15 used on macOS 13
//     type-checks; vz returns an error at run time.
//   - Linking, code signing and entitlements (com.apple.security.virtualization):
//     only a real macOS build and run show those.
//   - Messages name cgo types as C.int where the real compiler says
//     _Ctype_int, and the rare two-value call `_, err := C.free(p)` is
//     reported although cgo accepts it.
//
// It caches nothing on disk: every run lists and checks from source (the go
// command's own module and build caches aside).
package main
