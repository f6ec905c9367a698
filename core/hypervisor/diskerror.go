package hypervisor

import "fmt"

// DiskError is the host failing to read or write one of a VM's disk
// images (a full host disk, a host I/O error). The guest gets the error
// too (its kernel sees an I/O error); this is the host's account of it.
type DiskError struct {
	Disk    string // Disk.ID
	Write   bool   // a write failed (else a read)
	NoSpace bool   // the host's filesystem is full
	Reason  string // the host's error, "No space left on device"
}

// Message says what happened, for a container's error and the daemon's log.
func (e DiskError) Message() string {
	op := "read"
	if e.Write {
		op = "write"
	}
	if e.NoSpace {
		return fmt.Sprintf("the host disk is full: the VM could not %s its disk %s; free space on the host", op, e.Disk)
	}
	return fmt.Sprintf("host I/O error on the VM's disk %s (%s): %s", e.Disk, op, e.Reason)
}

// DiskErrorReporter is a Machine that tells of its disk errors as they
// happen. Optional: a backend that cannot see them does not implement it.
type DiskErrorReporter interface {
	// DiskErrors delivers the VM's disk errors; it may coalesce a burst
	// (a full disk fails every write) into fewer values.
	DiskErrors() <-chan DiskError
}
