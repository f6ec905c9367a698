// Package vmnet will hold Berth's bindings to Apple's vmnet.framework
// (darwin files only) behind portable types, and the pure parts (subnet
// validation, address allocation) that Linux tests cover.
//
// Round 1 uses the Virtualization framework's NAT attachment on macOS, so
// this package is only a placeholder for the network work that follows.
package vmnet
