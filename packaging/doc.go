// Package packaging holds Berth's build, bundle, sign and notarize scripts
// and the darwin type-check gate (packaging/darwincheck). Its tests check
// the app bundle layout and plists that the scripts produce, on any OS,
// and the import rules between the host, the guest and the protocol they
// share (imports_test.go), on every platform each side is built for.
package packaging
