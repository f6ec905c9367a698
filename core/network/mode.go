package network

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/network/nethost"
	"github.com/berthvm/berth/vmnet"
)

// Modes of Berth's networks (api.NetworkInfo.Mode).
const (
	// ModeUser: each network is a user-mode network in its own process
	// (core/network/nethost, on gvisor-tap-vsock), whose way out is the
	// gateway's NAT through the host's sockets.
	ModeUser = "user"
	// ModeVmnet: the same processes, each with a vmnet interface in
	// shared mode as its way out (macOS's NAT); DNS, host access and
	// published ports stay the process's.
	ModeVmnet = "vmnet"
)

// ChooseMode decides how this host carries Berth's networks, from the
// capability probe, and says why.
func ChooseMode(caps api.Capabilities) api.NetworkInfo {
	return DecideMode(caps, os.Geteuid() == 0)
}

// userReason is why user-mode networking is what every host can have.
const userReason = "one unprivileged process per network carries its frames, its DNS names, its published ports and its way out"

// DecideMode is ChooseMode for a process that runs as root or not: on
// macOS, vmnet where vmnet.Available says Berth may start interfaces,
// user mode otherwise; elsewhere user mode.
func DecideMode(caps api.Capabilities, root bool) api.NetworkInfo {
	user := api.NetworkInfo{Mode: ModeUser, Engine: "user-mode networking (gvisor-tap-vsock)", Reason: userReason}
	if caps.OS != "darwin" {
		return user
	}
	major, err := strconv.Atoi(strings.SplitN(caps.OSVersion, ".", 2)[0])
	if err != nil {
		major = 0 // unknown: Available says so
	}
	ok, why := vmnet.Available(major, root)
	if !ok {
		user.Reason = fmt.Sprintf("%s; user-mode networking needs no privileges: %s", why, userReason)
		return user
	}
	return api.NetworkInfo{Mode: ModeVmnet, Engine: "user-mode networks (gvisor-tap-vsock), vmnet's NAT for the way out",
		Reason: why + "; each network's process starts a vmnet interface in shared mode and falls back to user-mode NAT if vmnet refuses"}
}

// Uplink is the way out that networks get in mode info (nethost's
// Plan.Uplink): a vmnet interface in vmnet mode, the gateway's NAT ("")
// otherwise.
func Uplink(info api.NetworkInfo) string {
	if info.Mode == ModeVmnet {
		return nethost.UplinkVmnet
	}
	return ""
}
