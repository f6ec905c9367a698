// vmnet.framework's classic interface API for vmnet_darwin.go: plain C
// with blocks (Apple's clang enables them). Each handler vmnet calls is a
// block here; the packets-available event reaches Go through the //export
// function berthVmnetPacketsAvailable, the completion handlers through
// dispatch semaphores the caller waits on. See vmnet_darwin.h.
//
// Nothing here can be compiled on Linux against Apple's headers; the
// package's test parses it with clang against stand-in declarations
// transcribed from them (testdata/darwin-include).

#include <dispatch/dispatch.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <vmnet/vmnet.h>
#include <xpc/xpc.h>

#include "vmnet_darwin.h"
#include "_cgo_export.h"

_Static_assert(sizeof(struct berth_pkt) == 24, "struct berth_pkt is pktDesc: 24 bytes");
_Static_assert(offsetof(struct berth_pkt, iov_len) == 8, "struct berth_pkt is pktDesc");
_Static_assert(offsetof(struct berth_pkt, iovcnt) == 16, "struct berth_pkt is pktDesc");
_Static_assert(offsetof(struct berth_pkt, flags) == 20, "struct berth_pkt is pktDesc");

struct berth_vmnet {
	interface_ref iface;
	dispatch_queue_t queue; // serial: every handler of this interface runs here
	int listening;
	// The read batch, one allocation: count descriptors, then their
	// iovecs, each over its own max_packet bytes of bufs.
	struct vmpktdesc *descs;
	struct iovec *iovs;
	unsigned char *bufs;
	int count;
	uint64_t max_packet;
};

static const char *key_name(int key) {
	switch (key) {
	case BERTH_KEY_OPERATION_MODE:
		return vmnet_operation_mode_key;
	case BERTH_KEY_START_ADDRESS:
		return vmnet_start_address_key;
	case BERTH_KEY_END_ADDRESS:
		return vmnet_end_address_key;
	case BERTH_KEY_SUBNET_MASK:
		return vmnet_subnet_mask_key;
	case BERTH_KEY_ALLOCATE_MAC:
		return vmnet_allocate_mac_address_key;
	}
	return NULL;
}

xpc_object_t berth_vmnet_desc_new(void) {
	return xpc_dictionary_create(NULL, NULL, 0);
}

int berth_vmnet_desc_set_uint64(xpc_object_t desc, int key, uint64_t value) {
	const char *k = key_name(key);
	if (k == NULL) {
		return -1;
	}
	xpc_dictionary_set_uint64(desc, k, value);
	return 0;
}

int berth_vmnet_desc_set_string(xpc_object_t desc, int key, const char *value) {
	const char *k = key_name(key);
	if (k == NULL) {
		return -1;
	}
	xpc_dictionary_set_string(desc, k, value);
	return 0;
}

int berth_vmnet_desc_set_bool(xpc_object_t desc, int key, int value) {
	const char *k = key_name(key);
	if (k == NULL) {
		return -1;
	}
	xpc_dictionary_set_bool(desc, k, value != 0);
	return 0;
}

void berth_vmnet_desc_free(xpc_object_t desc) {
	xpc_release(desc);
}

static dispatch_time_t after(int64_t timeout_ns) {
	return dispatch_time(DISPATCH_TIME_NOW, timeout_ns);
}

static void copy_string(char *dst, size_t size, xpc_object_t dict, const char *key) {
	const char *s = xpc_dictionary_get_string(dict, key);
	snprintf(dst, size, "%s", s != NULL ? s : "");
}

// What a completion handler leaves for its waiter. It lives on the heap:
// when the wait times out the handler may still run later, so it (and its
// semaphore) are then left allocated for it rather than freed under it.
struct answer {
	dispatch_semaphore_t done;
	vmnet_return_t status;
	struct berth_vmnet_params params;
};

static struct answer *answer_new(void) {
	struct answer *a = calloc(1, sizeof *a);
	if (a != NULL) {
		a->done = dispatch_semaphore_create(0);
	}
	return a;
}

