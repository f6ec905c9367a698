package vmnet

// The cgo side of vmnet_darwin.c. It only translates: the description's
// entries (config.go), the descriptors' values (iface.go), what a status
// means (status.go) and the batch size are decided by portable code that
// the Linux tests run. What is here is type-checked on Linux (make
// darwin-check), never run there.

/*
#cgo LDFLAGS: -framework vmnet
#include <stdlib.h>
#include "vmnet_darwin.h"
*/
import "C"

import (
	"context"
	"fmt"
	"runtime/cgo"
	"time"
	"unsafe"
)

const (
	// startTimeout bounds the wait for vmnet_start_interface's handler
	// when ctx has no deadline (it answers in well under a second when
	// it answers at all).
	startTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
)

// Start starts a vmnet interface (vmnet_start_interface) described by cfg
// and returns it as a Port. It needs root before macOS 26 (see
// Available). The interface's limits are read from what vmnet reports
// (Params); Close stops it.
func Start(ctx context.Context, cfg Config) (*Interface, error) {
	entries, err := cfg.entries()
	if err != nil {
		return nil, err
	}
	timeout := startTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if err := ctx.Err(); err != nil || timeout <= 0 {
		return nil, fmt.Errorf("vmnet: start a %s interface: %w", cfg.Mode, context.DeadlineExceeded)
	}

	desc := C.berth_vmnet_desc_new()
	defer C.berth_vmnet_desc_free(desc)
	for _, e := range entries {
		if err := setEntry(desc, e); err != nil {
			return nil, err
		}
	}
	var out C.struct_berth_vmnet_params
	v := C.berth_vmnet_start(desc, C.int64_t(timeout), &out)
	if v == nil {
		return nil, fmt.Errorf("%w%s", statusError(OpStart, Status(out.status)), describeRange(cfg))
	}
	p := Params{
		MTU:             uint64(out.mtu),
		MaxPacketSize:   uint64(out.max_packet_size),
		ReadMaxPackets:  uint64(out.read_max_packets),
		WriteMaxPackets: uint64(out.write_max_packets),
		MAC:             C.GoString(&out.mac[0]),
		StartAddress:    C.GoString(&out.start_address[0]),
		EndAddress:      C.GoString(&out.end_address[0]),
		SubnetMask:      C.GoString(&out.subnet_mask[0]),
	}
	dev := &cgoDevice{v: v}
	fail := func(err error) (*Interface, error) {
		_ = dev.stop()
		return nil, err
	}
	if err := p.check(); err != nil {
		return fail(err)
	}
	if C.berth_vmnet_alloc(v, C.int(batchSize(p)), C.uint64_t(p.MaxPacketSize)) != 0 {
		return fail(fmt.Errorf("vmnet: no memory for %d packets of %d bytes", batchSize(p), p.MaxPacketSize))
	}
	i, err := newInterface(dev, p)
	if err != nil {
		return fail(err)
	}
	dev.handle = cgo.NewHandle(i)
	if err := statusError(OpEvents, Status(C.berth_vmnet_listen(v, C.uintptr_t(dev.handle)))); err != nil {
		return fail(err)
	}
	return i, nil
}

func describeRange(cfg Config) string {
	if !cfg.StartAddress.IsValid() {
		return fmt.Sprintf(" (a %s network)", cfg.Mode)
	}
	return fmt.Sprintf(" (a %s network, %s-%s mask %s)", cfg.Mode, cfg.StartAddress, cfg.EndAddress, cfg.SubnetMask)
}

// setEntry is one xpc_dictionary_set_* call.
func setEntry(desc C.xpc_object_t, e xpcEntry) error {
	var rc C.int
	switch e.Kind {
	case xpcUint64:
		rc = C.berth_vmnet_desc_set_uint64(desc, C.int(e.Key), C.uint64_t(e.Uint))
	case xpcString:
		s := C.CString(e.Str)
		rc = C.berth_vmnet_desc_set_string(desc, C.int(e.Key), s)
		C.free(unsafe.Pointer(s))
	case xpcBool:
		b := C.int(0)
		if e.Bool {
			b = 1
		}
		rc = C.berth_vmnet_desc_set_bool(desc, C.int(e.Key), b)
	default:
		rc = -1
	}
	if rc != 0 {
		return fmt.Errorf("vmnet: the description's %s: the C side does not know it", e.Key)
	}
	return nil
}

// cgoDevice is the device of a started interface.
type cgoDevice struct {
	v      *C.struct_berth_vmnet
	handle cgo.Handle // the event callback's way back to the Interface; 0 until listening
}

func (d *cgoDevice) read(ds []pktDesc) (int, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	n := C.int(len(ds))
	st := Status(C.berth_vmnet_read(d.v, (*C.struct_berth_pkt)(unsafe.Pointer(&ds[0])), &n))
	if err := statusError(OpRead, st); err != nil {
		return 0, err
	}
	return int(n), nil
}

func (d *cgoDevice) packet(i, n int) []byte {
	return unsafe.Slice((*byte)(C.berth_vmnet_packet(d.v, C.int(i))), n)
}

func (d *cgoDevice) write(frame []byte, pd pktDesc) error {
	st := Status(C.berth_vmnet_write(d.v, unsafe.Pointer(&frame[0]), (*C.struct_berth_pkt)(unsafe.Pointer(&pd))))
	return statusError(OpWrite, st)
}

func (d *cgoDevice) stop() error {
	st := Status(C.berth_vmnet_stop(d.v, C.int64_t(stopTimeout)))
	// berth_vmnet_stop has drained the event callbacks even when the
	// stop itself went unanswered: nothing uses the handle any more.
	if d.handle != 0 {
		d.handle.Delete()
		d.handle = 0
	}
	return statusError(OpStop, st)
}

// berthVmnetPacketsAvailable is vmnet's event callback, on the
// interface's dispatch queue. A panic must not unwind into it.
//
//export berthVmnetPacketsAvailable
func berthVmnetPacketsAvailable(h C.uintptr_t, n C.uint64_t) {
	defer func() { _ = recover() }()
	_ = n // an estimate; ReadFrame reads until vmnet has none
	if i, ok := cgo.Handle(h).Value().(*Interface); ok {
		i.packetsAvailable()
	}
}
