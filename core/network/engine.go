package network

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/network/nethost"
)

// Engine is a network's running process as the manager drives it: a
// *nethost.Process. Every operation is idempotent.
type Engine interface {
	Attach(ctx context.Context, a nethost.Attachment) error
	Detach(ctx context.Context, vm string) error
	SetRecords(ctx context.Context, records []nethost.Record) error
	// Expose publishes f and returns it as published: a HostPort of 0
	// takes a free port. A taken host port is api.ErrConflict, naming its
	// holder where the host can tell.
	Expose(ctx context.Context, f nethost.Forward) (nethost.Forward, error)
	Unexpose(ctx context.Context, k nethost.ForwardKey) error
	// Sync makes the process do exactly s.
	Sync(ctx context.Context, s nethost.State) (nethost.SyncResult, nethost.Status, error)
	Stop(ctx context.Context) error
}

// Engines start a network's process, or find it again from its handle.
type Engines interface {
	// Start runs a process for plan in runDir and returns it with its
	// handle, which the manager stores before anything else.
	Start(ctx context.Context, runDir string, plan nethost.Plan) (Engine, json.RawMessage, error)
	// Adopt finds a process from its handle; api.ErrNotFound when it is
	// gone (after cleaning up what it left).
	Adopt(ctx context.Context, handle json.RawMessage) (Engine, error)
}

// Processes are the real Engines: each network is a `berth net-host`
// process of the berth binary Exe, which outlives the daemon.
type Processes struct {
	Exe string
}

func (p Processes) Start(ctx context.Context, runDir string, plan nethost.Plan) (Engine, json.RawMessage, error) {
	proc, err := nethost.Start(ctx, runDir, plan, p.Exe, "")
	if err != nil {
		return nil, nil, err
	}
	h, err := json.Marshal(proc.Handle())
	if err != nil {
		_ = proc.Stop(ctx)
		return nil, nil, err
	}
	return proc, h, nil
}

func (p Processes) Adopt(ctx context.Context, handle json.RawMessage) (Engine, error) {
	var h nethost.Handle
	if err := json.Unmarshal(handle, &h); err != nil {
		return nil, fmt.Errorf("network process handle: %w", err)
	}
	proc, err := nethost.Adopt(ctx, h)
	if err != nil {
		return nil, err
	}
	if proc.Greeting().Protocol != nethost.ProtocolVersion {
		// Berth was upgraded under it: a new process serves the network
		// (running containers' traffic pauses until it is synced).
		if err := proc.Stop(ctx); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("network %q: its process speaks protocol %d, not %d: restarted: %w",
			h.Name, proc.Greeting().Protocol, nethost.ProtocolVersion, api.ErrNotFound)
	}
	return proc, nil
}
