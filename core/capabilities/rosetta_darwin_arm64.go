//go:build darwin && arm64

package capabilities

import "github.com/Code-Hex/vz/v3"

func vzRosettaState() RosettaState {
	switch vz.LinuxRosettaDirectoryShareAvailability() {
	case vz.LinuxRosettaAvailabilityInstalled:
		return RosettaInstalled
	case vz.LinuxRosettaAvailabilityNotInstalled:
		return RosettaNotInstalled
	}
	return RosettaNotSupported
}
