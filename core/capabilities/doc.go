// Package capabilities finds out what this host can do for Berth: OS and
// version, CPU, the Apple chip generation, nested virtualization, Rosetta,
// and on Linux which kind of KVM exists and so which accelerator QEMU uses.
//
// Parsing and every decision (facts.go, decide.go) are portable and
// table-tested with real strings; only the probes that read the system are
// per OS (probe_linux.go, probe_darwin.go). It must not start VMs or hold
// state: Probe is cheap and called once at daemon start.
package capabilities
