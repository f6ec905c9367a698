package api

import "encoding/json"

// StreamLine is one line of an NDJSON reply to a long operation: progress
// lines, then one line with Result or Error.
type StreamLine struct {
	Progress *Progress       `json:"progress,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    *RemoteError    `json:"error,omitempty"`
}

// HeaderAPIVersion carries APIVersion on every daemon reply.
const HeaderAPIVersion = "Berth-Api-Version"
