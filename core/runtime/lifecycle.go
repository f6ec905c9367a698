package runtime

import (
	"fmt"

	"github.com/berthvm/berth/core/api"
)

// transitions lists, for each state, the states it may move to. Every
// state change of a container goes through CheckTransition inside the
// same transaction that writes it.
//
//	created  -> starting (start), exited (start failed before boot)
//	starting -> running (process started), stopping, exited, dead (boot failed)
//	running  -> stopping, exited (process ended), dead (VM crashed),
//	            paused (pause)
//	paused   -> running (unpause), stopping (stop thaws it first),
//	            exited (killed), dead (VM crashed)
//	stopping -> exited, dead
//	exited   -> starting (start again), restarting (its restart policy)
//	dead     -> starting (start again), restarting (its restart policy)
//	restarting -> starting (the back-off ended), exited (stop, kill, rm -f
//	              or update --restart no cancelled it)
var transitions = map[api.ContainerState][]api.ContainerState{
	api.StateCreated:    {api.StateStarting, api.StateExited, api.StateDead},
	api.StateStarting:   {api.StateRunning, api.StateStopping, api.StateExited, api.StateDead},
	api.StateRunning:    {api.StateStopping, api.StateExited, api.StateDead, api.StatePaused},
	api.StatePaused:     {api.StateRunning, api.StateStopping, api.StateExited, api.StateDead},
	api.StateStopping:   {api.StateExited, api.StateDead},
	api.StateExited:     {api.StateStarting, api.StateRestarting},
	api.StateDead:       {api.StateStarting, api.StateRestarting},
	api.StateRestarting: {api.StateStarting, api.StateExited},
}

// CheckTransition reports whether a container may go from one state to
// another; the error names both and wraps api.ErrConflict.
func CheckTransition(from, to api.ContainerState) error {
	for _, ok := range transitions[from] {
		if ok == to {
			return nil
		}
	}
	return fmt.Errorf("container cannot go from %s to %s: %w", from, to, api.ErrConflict)
}
