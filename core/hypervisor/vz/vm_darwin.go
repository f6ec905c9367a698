//go:build darwin

package vz

// The only code that calls the Virtualization framework: it walks a Plan,
// which decided everything. Threading: Code-Hex/vz gives every VM its own
// serial dispatch queue and runs each VM call on it synchronously, and
// state changes arrive through KVO on that queue; headless Linux VMs need
// neither the main thread nor a run loop (only vz's graphics window
// does), so the host process drives its VM from ordinary goroutines.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"

	vzf "github.com/Code-Hex/vz/v3"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
)

// probeHost reads the framework's limits; capabilities come from the
// daemon (WithCapabilities) or are probed by the caller.
func probeHost() Host {
	return Host{
		Arch: hypervisor.Arch(runtime.GOARCH),
		Limits: Limits{
			MinCPUs:   vzf.VirtualMachineConfigurationMinimumAllowedCPUCount(),
			MaxCPUs:   vzf.VirtualMachineConfigurationMaximumAllowedCPUCount(),
			MinMemory: vzf.VirtualMachineConfigurationMinimumAllowedMemorySize(),
			MaxMemory: vzf.VirtualMachineConfigurationMaximumAllowedMemorySize(),
		},
	}
}

type vzVM struct {
	vm     *vzf.VirtualMachine
	states chan VMState
	// files are the host ends of datagram NICs: the framework uses their
	// descriptors, so they must stay open (and not be finalized) as long
	// as the VM runs.
	files []*os.File
}

