package main

import "go/token"

// darwinkitChecks runs the closure check on one of the project's packages
// when it imports darwinkit.
func (st *pkgState) darwinkitChecks(fset *token.FileSet) []diag {
	if st.info == nil || st.types == nil {
		return nil
	}
	for _, p := range st.types.Imports() {
		if inDarwinkit(p) {
			return closureFindings(fset, st.files, st.info)
		}
	}
	return nil
}
