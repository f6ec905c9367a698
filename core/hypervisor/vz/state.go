package vz

import (
	"fmt"

	"github.com/berthvm/berth/core/hypervisor"
)

// VMState is the framework's VZVirtualMachineState, mirrored so that the
// mapping below is portable (vm_darwin.go converts).
type VMState int

const (
	StateStopped VMState = iota
	StateRunning
	StatePaused
	StateError
	StateStarting
	StatePausing
	StateResuming
	StateStopping
	StateSaving
	StateRestoring
)

var stateNames = [...]string{"stopped", "running", "paused", "error", "starting", "pausing", "resuming", "stopping", "saving", "restoring"}

func (s VMState) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Mapped is what a framework state means to Berth.
type Mapped struct {
	State hypervisor.State
	// Ended: the VM is gone and its host process should exit.
	Ended bool
	// Crash: it ended by the framework's error, whatever the guest did.
	Crash bool
}

// MapState maps a framework state. Only "stopped" after a start, and
// "error", end a VM; every in-between state (starting, pausing, saving...)
// is a VM that exists, so Running. "stopped" before the VM ever ran is
// the initial state, not an end.
func MapState(s VMState, started bool) Mapped {
	switch s {
	case StateStopped:
		if !started {
			return Mapped{State: hypervisor.Running}
		}
		return Mapped{State: hypervisor.Stopped, Ended: true}
	case StateError:
		return Mapped{State: hypervisor.Stopped, Ended: true, Crash: true}
	}
	return Mapped{State: hypervisor.Running}
}