static void answer_free(struct answer *a) {
	dispatch_release(a->done);
	free(a);
}

// berth_vmnet_start starts an interface described by desc and waits for
// vmnet's completion handler, at most timeout_ns. It returns NULL with the
// reason in out->status (0: no answer in time).
struct berth_vmnet *berth_vmnet_start(xpc_object_t desc, int64_t timeout_ns, struct berth_vmnet_params *out) {
	memset(out, 0, sizeof *out);
	struct berth_vmnet *v = calloc(1, sizeof *v);
	struct answer *a = answer_new();
	if (v == NULL || a == NULL) {
		free(v);
		if (a != NULL) {
			answer_free(a);
		}
		out->status = VMNET_MEM_FAILURE;
		return NULL;
	}
	v->queue = dispatch_queue_create("com.berthvm.vmnet", DISPATCH_QUEUE_SERIAL);
	v->iface = vmnet_start_interface(desc, v->queue, ^(vmnet_return_t status, xpc_object_t param) {
		a->params.status = status;
		if (status == VMNET_SUCCESS && param != NULL) {
			a->params.mtu = xpc_dictionary_get_uint64(param, vmnet_mtu_key);
			a->params.max_packet_size = xpc_dictionary_get_uint64(param, vmnet_max_packet_size_key);
#ifdef __MAC_15_0
			if (__builtin_available(macOS 15.0, *)) {
				a->params.read_max_packets = xpc_dictionary_get_uint64(param, vmnet_read_max_packets_key);
				a->params.write_max_packets = xpc_dictionary_get_uint64(param, vmnet_write_max_packets_key);
			}
#endif
			copy_string(a->params.mac, sizeof a->params.mac, param, vmnet_mac_address_key);
			copy_string(a->params.start_address, sizeof a->params.start_address, param, vmnet_start_address_key);
			copy_string(a->params.end_address, sizeof a->params.end_address, param, vmnet_end_address_key);
			copy_string(a->params.subnet_mask, sizeof a->params.subnet_mask, param, vmnet_subnet_mask_key);
		}
		dispatch_semaphore_signal(a->done);
	});
	if (dispatch_semaphore_wait(a->done, after(timeout_ns)) != 0) {
		// No answer: a, v and the queue stay for the handler that may
		// still run (a leak, once, on a Mac whose vmnet is stuck).
		out->status = 0;
		return NULL;
	}
	*out = a->params;
	answer_free(a);
	if (out->status != VMNET_SUCCESS || v->iface == NULL) {
		if (out->status == VMNET_SUCCESS) {
			out->status = VMNET_FAILURE;
		}
		dispatch_release(v->queue);
		free(v);
		return NULL;
	}
	return v;
}

// berth_vmnet_alloc makes the read batch: count packets of max_packet
// bytes. The iovecs are bound to their buffers once; the sizes are set
// before every read (berth_vmnet_read).
int berth_vmnet_alloc(struct berth_vmnet *v, int count, uint64_t max_packet) {
	if (count <= 0 || max_packet == 0) {
		return -1;
	}
	void *descs = calloc((size_t)count, sizeof(struct vmpktdesc) + sizeof(struct iovec));
	unsigned char *bufs = calloc((size_t)count, (size_t)max_packet);
	if (descs == NULL || bufs == NULL) {
		free(descs);
		free(bufs);
		return -1;
	}
	v->descs = descs;
	v->iovs = (struct iovec *)(v->descs + count);
	v->bufs = bufs;
	v->count = count;
	v->max_packet = max_packet;
	for (int i = 0; i < count; i++) {
		v->iovs[i].iov_base = bufs + (size_t)i * (size_t)max_packet;
		v->descs[i].vm_pkt_iov = &v->iovs[i];
	}
	return 0;
}

