//go:build !darwin

package testenv

// Only macOS asks a process for an entitlement before it may create VMs.
const entitlementNeeded = false
