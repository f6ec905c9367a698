//go:build darwin && amd64

package capabilities

// Rosetta for Linux exists only on Apple silicon.
func vzRosettaState() RosettaState { return RosettaNotSupported }
