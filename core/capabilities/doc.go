// Package capabilities finds out what this host can do for Berth: OS and
// version, CPU, the Apple chip generation, nested virtualization, Rosetta,
// and on Linux which kind of KVM exists and so which accelerator QEMU uses.
//
// On macOS it also decides whether this berth build can run VMs at all (an
// amd64 build under Rosetta cannot), reconciles the macOS version with the
// Darwin kernel's (binaries built with SDKs older than 26 read macOS 26 as
// 16), and reads the SDK berth was linked against (macos.go).
//
// Parsing and every decision (facts.go, decide.go, macos.go) are portable
// and table-tested with real strings; only the probes that read the system
// are per OS (probe_linux.go, probe_darwin.go). It must not start VMs or hold
// state: Probe is cheap and called once at daemon start.
package capabilities
