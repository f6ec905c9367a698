// Package vmnet is where Berth's bindings to Apple's vmnet.framework
// (darwin files only) and the portable packet pump between a VM's datagram
// socket and a network engine will live. None of it is built yet: on macOS
// containers use the Virtualization framework's NAT attachment, and this
// package holds no code.
package vmnet
