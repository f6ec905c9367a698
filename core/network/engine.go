package network

import (
	"context"
	"encoding/json"
)

// Plan is what a network's process is started with.
type Plan struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
	// HostGateway is the address that reaches the host's loopback when
	// HostAccess is on.
	HostGateway string `json:"hostGateway"`
	Internal    bool   `json:"internal,omitempty"`
	HostAccess  bool   `json:"hostAccess,omitempty"`
	// Blocked are the other networks' subnets: frames to them are dropped.
	Blocked []string `json:"blocked,omitempty"`
	// Domain is the DNS zone of members' names ("berth.internal").
	Domain string `json:"domain"`
	// RunDir is the process's own directory: control socket, NIC
	// sockets, log.
	RunDir string `json:"runDir"`
}

// Attachment is one VM's NIC on the network: the process binds Socket
// and exchanges frames with the VM's end, Peer.
type Attachment struct {
	VM     string `json:"vm"`
	MAC    string `json:"mac"`
	IP     string `json:"ip"`
	Socket string `json:"socket"`
	Peer   string `json:"peer"`
}

// Record is a DNS name of the network's zone.
type Record struct {
	Name string `json:"name"`
	IP   string `json:"ip"`
}

// Forward is a published port: the process listens on the host and
// forwards into the network.
type Forward struct {
	Proto     string `json:"proto"`
	HostIP    string `json:"hostIp"`
	HostPort  int    `json:"hostPort"`
	GuestIP   string `json:"guestIp"`
	GuestPort int    `json:"guestPort"`
}

// Desired is everything a network's process should be doing.
type Desired struct {
	Attachments []Attachment `json:"attachments"`
	Records     []Record     `json:"records"`
	Forwards    []Forward    `json:"forwards"`
}

// Engine is a network's running process as the manager drives it. Every
// operation is idempotent.
type Engine interface {
	Attach(ctx context.Context, a Attachment) error
	Detach(ctx context.Context, vm string) error
	SetRecords(ctx context.Context, records []Record) error
	// Expose fails with api.ErrConflict, naming the port and its holder
	// where that is knowable, when the host port is taken.
	Expose(ctx context.Context, f Forward) error
	Unexpose(ctx context.Context, f Forward) error
	// Sync makes the process do exactly d.
	Sync(ctx context.Context, d Desired) error
	Stop(ctx context.Context) error
	Close()
}

// Engines start a network's process, or find it again from its handle.
type Engines interface {
	// Start runs a process for plan and returns it with its handle, which
	// the manager stores before anything else.
	Start(ctx context.Context, plan Plan) (Engine, json.RawMessage, error)
	// Adopt finds a process from its handle; api.ErrNotFound when it is
	// gone (after cleaning up what it left).
	Adopt(ctx context.Context, handle json.RawMessage) (Engine, error)
}
