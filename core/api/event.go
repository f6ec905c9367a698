package api

import "time"

// Event is one thing that happened, published by the core and streamed to
// every client (`berth events`, the menu-bar app).
type Event struct {
	Time time.Time `json:"time"`
	// Type is what kind of object: "container", "image", "daemon".
	Type string `json:"type"`
	// Action is docker's vocabulary where it has one: create, start, die,
	// stop, kill, destroy, pull, load, tag, untag, delete…
	Action string `json:"action"`
	ID     string `json:"id,omitempty"`
	Name   string `json:"name,omitempty"`
	// Attributes add detail: exitCode, image, signal, error.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Event types.
const (
	EventContainer = "container"
	EventImage     = "image"
	EventDaemon    = "daemon"
	EventNetwork   = "network"
	EventVolume    = "volume"
)
