package api

import "time"

// Network is a network containers join, as `berth network inspect` shows
// it: the core owns its subnet and every member's address.
type Network struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Driver is the engine behind it: "user" (user-mode networking, every
	// platform) or "vmnet" (macOS's vmnet).
	Driver  string `json:"driver"`
	Subnet  string `json:"subnet"`  // "10.89.0.0/24"
	Gateway string `json:"gateway"` // the network's own DNS and way out
	// Internal networks have no way out: members reach only each other.
	Internal bool `json:"internal,omitempty"`
	// HostAccess lets members reach the host's loopback services, as
	// host.berth.internal (docker's host-gateway); off, the host's
	// loopback stays private.
	HostAccess bool `json:"hostAccess,omitempty"`
	// Default is the network containers join when they name none.
	Default bool              `json:"default,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Created time.Time         `json:"created"`

	// MTU is its frames' largest payload; WayOut is how its members reach
	// the world: "nat" (the network process's user-mode NAT), "vmnet"
	// (macOS's vmnet), or "none" for an internal network.
	MTU    int    `json:"mtu"`
	WayOut string `json:"wayOut"`

	// State is "running" while its network process runs, else "stopped".
	State string `json:"state"`
	// Members are the containers attached to it, running or not.
	Members []NetworkMember `json:"members,omitempty"`
	// Ports are the ports published into it now.
	Ports []PortMapping `json:"ports,omitempty"`
}

// Network states.
const (
	NetworkRunning = "running"
	NetworkStopped = "stopped"
)

// NetworkMember is one container's place on a network.
type NetworkMember struct {
	ContainerID string `json:"containerId"`
	Name        string `json:"name"`
	IP          string `json:"ip"`
	MAC         string `json:"mac"`
	Running     bool   `json:"running"`
}

// NetworkCreateRequest asks for a new network; an empty Subnet picks a
// free one.
type NetworkCreateRequest struct {
	Name       string            `json:"name"`
	Subnet     string            `json:"subnet,omitempty"`
	Internal   bool              `json:"internal,omitempty"`
	HostAccess bool              `json:"hostAccess,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// NetworkConnectRequest attaches (or detaches) a container.
type NetworkConnectRequest struct {
	Container string `json:"container"`
	// Aliases are the container's extra DNS names on the network.
	Aliases []string `json:"aliases,omitempty"`
}

// NetworkConnectResult says when a connect or disconnect takes effect: a
// VM's NICs are fixed while it runs, so a running container changes
// networks at its next start.
type NetworkConnectResult struct {
	Restart bool `json:"restart"`
}

// NetworksPruned names the networks a prune removed.
type NetworksPruned struct {
	Removed []string `json:"removed"`
}

// ContainerNetwork is a container's address on one network.
type ContainerNetwork struct {
	NetworkID string `json:"networkId"`
	Network   string `json:"network"`
	IP        string `json:"ip"`     // "10.89.0.2"
	Prefix    int    `json:"prefix"` // 24
	Gateway   string `json:"gateway"`
	MAC       string `json:"mac"`
	// Aliases are more DNS names for it, on this network only (docker's
	// --network-alias).
	Aliases []string `json:"aliases,omitempty"`
}

// PortBinding is a port to publish, as docker's -p says it: HostPort 0
// takes any free port, an empty HostIP means every address.
type PortBinding struct {
	HostIP        string `json:"hostIp,omitempty"`
	HostPort      int    `json:"hostPort,omitempty"`
	ContainerPort int    `json:"containerPort"`
	Proto         string `json:"proto"` // "tcp" or "udp"
}

// PortMapping is a published port as it is: the host's side resolved.
type PortMapping struct {
	HostIP        string `json:"hostIp"`
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Proto         string `json:"proto"`
	Container     string `json:"container,omitempty"` // id, in a network's list
}
