package network

import (
	"github.com/berthvm/berth/core/api"
)

// Modes of Berth's networks (api.NetworkInfo.Mode).
const (
	// ModeUser: each network is a user-mode network in its own process
	// (core/network/nethost, on gvisor-tap-vsock).
	ModeUser = "user"
)

// ChooseMode decides how this host carries Berth's networks, from the
// capability probe, and says why.
func ChooseMode(caps api.Capabilities) api.NetworkInfo {
	return api.NetworkInfo{Mode: ModeUser, Engine: "user-mode networking (gvisor-tap-vsock)",
		Reason: "one unprivileged process per network carries its frames, its DNS names, its published ports and its way out"}
}
