// Package network owns Berth's networks: each one's subnet and every
// member's address (allocated in the core's state, kept across stop and
// start), the DNS names of its running members (their names, hostnames
// and aliases on that network), its published ports, and
// the process that carries its frames (core/network/nethost), started on
// first use, re-adopted after a daemon restart and told, then, the whole
// state again. The runtime asks it, around each VM, for the NICs to give
// the VM (Up), to publish ports (Publish) and to let go (Down).
package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/events"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/network/nethost"
	"github.com/berthvm/berth/core/state"
)

// Domain is the DNS zone of members' names: web.berth.internal.
const Domain = "berth.internal"

// HostName is the host's name on networks with host access.
const HostName = "host." + Domain

// Config is what a Manager is built from.
type Config struct {
	DB      *state.DB
	Home    string // data dir: networks/<short id>/ holds each network's run dir
	Engines Engines
	Bus     *events.Bus
	Logger  *slog.Logger
	Now     func() time.Time
	// HostPrefixes are the host's own networks, which no network may
	// take; default HostPrefixes().
	HostPrefixes func() []netip.Prefix
	// Uplink is the way out of every network that has one (not the
	// internal ones), as nethost.Plan.Uplink: "" for the gateway's
	// user-mode NAT, nethost.UplinkVmnet for a vmnet interface. The
	// daemon sets it from ChooseMode (Uplink). A network's process keeps
	// the uplink it was started with until it stops.
	Uplink string
}

// Manager is every network of a data dir.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	engines map[string]Engine          // by network id, while its process runs
	vms     map[string]map[string]bool // by network id: the VMs attached; the last to go stops the process
	locks   map[string]*sync.Mutex     // serialise starting, attaching to and stopping each network's process
}

// New opens the networks of cfg.DB: it makes the default network if there
// is none and finds the processes of networks that were running.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HostPrefixes == nil {
		cfg.HostPrefixes = HostPrefixes
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, engines: map[string]Engine{}, vms: map[string]map[string]bool{},
		locks: map[string]*sync.Mutex{}}
	if err := m.ensureDefault(); err != nil {
		return nil, err
	}
	var recs []state.NetworkRecord
	if err := cfg.DB.View(func(tx *state.Tx) (err error) { recs, err = tx.Networks(); return err }); err != nil {
		return nil, err
	}
	for _, rec := range recs {
		if len(rec.Process) == 0 {
			continue
		}
		e, err := cfg.Engines.Adopt(ctx, rec.Process)
		if err != nil {
			if !errors.Is(err, api.ErrNotFound) {
				m.log.Warn("adopt network process", "network", rec.Name, "err", err)
			}
			m.forget(rec.ID)
			continue
		}
		m.engines[rec.ID] = e
		m.log.Info("re-adopted network", "network", rec.Name)
	}
	return m, nil
}

// Close lets go of the networks' processes without stopping them: they
// carry running containers' traffic until the next daemon adopts them.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.engines {
		delete(m.engines, id)
	}
}