func newPlatformVM(p Plan) (VM, error) {
	var files []*os.File
	ok := false
	defer func() {
		if !ok {
			for _, f := range files {
				f.Close()
			}
		}
	}()
	opts := []vzf.LinuxBootLoaderOption{vzf.WithCommandLine(p.Cmdline)}
	if p.Initrd != "" {
		opts = append(opts, vzf.WithInitrd(p.Initrd))
	}
	bl, err := vzf.NewLinuxBootLoader(p.Kernel, opts...)
	if err != nil {
		return nil, fmt.Errorf("boot loader: %w", err)
	}
	cfg, err := vzf.NewVirtualMachineConfiguration(bl, p.CPUs, p.MemoryBytes)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	var (
		serials  []*vzf.VirtioConsoleDeviceSerialPortConfiguration
		storage  []vzf.StorageDeviceConfiguration
		sockets  []vzf.SocketDeviceConfiguration
		entropy  []*vzf.VirtioEntropyDeviceConfiguration
		balloons []vzf.MemoryBalloonDeviceConfiguration
		nics     []*vzf.VirtioNetworkDeviceConfiguration
		shares   []vzf.DirectorySharingDeviceConfiguration
	)
	for _, d := range p.Devices {
		switch d.Kind {
		case DevConsole:
			att, err := vzf.NewFileSerialPortAttachment(d.Path, d.Append)
			if err != nil {
				return nil, fmt.Errorf("console %s: %w", d.Path, err)
			}
			c, err := vzf.NewVirtioConsoleDeviceSerialPortConfiguration(att)
			if err != nil {
				return nil, fmt.Errorf("console: %w", err)
			}
			serials = append(serials, c)
		case DevBlock:
			att, err := vzf.NewDiskImageStorageDeviceAttachmentWithCacheAndSync(d.Path, d.ReadOnly, vzCaching(d.Caching), vzSync(d.Sync))
			if err != nil {
				return nil, fmt.Errorf("disk %s (%s): %w", d.ID, d.Path, err)
			}
			blk, err := vzf.NewVirtioBlockDeviceConfiguration(att)
			if err != nil {
				return nil, fmt.Errorf("disk %s: %w", d.ID, err)
			}
			// The agent finds disks by this serial (needs macOS 12.3).
			if err := blk.SetBlockDeviceIdentifier(d.ID); err != nil {
				return nil, fmt.Errorf("disk %s: identifier: %w", d.ID, err)
			}
			storage = append(storage, blk)
		case DevVsock:
			s, err := vzf.NewVirtioSocketDeviceConfiguration()
			if err != nil {
				return nil, fmt.Errorf("vsock: %w", err)
			}
			sockets = append(sockets, s)
		case DevEntropy:
			e, err := vzf.NewVirtioEntropyDeviceConfiguration()
			if err != nil {
				return nil, fmt.Errorf("entropy: %w", err)
			}
			entropy = append(entropy, e)
		case DevBalloon:
			b, err := vzf.NewVirtioTraditionalMemoryBalloonDeviceConfiguration()
			if err != nil {
				return nil, fmt.Errorf("balloon: %w", err)
			}
			balloons = append(balloons, b)
		case DevNet:
			var att vzf.NetworkDeviceAttachment
			switch d.Attachment {
			case AttachNAT:
				nat, err := vzf.NewNATNetworkDeviceAttachment()
				if err != nil {
					return nil, fmt.Errorf("NAT network: %w", err)
				}
				att = nat
			case AttachDatagram:
				f, err := connectDatagram(d.Local, d.Socket)
				if err != nil {
					return nil, err
				}
				files = append(files, f)
				fh, err := vzf.NewFileHandleNetworkDeviceAttachment(f)
				if err != nil {
					return nil, fmt.Errorf("network %s: %w", d.Socket, err)
				}
				if d.MTU > 0 {
					if err := fh.SetMaximumTransmissionUnit(d.MTU); err != nil {
						return nil, fmt.Errorf("network %s: MTU %d: %w", d.Socket, d.MTU, err)
					}
				}
				att = fh
			default:
				return nil, fmt.Errorf("network attachment %q: %w", d.Attachment, api.ErrInvalidArgument)
			}
			nic, err := vzf.NewVirtioNetworkDeviceConfiguration(att)
			if err != nil {
				return nil, fmt.Errorf("network: %w", err)
			}
			hw, err := net.ParseMAC(d.MAC)
			if err != nil {
				return nil, fmt.Errorf("network MAC %q: %w", d.MAC, err)
			}
			mac, err := vzf.NewMACAddress(hw)
			if err != nil {
				return nil, fmt.Errorf("network MAC %q: %w", d.MAC, err)
			}
			nic.SetMACAddress(mac)
			nics = append(nics, nic)
		case DevShare:
			share, err := folderShare(d)
			if err != nil {
				return nil, err
			}
			shares = append(shares, share)
		case DevRosetta:
			share, err := rosettaShare(d.Tag)
			if err != nil {
				return nil, err
			}
			shares = append(shares, share)
		default:
			return nil, fmt.Errorf("device kind %q: %w", d.Kind, api.ErrInvalidArgument)
		}
	}
	cfg.SetSerialPortsVirtualMachineConfiguration(serials)
	cfg.SetStorageDevicesVirtualMachineConfiguration(storage)
	cfg.SetSocketDevicesVirtualMachineConfiguration(sockets)
	cfg.SetEntropyDevicesVirtualMachineConfiguration(entropy)
	cfg.SetMemoryBalloonDevicesVirtualMachineConfiguration(balloons)
	cfg.SetNetworkDevicesVirtualMachineConfiguration(nics)
	if len(shares) > 0 {
		cfg.SetDirectorySharingDevicesVirtualMachineConfiguration(shares)
	}
	if p.Nested {
		plat, err := vzf.NewGenericPlatformConfiguration()
		if err != nil {
			return nil, fmt.Errorf("platform: %w", err)
		}
		if err := plat.SetNestedVirtualizationEnabled(true); err != nil {
			return nil, fmt.Errorf("nested virtualization: %w", err)
		}
		cfg.SetPlatformVirtualMachineConfiguration(plat)
	}
	if valid, err := cfg.Validate(); !valid || err != nil {
		if err == nil {
			err = errors.New("rejected without a reason")
		}
		return nil, fmt.Errorf("invalid VM configuration: %w", err)
	}
	vm, err := vzf.NewVirtualMachine(cfg)
	if err != nil {
		return nil, err
	}
	v := &vzVM{vm: vm, states: make(chan VMState, 16), files: files}
	// Subscribe before Start so no change is missed; vz buffers them.
	notify := vm.StateChangedNotify()
	go func() {
		for s := range notify {
			v.states <- fromVZ(s)
		}
	}()
	ok = true
	return v, nil
}

