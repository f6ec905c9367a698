package main

import (
	"fmt"
	"go/token"
)

// darwinkitChecks runs the closure check and the Objective-C string check
// on one of the project's packages (only the directives are checked in a
// package that does not import darwinkit). It returns the allow-list when
// it was needed.
func (st *pkgState) darwinkitChecks(fset *token.FileSet, listed []*listedPackage) ([]diag, *allowList, error) {
	if st.info == nil || st.types == nil {
		return nil, nil, nil
	}
	imports := false
	for _, p := range st.types.Imports() {
		imports = imports || inDarwinkit(p)
	}
	if !imports {
		return applyDirectives(fset, st.files, nil), nil, nil
	}
	ds := closureFindings(fset, st.files, st.info)
	if !objcUses(st.files, st.info) {
		return append(ds, applyDirectives(fset, st.files, nil)...), nil, nil
	}
	dir, version := darwinkitDir(listed)
	if dir == "" {
		return nil, nil, fmt.Errorf("%s sends Objective-C messages but go list shows no directory for %s", st.list.ImportPath, darwinkitModule)
	}
	list, err := loadAllowList(dir, version)
	if err != nil {
		return nil, nil, err
	}
	return append(ds, objcFindings(fset, st.files, st.info, list)...), list, nil
}

// darwinkitDir finds darwinkit's module directory (the module cache's copy,
// or a replacement's) and version among the listed packages.
func darwinkitDir(listed []*listedPackage) (dir, version string) {
	for _, lp := range listed {
		m := lp.Module
		if m == nil || m.Path != darwinkitModule || m.Dir == "" {
			continue
		}
		version = m.Version
		if r := m.Replace; r != nil {
			version = r.Version
			if r.Version == "" {
				version = "replaced by " + r.Path
			}
		}
		return m.Dir, version
	}
	return "", ""
}
