// Package packaging holds Berth's build, bundle, sign and notarize scripts
// and the darwin type-check gate (packaging/darwincheck). Its tests check
// the app bundle layout and plists that the scripts produce, on any OS.
package packaging
