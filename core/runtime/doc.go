// Package runtime turns images, disks and VMs into containers: one
// supervisor per container prepares its disks, boots its VM, starts its
// process through the guest agent, streams and stores its logs, records
// its exit, and publishes every state change as an event. On start it
// reconciles stored state with reality (VMs re-adopted or marked exited).
//
// lifecycle.go is the state machine, spec.go the validation of what users
// ask for, names.go ids and names, merge.go the process a container runs
// (the image's config under the user's flags; the guest agent runs what
// it is given). It decides; the daemon only exposes it.
package runtime
