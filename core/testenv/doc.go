// Package testenv decides what a test does when the machine lacks something
// it needs (qemu, a kernel, root): skip with a clear reason on a developer's
// machine, but fail when BERTH_REQUIRE_ALL=1, which make test and CI set, so
// a missing tool can never turn a suite green by skipping it.
//
// It holds no fixtures and starts nothing; packages that need a tool check
// for it and call Missing.
package testenv