// StopAll stops every network's process (berth system stop).
func (m *Manager) StopAll(ctx context.Context) {
	m.mu.Lock()
	ids := make([]string, 0, len(m.engines))
	for id := range m.engines {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	for _, id := range ids {
		m.stopEngine(ctx, id)
	}
}

func (m *Manager) lock(id string) func() {
	m.mu.Lock()
	l := m.locks[id]
	if l == nil {
		l = &sync.Mutex{}
		m.locks[id] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// forget clears a network's process handle.
func (m *Manager) forget(id string) {
	err := m.cfg.DB.Update(func(tx *state.Tx) error {
		rec, err := tx.Network(id)
		if err != nil {
			return err
		}
		rec.Process = nil
		return tx.UpdateNetwork(rec)
	})
	if err != nil && !errors.Is(err, api.ErrNotFound) {
		m.log.Warn("forget network process", "network", id, "err", err)
	}
}

func (m *Manager) publish(action string, n api.Network, attrs map[string]string) {
	if m.cfg.Bus != nil {
		m.cfg.Bus.Publish(api.Event{Type: api.EventNetwork, Action: action, ID: n.ID, Name: n.Name, Attributes: attrs})
	}
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (m *Manager) ensureDefault() error {
	return m.cfg.DB.Update(func(tx *state.Tx) error {
		if _, err := tx.ResolveNetwork(DefaultName); err == nil || !errors.Is(err, api.ErrNotFound) {
			return err
		}
		_, err := m.create(tx, api.NetworkCreateRequest{Name: DefaultName}, true)
		return err
	})
}

// Create makes a network; its process starts when a member starts.
func (m *Manager) Create(ctx context.Context, req api.NetworkCreateRequest) (api.Network, error) {
	var n api.Network
	err := m.cfg.DB.Update(func(tx *state.Tx) (err error) {
		n, err = m.create(tx, req, false)
		return err
	})
	if err != nil {
		return api.Network{}, err
	}
	m.publish("create", n, nil)
	return n, nil
}

func (m *Manager) create(tx *state.Tx, req api.NetworkCreateRequest, isDefault bool) (api.Network, error) {
	if !nameRE.MatchString(req.Name) {
		return api.Network{}, fmt.Errorf("invalid network name %q: use letters, digits, _ . - (up to 64), starting with a letter or digit: %w", req.Name, api.ErrInvalidArgument)
	}
	if req.Name == "none" || req.Name == "host" || req.Name == "bridge" {
		return api.Network{}, fmt.Errorf("network name %q is reserved: pick another: %w", req.Name, api.ErrInvalidArgument)
	}
	recs, err := tx.Networks()
	if err != nil {
		return api.Network{}, err
	}
	var used []netip.Prefix
	for _, r := range recs {
		if r.Name == req.Name {
			return api.Network{}, fmt.Errorf("network with name %s already exists: %w", req.Name, api.ErrAlreadyExists)
		}
		if p, err := netip.ParsePrefix(r.Subnet); err == nil {
			used = append(used, p)
		}
	}
	var subnet netip.Prefix
	if req.Subnet != "" {
		if subnet, err = netip.ParsePrefix(req.Subnet); err != nil {
			return api.Network{}, fmt.Errorf("invalid subnet %q: want CIDR notation such as 10.90.0.0/24: %w", req.Subnet, api.ErrInvalidArgument)
		}
		subnet = subnet.Masked()
		if err := CheckSubnet(subnet, used, m.cfg.HostPrefixes()); err != nil {
			return api.Network{}, err
		}
	} else if subnet, err = ChooseSubnet(used, m.cfg.HostPrefixes()); err != nil {
		return api.Network{}, err
	}
	n := api.Network{ID: newID(), Name: req.Name, Driver: "user", Subnet: subnet.String(), Gateway: Gateway(subnet).String(),
		Internal: req.Internal, HostAccess: req.HostAccess, Default: isDefault, Labels: req.Labels,
		Created: m.cfg.Now().UTC(), State: api.NetworkStopped}
	if err := tx.CreateNetwork(state.NetworkRecord{Network: n}); err != nil {
		return api.Network{}, err
	}
	return n, nil
}

// List returns every network with its members, ports and state.
func (m *Manager) List(ctx context.Context) ([]api.Network, error) {
	var (
		recs []state.NetworkRecord
		cs   []state.ContainerRecord
	)
	err := m.cfg.DB.View(func(tx *state.Tx) (err error) {
		if recs, err = tx.Networks(); err != nil {
			return err
		}
		cs, err = tx.Containers()
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]api.Network, 0, len(recs))
	for _, r := range recs {
		out = append(out, m.view(r, cs))
	}
	return out, nil
}

// Inspect returns one network, by name, id or id prefix.
func (m *Manager) Inspect(ctx context.Context, ref string) (api.Network, error) {
	var (
		rec state.NetworkRecord
		cs  []state.ContainerRecord
	)
	err := m.cfg.DB.View(func(tx *state.Tx) (err error) {
		if rec, err = tx.ResolveNetwork(ref); err != nil {
			return err
		}
		cs, err = tx.Containers()
		return err
	})
	if err != nil {
		return api.Network{}, err
	}
	return m.view(rec, cs), nil
}

// view is a network as the API shows it: members from the containers'
// records, ports from the running ones, state from its process.
func (m *Manager) view(r state.NetworkRecord, cs []state.ContainerRecord) api.Network {
	n := r.Network
	n.MTU, n.WayOut = m.mtu(r), "nat"
	switch {
	case r.Internal:
		n.WayOut = "none"
	case m.cfg.Uplink != "":
		n.WayOut = m.cfg.Uplink
	}
	n.State = api.NetworkStopped
	m.mu.Lock()
	if m.engines[n.ID] != nil {
		n.State = api.NetworkRunning
	}
	m.mu.Unlock()
	n.Members, n.Ports = nil, nil
	for _, c := range cs {
		for i, cn := range c.Networks {
			if cn.NetworkID != n.ID {
				continue
			}
			n.Members = append(n.Members, api.NetworkMember{ContainerID: c.ID, Name: c.Name, IP: cn.IP, MAC: cn.MAC,
				Running: c.State.Active()})
			if i == 0 {
				for _, p := range c.Ports {
					p.Container = c.ID
					n.Ports = append(n.Ports, p)
				}
			}
		}
	}
	return n
}

// inUse lists the containers attached to a network.
func inUse(id string, cs []state.ContainerRecord) []string {
	var names []string
	for _, c := range cs {
		for _, cn := range c.Networks {
			if cn.NetworkID == id {
				names = append(names, c.Name)
			}
		}
	}
	sort.Strings(names)
	return names
}

// Remove deletes a network no container is attached to, and stops its
// process.
func (m *Manager) Remove(ctx context.Context, ref string) error {
	var rec state.NetworkRecord
	err := m.cfg.DB.Update(func(tx *state.Tx) error {
		var err error
		if rec, err = tx.ResolveNetwork(ref); err != nil {
			return err
		}
		if rec.Default {
			return fmt.Errorf("network %s is the default network and cannot be removed: %w", rec.Name, api.ErrConflict)
		}
		cs, err := tx.Containers()
		if err != nil {
			return err
		}
		if names := inUse(rec.ID, cs); len(names) > 0 {
			return fmt.Errorf("network %s is in use by %s %s: disconnect %s (berth network disconnect %s CONTAINER) or remove %s first: %w",
				rec.Name, plural(len(names), "container", "containers"), strings.Join(names, ", "),
				plural(len(names), "it", "them"), rec.Name, plural(len(names), "it", "them"), api.ErrConflict)
		}
		return tx.DeleteNetwork(rec.ID)
	})
	if err != nil {
		return err
	}
	m.stopEngine(ctx, rec.ID)
	m.publish("destroy", rec.Network, nil)
	return nil
}

func (m *Manager) stopEngine(ctx context.Context, id string) {
	unlock := m.lock(id)
	defer unlock()
	m.stopLocked(ctx, id)
}

// stopLocked stops network id's process, if it runs; the caller holds
// the network's lock.
func (m *Manager) stopLocked(ctx context.Context, id string) {
	m.mu.Lock()
	delete(m.vms, id)
	e := m.engines[id]
	delete(m.engines, id)
	m.mu.Unlock()
	if e == nil {
		return
	}
	if err := e.Stop(ctx); err != nil {
		m.log.Warn("stop network process", "network", id, "err", err)
	}
	m.forget(id)
	m.log.Info("network stopped", "network", id)
}

// Prune removes every network without members but the default one.
func (m *Manager) Prune(ctx context.Context) ([]string, error) {
	list, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, n := range list {
		if n.Default || len(n.Members) > 0 {
			continue
		}
		if err := m.Remove(ctx, n.ID); err != nil {
			if errors.Is(err, api.ErrConflict) {
				continue // a container joined meanwhile
			}
			return removed, err
		}
		removed = append(removed, n.Name)
	}
	return removed, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Assign gives a new container its addresses: on each network its spec
// names (the default network when it names none, none for "none"), in
// the transaction that creates it.
func (m *Manager) Assign(tx *state.Tx, rec *state.ContainerRecord) error {
	names := rec.Spec.Networks
	if len(names) == 1 && names[0] == "none" {
		rec.Networks = nil
		_, err := guestHosts(tx, *rec)
		return err
	}
	if len(names) == 0 {
		names = []string{DefaultName}
	}
	for ref := range rec.Spec.NetworkAliases {
		if !slices.Contains(names, ref) {
			return fmt.Errorf("network aliases for %s, which container %s does not join: %w", ref, rec.Name, api.ErrInvalidArgument)
		}
	}
	seen := map[string]bool{}
	for _, ref := range names {
		if ref == "none" {
			return fmt.Errorf("--network none cannot be combined with other networks: %w", api.ErrInvalidArgument)
		}
		n, err := tx.ResolveNetwork(ref)
		if err != nil {
			if errors.Is(err, api.ErrNotFound) {
				return fmt.Errorf("network %s not found: create it with berth network create %s: %w", ref, ref, api.ErrNotFound)
			}
			return err
		}
		if seen[n.ID] {
			continue
		}
		seen[n.ID] = true
		cn, err := allocate(tx, n, rec.ID)
		if err != nil {
			return err
		}
		if cn.Aliases, err = checkAliases(rec.Spec.NetworkAliases[ref]); err != nil {
			return err
		}
		rec.Networks = append(rec.Networks, cn)
	}
	rec.Spec.NetworkAliases = networkAliases(rec.Networks)
	_, err := guestHosts(tx, *rec) // a bad --add-host fails the create, not a later start
	return err
}

// allocate picks a container's address on network n.
func allocate(tx *state.Tx, n state.NetworkRecord, containerID string) (api.ContainerNetwork, error) {
	subnet, err := netip.ParsePrefix(n.Subnet)
	if err != nil {
		return api.ContainerNetwork{}, fmt.Errorf("network %s: subnet %q: %v: %w", n.Name, n.Subnet, err, api.ErrCorrupt)
	}
	cs, err := tx.Containers()
	if err != nil {
		return api.ContainerNetwork{}, err
	}
	used := map[netip.Addr]bool{}
	for _, c := range cs {
		for _, cn := range c.Networks {
			if cn.NetworkID == n.ID {
				if a, err := netip.ParseAddr(cn.IP); err == nil {
					used[a] = true
				}
			}
		}
	}
	ip, err := Allocate(subnet, used)
	if err != nil {
		return api.ContainerNetwork{}, fmt.Errorf("network %s: %w", n.Name, err)
	}
	return api.ContainerNetwork{NetworkID: n.ID, Network: n.Name, IP: ip.String(), Prefix: subnet.Bits(),
		Gateway: n.Gateway, MAC: MAC(containerID, n.ID)}, nil
}

// checkAliases refuses an alias the network's DNS could not serve, here
// rather than in the network's process, which would refuse every name
// of the network for it; duplicates go.
func checkAliases(aliases []string) ([]string, error) {
	var out []string
	for _, a := range aliases {
		if !nethost.ValidName(a) {
			return nil, fmt.Errorf("invalid network alias %q: an alias is letters, digits, '_', '.' and '-': %w", a, api.ErrInvalidArgument)
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// networkAliases is ContainerSpec.NetworkAliases from a container's
// networks: the aliases live on each network's entry, the spec says them
// again as a create would.
func networkAliases(cns []api.ContainerNetwork) map[string][]string {
	var out map[string][]string
	for _, cn := range cns {
		if len(cn.Aliases) > 0 {
			if out == nil {
				out = map[string][]string{}
			}
			out[cn.Network] = cn.Aliases
		}
	}
	return out
}

// Connect attaches a container to a network, with aliases as its extra
// names there: it gets an address now, and its VM the NIC at its next
// start (a running VM cannot gain a device). It reports whether the
// container must restart for it.
func (m *Manager) Connect(ctx context.Context, netRef, ctrRef string, aliases []string) (restart bool, err error) {
	aliases, err = checkAliases(aliases)
	if err != nil {
		return false, err
	}
	var n state.NetworkRecord
	var c state.ContainerRecord
	err = m.cfg.DB.Update(func(tx *state.Tx) error {
		if n, err = tx.ResolveNetwork(netRef); err != nil {
			return err
		}
		if c, err = tx.ResolveContainer(ctrRef); err != nil {
			return err
		}
		for _, cn := range c.Networks {
			if cn.NetworkID == n.ID {
				return fmt.Errorf("container %s is already connected to network %s: %w", c.Name, n.Name, api.ErrAlreadyExists)
			}
		}
		cn, err := allocate(tx, n, c.ID)
		if err != nil {
			return err
		}
		cn.Aliases = aliases
		c.Networks = append(c.Networks, cn)
		c.Spec.Networks = networkNames(c.Networks)
		c.Spec.NetworkAliases = networkAliases(c.Networks)
		return tx.UpdateContainer(c)
	})
	if err != nil {
		return false, err
	}
	m.publish("connect", n.Network, map[string]string{"container": c.ID})
	return c.State.Active(), nil
}

// Disconnect detaches a container from a network; a running container
// keeps its NIC until it stops, unless force.
func (m *Manager) Disconnect(ctx context.Context, netRef, ctrRef string) (restart bool, err error) {
	var n state.NetworkRecord
	var c state.ContainerRecord
	err = m.cfg.DB.Update(func(tx *state.Tx) error {
		if n, err = tx.ResolveNetwork(netRef); err != nil {
			return err
		}
		if c, err = tx.ResolveContainer(ctrRef); err != nil {
			return err
		}
		kept := c.Networks[:0:0]
		for _, cn := range c.Networks {
			if cn.NetworkID != n.ID {
				kept = append(kept, cn)
			}
		}
		if len(kept) == len(c.Networks) {
			return fmt.Errorf("container %s is not connected to network %s: %w", c.Name, n.Name, api.ErrNotFound)
		}
		c.Networks = kept
		c.Spec.Networks = networkNames(kept)
		c.Spec.NetworkAliases = networkAliases(kept)
		if len(kept) == 0 {
			c.Spec.Networks = []string{"none"}
		}
		return tx.UpdateContainer(c)
	})
	if err != nil {
		return false, err
	}
	m.publish("disconnect", n.Network, map[string]string{"container": c.ID})
	return c.State.Active(), nil
}

func networkNames(cns []api.ContainerNetwork) []string {
	var names []string
	for _, cn := range cns {
		names = append(names, cn.Network)
	}
	return names
}

// runDir is a network's process directory: short, for socket paths.
func (m *Manager) runDir(id string) string {
	return filepath.Join(m.cfg.Home, "networks", api.ShortID(id))
}

// engine returns network id's process, starting it if it is not running.
func (m *Manager) engine(ctx context.Context, id string) (Engine, error) {
	unlock := m.lock(id)
	defer unlock()
	return m.engineLocked(ctx, id)
}

// engineLocked is engine for a caller that holds the network's lock.
func (m *Manager) engineLocked(ctx context.Context, id string) (Engine, error) {
	m.mu.Lock()
	e := m.engines[id]
	m.mu.Unlock()
	if e != nil {
		return e, nil
	}
	var plan nethost.Plan
	err := m.cfg.DB.View(func(tx *state.Tx) error {
		rec, err := tx.Network(id)
		if err != nil {
			return err
		}
		all, err := tx.Networks()
		if err != nil {
			return err
		}
		plan = m.plan(rec, all)
		return nil
	})
	if err != nil {
		return nil, err
	}
	e, handle, err := m.cfg.Engines.Start(ctx, m.runDir(id), plan)
	if err != nil {
		return nil, fmt.Errorf("start network %s: %w", plan.Name, err)
	}
	err = m.cfg.DB.Update(func(tx *state.Tx) error {
		rec, err := tx.Network(id)
		if err != nil {
			return err
		}
		rec.Process = handle
		return tx.UpdateNetwork(rec)
	})
	if err != nil {
		_ = e.Stop(ctx)
		return nil, err
	}
	m.mu.Lock()
	m.engines[id] = e
	m.mu.Unlock()
	m.log.Info("network started", "network", plan.Name, "subnet", plan.Subnet, "uplink", plan.Uplink)
	return e, nil
}

// plan is how network rec's process is started.
func (m *Manager) plan(rec state.NetworkRecord, all []state.NetworkRecord) nethost.Plan {
	p := nethost.Plan{ID: rec.ID, Name: rec.Name, Subnet: rec.Subnet, Gateway: rec.Gateway, Internal: rec.Internal,
		HostAccess: rec.HostAccess, DNSDomain: Domain, MTU: m.mtu(rec)}
	if s, err := netip.ParsePrefix(rec.Subnet); err == nil {
		if rec.HostAccess {
			p.HostIP = HostGateway(s).String()
		}
		if m.cfg.Uplink != "" && !rec.Internal {
			p.Uplink, p.UplinkIP = m.cfg.Uplink, UplinkAddress(s).String()
		}
	}
	for _, o := range all {
		if o.ID != rec.ID {
			p.Blocked = append(p.Blocked, o.Subnet)
		}
	}
	return p
}

// JumboMTU is the MTU of a network whose frames never leave the host as
// they are (its way out is the gateway's NAT, or it has none): large
// frames mean a fraction of the frames to carry, and about twice the
// throughput between containers and to published ports (make bench). A
// network with a vmnet uplink keeps Ethernet's 1500: its frames go out
// to the Mac's network as they are.
const JumboMTU = 9000

// mtu is network rec's MTU.
func (m *Manager) mtu(rec state.NetworkRecord) int {
	if m.cfg.Uplink != "" && !rec.Internal {
		return nethost.DefaultMTU
	}
	return JumboMTU
}

// Up gets a container's networks ready for its VM, which runs in
// vmRunDir: each network's process runs and has its NIC's socket bound
// (before the VM starts, so the VM's end can connect to it). The NICs are
// returned in the container's order of networks.
func (m *Manager) Up(ctx context.Context, rec state.ContainerRecord, vmID, vmRunDir string) ([]hypervisor.Network, error) {
	var nics []hypervisor.Network
	mtus := map[string]int{}
	err := m.cfg.DB.View(func(tx *state.Tx) error {
		for _, cn := range rec.Networks {
			n, err := tx.Network(cn.NetworkID)
			if err != nil {
				return fmt.Errorf("network %s: %w", cn.Network, err)
			}
			mtus[n.ID] = m.mtu(n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, cn := range rec.Networks {
		a := nethost.Attachment{VM: vmID, MAC: cn.MAC, IP: cn.IP, Socket: filepath.Join(m.runDir(cn.NetworkID), vmID+".sock"),
			Peer: hypervisor.NICSocket(vmRunDir, i)}
		if err := m.attach(ctx, cn.NetworkID, a); err != nil {
			m.Down(ctx, rec, vmID)
			return nil, fmt.Errorf("network %s: %w", cn.Network, err)
		}
		nics = append(nics, hypervisor.Network{Mode: hypervisor.NetworkSocket, MAC: cn.MAC, Socket: a.Socket, MTU: mtus[cn.NetworkID]})
	}
	return nics, nil
}

// attach binds a VM's NIC on network id, starting its process if needed.
func (m *Manager) attach(ctx context.Context, id string, a nethost.Attachment) error {
	unlock := m.lock(id)
	defer unlock()
	e, err := m.engineLocked(ctx, id)
	if err != nil {
		return err
	}
	if err := e.Attach(ctx, a); err != nil {
		return err
	}
	m.mu.Lock()
	if m.vms[id] == nil {
		m.vms[id] = map[string]bool{}
	}
	m.vms[id][a.VM] = true
	m.mu.Unlock()
	return nil
}

// Publish publishes a starting container's ports on its first network,
// picking free host ports where none was given. On failure nothing stays
// published.
func (m *Manager) Publish(ctx context.Context, rec state.ContainerRecord, bindings []api.PortBinding) ([]api.PortMapping, error) {
	if len(bindings) == 0 {
		return nil, nil
	}
	if len(rec.Networks) == 0 {
		return nil, fmt.Errorf("container %s publishes ports but is on no network (--network none): %w", rec.Name, api.ErrInvalidArgument)
	}
	cn := rec.Networks[0]
	e, err := m.engine(ctx, cn.NetworkID)
	if err != nil {
		return nil, err
	}
	var done []api.PortMapping
	undo := func() {
		for _, p := range done {
			_ = e.Unexpose(ctx, forward(p, cn.IP).Key())
		}
	}
	for _, b := range bindings {
		p := api.PortMapping{HostIP: b.HostIP, HostPort: b.HostPort, ContainerPort: b.ContainerPort, Proto: b.Proto}
		if p.HostIP == "" {
			p.HostIP = "0.0.0.0"
		}
		got, err := e.Expose(ctx, forward(p, cn.IP))
		if err != nil {
			undo()
			return nil, fmt.Errorf("publish %s:%d->%d/%s: %w", p.HostIP, p.HostPort, p.ContainerPort, p.Proto, err)
		}
		p.HostPort = int(got.HostPort)
		done = append(done, p)
	}
	return done, nil
}

func forward(p api.PortMapping, guestIP string) nethost.Forward {
	return nethost.Forward{Proto: p.Proto, HostIP: p.HostIP, HostPort: uint16(p.HostPort), GuestIP: guestIP, GuestPort: uint16(p.ContainerPort)}
}

// Announce gives a container that now runs its names on its networks.
func (m *Manager) Announce(ctx context.Context, rec state.ContainerRecord) {
	m.updateRecords(ctx, rec.Networks)
}

// Down lets go of a stopped container's networks: its published ports,
// its NICs, its names.
func (m *Manager) Down(ctx context.Context, rec state.ContainerRecord, vmID string) {
	for i, cn := range rec.Networks {
		var ports []api.PortMapping
		if i == 0 {
			ports = rec.Ports
		}
		m.detach(ctx, rec.Name, cn, vmID, ports)
	}
	m.updateRecords(ctx, rec.Networks)
}

// detach lets go of a VM's NIC on a network, and of its ports there. The
// network's process stops with its last VM: an idle network costs
// nothing, and starts again with its next member.
func (m *Manager) detach(ctx context.Context, name string, cn api.ContainerNetwork, vmID string, ports []api.PortMapping) {
	unlock := m.lock(cn.NetworkID)
	defer unlock()
	m.mu.Lock()
	e := m.engines[cn.NetworkID]
	delete(m.vms[cn.NetworkID], vmID)
	idle := len(m.vms[cn.NetworkID]) == 0
	m.mu.Unlock()
	if e == nil {
		return
	}
	if idle {
		m.stopLocked(ctx, cn.NetworkID)
		return
	}
	for _, p := range ports {
		if err := e.Unexpose(ctx, forward(p, cn.IP).Key()); err != nil {
			m.log.Warn("unpublish port", "container", name, "port", p.HostPort, "err", err)
		}
	}
	if err := e.Detach(ctx, vmID); err != nil {
		m.log.Warn("detach container", "container", name, "network", cn.Network, "err", err)
	}
}

// updateRecords tells each network's process the names of its running
// members (their container names and hostnames).
func (m *Manager) updateRecords(ctx context.Context, cns []api.ContainerNetwork) {
	var cs []state.ContainerRecord
	if err := m.cfg.DB.View(func(tx *state.Tx) (err error) { cs, err = tx.Containers(); return err }); err != nil {
		m.log.Warn("read containers for names", "err", err)
		return
	}
	for _, cn := range cns {
		m.mu.Lock()
		e := m.engines[cn.NetworkID]
		m.mu.Unlock()
		if e == nil {
			continue
		}
		if err := e.SetRecords(ctx, records(cn.NetworkID, cs)); err != nil {
			m.log.Warn("update network names", "network", cn.Network, "err", err)
		}
	}
}

// records are a network's names: every running member's name and
// hostname (the first member to claim one has it), and its aliases on
// this network, which, as in docker, members may share: a shared alias
// answers with each member's address.
func records(networkID string, cs []state.ContainerRecord) []nethost.Record {
	var out []nethost.Record
	seen := map[string]bool{}
	for _, c := range cs {
		if !c.State.Active() {
			continue
		}
		for _, cn := range c.Networks {
			if cn.NetworkID != networkID {
				continue
			}
			for _, name := range []string{c.Name, c.Spec.Hostname} {
				if name != "" && !seen[name] {
					seen[name] = true
					out = append(out, nethost.Record{Name: name, IP: cn.IP})
				}
			}
			for _, a := range cn.Aliases {
				out = append(out, nethost.Record{Name: a, IP: cn.IP})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || out[i].Name == out[j].Name && out[i].IP < out[j].IP
	})
	return slices.Compact(out)
}

// Sync tells every network's process the whole desired state, from the
// containers' records, after a daemon restart re-adopted the VMs: vms
// maps a running container's id to its VM's id and run dir. A network
// whose process did not survive while its members did is started again.
func (m *Manager) Sync(ctx context.Context, vms map[string][2]string) {
	var cs []state.ContainerRecord
	if err := m.cfg.DB.View(func(tx *state.Tx) (err error) { cs, err = tx.Containers(); return err }); err != nil {
		m.log.Warn("read containers to sync networks", "err", err)
		return
	}
	ids := map[string]bool{}
	m.mu.Lock()
	for id := range m.engines {
		ids[id] = true
	}
	m.mu.Unlock()
	for _, c := range cs {
		if _, ok := vms[c.ID]; ok {
			for _, cn := range c.Networks {
				ids[cn.NetworkID] = true
			}
		}
	}
	for id := range ids {
		d := nethost.State{Records: records(id, cs)}
		for _, c := range cs {
			vm, ok := vms[c.ID]
			if !ok {
				continue
			}
			for i, cn := range c.Networks {
				if cn.NetworkID != id {
					continue
				}
				d.Attachments = append(d.Attachments, nethost.Attachment{VM: vm[0], MAC: cn.MAC, IP: cn.IP,
					Socket: filepath.Join(m.runDir(id), vm[0]+".sock"), Peer: hypervisor.NICSocket(vm[1], i)})
				if i == 0 {
					for _, p := range c.Ports {
						d.Forwards = append(d.Forwards, forward(p, cn.IP))
					}
				}
			}
		}
		m.syncOne(ctx, id, d)
	}
}

// syncOne tells network id's process d, or stops it if d has no VM.
func (m *Manager) syncOne(ctx context.Context, id string, d nethost.State) {
	unlock := m.lock(id)
	defer unlock()
	if len(d.Attachments) == 0 {
		m.stopLocked(ctx, id)
		return
	}
	e, err := m.engineLocked(ctx, id)
	if err != nil {
		m.log.Warn("restart network", "network", id, "err", err)
		return
	}
	if _, _, err := e.Sync(ctx, d); err != nil {
		m.log.Warn("sync network", "network", id, "err", err)
	}
	attached := map[string]bool{}
	for _, a := range d.Attachments {
		attached[a.VM] = true
	}
	m.mu.Lock()
	m.vms[id] = attached
	m.mu.Unlock()
}

// Guest is what a container's guest is told about its networks: its
// resolver and the /etc/hosts lines beyond its own name.
type Guest struct {
	DNS    []string    // the first network's gateway, which serves DNS
	Search []string    // Domain
	Hosts  [][2]string // address, name: --add-host
}

// Guest tells a container's guest its resolver and extra hosts. A
// container on no network keeps its image's resolver.
func (m *Manager) Guest(rec state.ContainerRecord) (Guest, error) {
	var g Guest
	if len(rec.Networks) > 0 {
		g.DNS, g.Search = []string{rec.Networks[0].Gateway}, []string{Domain}
	}
	err := m.cfg.DB.View(func(tx *state.Tx) (err error) {
		g.Hosts, err = guestHosts(tx, rec)
		return err
	})
	return g, err
}

// guestHosts are the /etc/hosts lines of --add-host NAME:IP, and of
// NAME:host-gateway on a network with host access.
func guestHosts(tx *state.Tx, rec state.ContainerRecord) ([][2]string, error) {
	var out [][2]string
	for _, h := range rec.Spec.AddHosts {
		name, addr, ok := strings.Cut(h, ":")
		if !ok || name == "" || addr == "" {
			return nil, fmt.Errorf("invalid --add-host %q: want NAME:IP or NAME:host-gateway: %w", h, api.ErrInvalidArgument)
		}
		if addr == "host-gateway" {
			gw, err := hostGateway(tx, rec)
			if err != nil {
				return nil, err
			}
			addr = gw
		} else if _, err := netip.ParseAddr(addr); err != nil {
			return nil, fmt.Errorf("invalid --add-host %q: %s is not an IP address: %w", h, addr, api.ErrInvalidArgument)
		}
		out = append(out, [2]string{addr, name})
	}
	return out, nil
}

// hostGateway is the host's address on the container's first network
// with host access.
func hostGateway(tx *state.Tx, rec state.ContainerRecord) (string, error) {
	for _, cn := range rec.Networks {
		n, err := tx.Network(cn.NetworkID)
		if err != nil {
			return "", err
		}
		if !n.HostAccess {
			continue
		}
		s, err := netip.ParsePrefix(n.Subnet)
		if err != nil {
			return "", fmt.Errorf("network %s: subnet %q: %v: %w", n.Name, n.Subnet, err, api.ErrCorrupt)
		}
		return HostGateway(s).String(), nil
	}
	return "", fmt.Errorf("container %s asks for the host (host-gateway), but its networks keep the host private: "+
		"put it on a network made with berth network create --host-access: %w", rec.Name, api.ErrConflict)
}