func vzCaching(c Caching) vzf.DiskImageCachingMode {
	if c == CachingCached {
		return vzf.DiskImageCachingModeCached
	}
	return vzf.DiskImageCachingModeAutomatic
}

func vzSync(s Sync) vzf.DiskImageSynchronizationMode {
	if s == SyncNone {
		return vzf.DiskImageSynchronizationModeNone
	}
	return vzf.DiskImageSynchronizationModeFull
}

// fromVZ spells each state out rather than trusting both enums to count
// alike.
func fromVZ(s vzf.VirtualMachineState) VMState {
	switch s {
	case vzf.VirtualMachineStateStopped:
		return StateStopped
	case vzf.VirtualMachineStateRunning:
		return StateRunning
	case vzf.VirtualMachineStatePaused:
		return StatePaused
	case vzf.VirtualMachineStateError:
		return StateError
	case vzf.VirtualMachineStateStarting:
		return StateStarting
	case vzf.VirtualMachineStatePausing:
		return StatePausing
	case vzf.VirtualMachineStateResuming:
		return StateResuming
	case vzf.VirtualMachineStateStopping:
		return StateStopping
	case vzf.VirtualMachineStateSaving:
		return StateSaving
	case vzf.VirtualMachineStateRestoring:
		return StateRestoring
	}
	return StateError
}

func (v *vzVM) Start() error                 { return v.vm.Start() }
func (v *vzVM) StateChanges() <-chan VMState { return v.states }
func (v *vzVM) State() VMState               { return fromVZ(v.vm.State()) }

func (v *vzVM) RequestStop() error {
	if !v.vm.CanRequestStop() {
		return fmt.Errorf("the VM cannot be asked to stop in state %s: %w", fromVZ(v.vm.State()), api.ErrConflict)
	}
	ok, err := v.vm.RequestStop()
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("the framework refused the stop request")
	}
	return nil
}

func (v *vzVM) Stop() error {
	if !v.vm.CanStop() {
		return fmt.Errorf("the VM cannot be stopped in state %s: %w", fromVZ(v.vm.State()), api.ErrConflict)
	}
	return v.vm.Stop()
}

// Connect may never return: vz waits for the framework's completion
// handler, which may not come for a port nobody listens on (connector.go
// keeps that to one stuck call per VM). The connection wraps a
// duplicate of the framework's descriptor, never the descriptor itself
// (packaging/third_party/vz/BERTH-PATCH.md).
func (v *vzVM) Connect(port uint32) (net.Conn, error) {
	devs := v.vm.SocketDevices()
	if len(devs) == 0 {
		return nil, fmt.Errorf("the VM has no vsock device: %w", api.ErrUnavailable)
	}
	c, err := devs[0].Connect(port)
	if err != nil {
		return nil, err
	}
	if c == nil {
		// A nil *VirtioSocketConnection in a net.Conn would not be nil.
		return nil, errors.New("no connection")
	}
	return c, nil
}

// folderShare is a host folder shared over virtio-fs: one folder, shared
// as it is (read-only if asked), under the device's tag.
func folderShare(d Device) (vzf.DirectorySharingDeviceConfiguration, error) {
	dir, err := vzf.NewSharedDirectory(d.Path, d.ReadOnly)
	if err != nil {
		return nil, fmt.Errorf("share %q (%s): %w", d.Tag, d.Path, err)
	}
	single, err := vzf.NewSingleDirectoryShare(dir)
	if err != nil {
		return nil, fmt.Errorf("share %q: %w", d.Tag, err)
	}
	dev, err := vzf.NewVirtioFileSystemDeviceConfiguration(d.Tag)
	if err != nil {
		return nil, fmt.Errorf("share %q: %w", d.Tag, err)
	}
	dev.SetDirectoryShare(single)
	return dev, nil
}
