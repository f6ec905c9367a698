//go:build !linux

package nethost

// portHolder says that proto host:port is in use; only Linux tells by
// whom without privileges or a helper.
func portHolder(proto, host string, port uint16) string { return "in use" }
