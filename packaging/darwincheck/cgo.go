package main

import (
	"go/token"
	"go/types"
	"strings"
)

// newCPackage returns the stand-in for `import "C"` seen by one package.
//
// Real cgo gives every package its own translation of the C names it uses
// (C.int in package a is not C.int in package b), so each importing package
// gets a fresh copy here too. It holds only what cgo defines without looking
// at the C preamble: the numeric types, the common typedefs, and the
// conversion helpers. Everything else (functions, macros, structs declared in
// the preamble or in Apple's headers) stays undefined on purpose: the checker
// reports "undefined: C.x", the run drops that message, and the expression
// becomes invalid, which go/types then accepts silently wherever it is used.
//
// The sizes follow darwin's LP64 ABI on arm64 and amd64: char is signed on
// both, long and size_t are 64 bits.
func newCPackage() *types.Package {
	pkg := types.NewPackage("C", "C")
	scope := pkg.Scope()

	defined := func(name string, underlying types.Type) *types.Named {
		obj := types.NewTypeName(token.NoPos, pkg, name, nil)
		t := types.NewNamed(obj, underlying, nil)
		scope.Insert(obj)
		return t
	}
	alias := func(name string, rhs types.Type) {
		obj := types.NewTypeName(token.NoPos, pkg, name, nil)
		types.NewAlias(obj, rhs)
		scope.Insert(obj)
	}
	basic := types.Typ

	// cgo translates each C base type to its own defined Go type
	// (_Ctype_int int32, ...), so C.int and C.long do not mix without a
	// conversion, exactly as the compiler sees it after cgo.
	char := defined("char", basic[types.Int8])
	defined("schar", basic[types.Int8])
	defined("uchar", basic[types.Uint8])
	defined("short", basic[types.Int16])
	defined("ushort", basic[types.Uint16])
	cint := defined("int", basic[types.Int32])
	defined("uint", basic[types.Uint32])
	long := defined("long", basic[types.Int64])
	ulong := defined("ulong", basic[types.Uint64])
	defined("longlong", basic[types.Int64])
	defined("ulonglong", basic[types.Uint64])
	defined("float", basic[types.Float32])
	defined("double", basic[types.Float64])
	defined("complexfloat", basic[types.Complex64])
	defined("complexdouble", basic[types.Complex128])
	cbool := defined("_Bool", basic[types.Bool])

	// C typedefs of base types become Go aliases in cgo's output
	// (type _Ctype_size_t = _Ctype_ulong). These are darwin's definitions.
	lookup := func(name string) types.Type { return scope.Lookup(name).Type() }
	alias("size_t", ulong)
	alias("ssize_t", long)
	alias("uintptr_t", ulong)
	alias("intptr_t", long)
	alias("int8_t", lookup("schar"))
	alias("uint8_t", lookup("uchar"))
	alias("int16_t", lookup("short"))
	alias("uint16_t", lookup("ushort"))
	alias("int32_t", cint)
	alias("uint32_t", lookup("uint"))
	alias("int64_t", lookup("longlong"))
	alias("uint64_t", lookup("ulonglong"))
	alias("bool", cbool) // stdbool.h: #define bool _Bool

	unsafePtr := basic[types.UnsafePointer]
	charPtr := types.NewPointer(char)
	fn := func(name string, params []types.Type, results ...types.Type) {
		vars := func(ts []types.Type) *types.Tuple {
			vs := make([]*types.Var, len(ts))
			for i, t := range ts {
				vs[i] = types.NewParam(token.NoPos, pkg, "", t)
			}
			return types.NewTuple(vs...)
		}
		sig := types.NewSignatureType(nil, nil, nil, vars(params), vars(results), false)
		scope.Insert(types.NewFunc(token.NoPos, pkg, name, sig))
	}
	// The helpers cgo documents, with its exact signatures.
	fn("CString", []types.Type{basic[types.String]}, charPtr)
	fn("CBytes", []types.Type{types.NewSlice(basic[types.Byte])}, unsafePtr)
	fn("GoString", []types.Type{charPtr}, basic[types.String])
	fn("GoStringN", []types.Type{charPtr, cint}, basic[types.String])
	fn("GoBytes", []types.Type{unsafePtr, cint}, types.NewSlice(basic[types.Byte]))
	// malloc is special-cased by cgo (_CMalloc); free is stdlib.h's, which
	// every CString user includes. Declaring free catches the classic
	// C.free(cs) without unsafe.Pointer. Its cost: the rare two-value call
	// `_, err := C.free(p)` (errno), legal in cgo, is reported here.
	fn("malloc", []types.Type{ulong}, unsafePtr)
	fn("free", []types.Type{unsafePtr})

	pkg.MarkComplete()
	return pkg
}

// isCgoNoise reports whether a type-checker message is an artifact of
// checking cgo code without running cgo, rather than an error the compiler
// would report. Only these are dropped:
//   - "undefined: C.x": any name the C preamble or Apple's headers declare;
//   - "name x not exported by package C": C.int and friends are lower-case;
//   - `"C" imported and not used`: a file that imports C only for its
//     preamble or //export;
//   - follow-on errors that mention an invalid type or operand somewhere
//     after their first word: they come from an expression made invalid by
//     an unknown C name, here or in a dependency. go/types applies the same
//     rule itself once a package has had one error.
//
// Note "undefined: vz.NewFoo" and every other message are kept.
func isCgoNoise(msg string) bool {
	switch {
	case strings.HasPrefix(msg, "undefined: C."):
		return true
	case strings.HasPrefix(msg, "name ") && strings.HasSuffix(msg, " not exported by package C"):
		return true
	case msg == `"C" imported and not used`:
		return true
	case strings.Index(msg, "invalid type") > 0, strings.Index(msg, "invalid operand") > 0:
		return true
	}
	return false
}
