package vmnet

import (
	"fmt"

	"github.com/berthvm/berth/core/api"
)

// Status is a vmnet_return_t: the values are vmnet.h's.
type Status uint32

const (
	StatusSuccess            Status = 1000 // VMNET_SUCCESS
	StatusFailure            Status = 1001 // VMNET_FAILURE
	StatusMemFailure         Status = 1002 // VMNET_MEM_FAILURE
	StatusInvalidArgument    Status = 1003 // VMNET_INVALID_ARGUMENT
	StatusSetupIncomplete    Status = 1004 // VMNET_SETUP_INCOMPLETE
	StatusInvalidAccess      Status = 1005 // VMNET_INVALID_ACCESS: permission denied
	StatusPacketTooBig       Status = 1006 // VMNET_PACKET_TOO_BIG
	StatusBufferExhausted    Status = 1007 // VMNET_BUFFER_EXHAUSTED
	StatusTooManyPackets     Status = 1008 // VMNET_TOO_MANY_PACKETS
	StatusSharingServiceBusy Status = 1009 // VMNET_SHARING_SERVICE_BUSY

	// statusNoAnswer is not vmnet's: its completion handler did not run
	// in time (vmnet_darwin.c returns it).
	statusNoAnswer Status = 0
)

// Op is the vmnet call a Status came from: the same code means different
// things (VMNET_INVALID_ARGUMENT is a bad range at start, a bad frame on a
// write).
type Op string

const (
	OpStart  Op = "start"  // vmnet_start_interface
	OpEvents Op = "events" // vmnet_interface_set_event_callback
	OpRead   Op = "read"   // vmnet_read
	OpWrite  Op = "write"  // vmnet_write
	OpStop   Op = "stop"   // vmnet_stop_interface
)

// Error is a vmnet call that did not return VMNET_SUCCESS.
type Error struct {
	Op     Op
	Status Status
}

func statusError(op Op, s Status) error {
	if s == StatusSuccess {
		return nil
	}
	return &Error{Op: op, Status: s}
}

func (e *Error) Error() string {
	return fmt.Sprintf("vmnet: %s: %s (%s)", e.Op, e.message(), e.Status.name())
}

func (e *Error) message() string {
	switch s := e.Status; {
	case s == StatusInvalidAccess:
		return "vmnet needs root, or macOS 26 and a program signed with the virtualization entitlement"
	case s == StatusSharingServiceBusy:
		return "macOS's Internet Sharing service is busy starting or stopping another network: try again"
	case s == StatusInvalidArgument && e.Op == OpStart:
		return "vmnet refused the network's settings: the range must be private (RFC 1918) and not used by another network or interface on this Mac"
	case s == StatusInvalidArgument && e.Op == OpWrite:
		return "vmnet refused the frame"
	case s == StatusInvalidArgument:
		return "vmnet refused an argument"
	case s == StatusPacketTooBig:
		return "the frame is larger than the interface's max packet size"
	case s == StatusBufferExhausted:
		return "vmnet's buffers are full"
	case s == StatusTooManyPackets:
		return "more packets than vmnet takes in one call"
	case s == StatusMemFailure:
		return "vmnet ran out of memory"
	case s == StatusSetupIncomplete:
		return "the interface is not set up yet"
	case s == StatusFailure:
		return "vmnet failed"
	case s == statusNoAnswer:
		return "vmnet did not answer in time"
	}
	// Newer SDKs add VMNET_NOT_AUTHORIZED, whose value no source we
	// have states; it and any later code land here, by number.
	return "vmnet returned a status this version of Berth does not know"
}

// Is lets callers test the kind: api's sentinels for start and stop, this
// package's frame errors (which Pump acts on) for reads and writes.
func (e *Error) Is(target error) bool {
	s := e.Status
	switch target {
	case ErrBufferFull:
		return s == StatusBufferExhausted
	case ErrFrameTooLarge:
		return s == StatusPacketTooBig
	case ErrFrameRefused:
		return e.Op == OpWrite && (s == StatusInvalidArgument || s == StatusTooManyPackets)
	case api.ErrUnsupported:
		return s == StatusInvalidAccess
	case api.ErrInvalidArgument:
		return s == StatusInvalidArgument && e.Op == OpStart
	case api.ErrUnavailable:
		return s == StatusSharingServiceBusy || s == StatusMemFailure || s == StatusFailure || s == statusNoAnswer
	}
	return false
}

func (s Status) name() string {
	switch s {
	case StatusSuccess:
		return "VMNET_SUCCESS"
	case StatusFailure:
		return "VMNET_FAILURE"
	case StatusMemFailure:
		return "VMNET_MEM_FAILURE"
	case StatusInvalidArgument:
		return "VMNET_INVALID_ARGUMENT"
	case StatusSetupIncomplete:
		return "VMNET_SETUP_INCOMPLETE"
	case StatusInvalidAccess:
		return "VMNET_INVALID_ACCESS"
	case StatusPacketTooBig:
		return "VMNET_PACKET_TOO_BIG"
	case StatusBufferExhausted:
		return "VMNET_BUFFER_EXHAUSTED"
	case StatusTooManyPackets:
		return "VMNET_TOO_MANY_PACKETS"
	case StatusSharingServiceBusy:
		return "VMNET_SHARING_SERVICE_BUSY"
	case statusNoAnswer:
		return "no answer"
	}
	return fmt.Sprintf("status %d", uint32(s))
}