// berth_vmnet_listen has vmnet call Go (berthVmnetPacketsAvailable, with
// handle) whenever packets arrive.
uint32_t berth_vmnet_listen(struct berth_vmnet *v, uintptr_t handle) {
	vmnet_return_t st = vmnet_interface_set_event_callback(v->iface, VMNET_INTERFACE_PACKETS_AVAILABLE, v->queue,
		^(interface_event_t mask, xpc_object_t event) {
			if ((mask & VMNET_INTERFACE_PACKETS_AVAILABLE) == 0) {
				return;
			}
			uint64_t n = 0;
			if (event != NULL) {
				n = xpc_dictionary_get_uint64(event, vmnet_estimated_packets_available_key);
			}
			berthVmnetPacketsAvailable(handle, n);
		});
	if (st == VMNET_SUCCESS) {
		v->listening = 1;
	}
	return st;
}

// berth_vmnet_read applies pkts to the first *count descriptors, reads,
// and returns each packet's length in pkts[i].size.
uint32_t berth_vmnet_read(struct berth_vmnet *v, struct berth_pkt *pkts, int *count) {
	if (*count < 0 || *count > v->count) {
		return VMNET_TOO_MANY_PACKETS;
	}
	for (int i = 0; i < *count; i++) {
		if (pkts[i].iov_len > v->max_packet || pkts[i].iovcnt != 1) {
			return VMNET_INVALID_ARGUMENT;
		}
		v->descs[i].vm_pkt_size = (size_t)pkts[i].size;
		v->descs[i].vm_pkt_iovcnt = pkts[i].iovcnt;
		v->descs[i].vm_flags = pkts[i].flags;
		v->iovs[i].iov_len = (size_t)pkts[i].iov_len;
	}
	vmnet_return_t st = vmnet_read(v->iface, v->descs, count);
	if (st == VMNET_SUCCESS) {
		for (int i = 0; i < *count; i++) {
			pkts[i].size = v->descs[i].vm_pkt_size;
		}
	}
	return st;
}

void *berth_vmnet_packet(struct berth_vmnet *v, int i) {
	return v->bufs + (size_t)i * (size_t)v->max_packet;
}

// berth_vmnet_write writes one frame. frame is the caller's memory (a Go
// slice) and is not kept: vmnet_write copies it before returning.
uint32_t berth_vmnet_write(struct berth_vmnet *v, void *frame, const struct berth_pkt *pkt) {
	struct iovec iov = {.iov_base = frame, .iov_len = (size_t)pkt->iov_len};
	struct vmpktdesc d = {
		.vm_pkt_size = (size_t)pkt->size,
		.vm_pkt_iov = &iov,
		.vm_pkt_iovcnt = pkt->iovcnt,
		.vm_flags = pkt->flags,
	};
	int count = 1;
	return vmnet_write(v->iface, &d, &count);
}

// berth_vmnet_stop stops events, then the interface, waiting for vmnet's
// completion handler at most timeout_ns, and frees v. After it returns no
// event callback runs, so Go may delete the callback's handle.
uint32_t berth_vmnet_stop(struct berth_vmnet *v, int64_t timeout_ns) {
	if (v->listening) {
		vmnet_interface_set_event_callback(v->iface, VMNET_INTERFACE_PACKETS_AVAILABLE, NULL, NULL);
		// A callback already queued or running finishes before this.
		dispatch_sync(v->queue, ^{
		});
		v->listening = 0;
	}
	struct answer *a = answer_new();
	if (a == NULL) {
		return VMNET_MEM_FAILURE;
	}
	vmnet_return_t st = vmnet_stop_interface(v->iface, v->queue, ^(vmnet_return_t status) {
		a->status = status;
		dispatch_semaphore_signal(a->done);
	});
	if (st == VMNET_SUCCESS) {
		if (dispatch_semaphore_wait(a->done, after(timeout_ns)) != 0) {
			return 0; // no answer: a and v stay for the handler
		}
		st = a->status;
	}
	answer_free(a);
	free(v->descs);
	free(v->bufs);
	dispatch_release(v->queue);
	free(v);
	return st;
}
