package testenv

// macOS's Virtualization framework needs the
// com.apple.security.virtualization entitlement in the process that
// creates VMs: test binaries that boot VMs sign a copy of themselves
// (MainWithEntitlement).
const entitlementNeeded = true
