// The C side of vmnet_darwin.go (vmnet_darwin.c): vmnet.framework's classic
// interface API, whose completion and event handlers are blocks, which Go
// cannot make. Every decision (what the description holds, how descriptors
// are set, what a status means) is the Go code's; this only translates.

#ifndef BERTH_VMNET_DARWIN_H
#define BERTH_VMNET_DARWIN_H

#include <stdint.h>
#include <xpc/xpc.h>

// Keys of the interface description, numbered as config.go's xpcKey.
enum {
	BERTH_KEY_OPERATION_MODE = 1, // vmnet_operation_mode_key
	BERTH_KEY_START_ADDRESS = 2,  // vmnet_start_address_key
	BERTH_KEY_END_ADDRESS = 3,    // vmnet_end_address_key
	BERTH_KEY_SUBNET_MASK = 4,    // vmnet_subnet_mask_key
	BERTH_KEY_ALLOCATE_MAC = 5,   // vmnet_allocate_mac_address_key
};

// What one struct vmpktdesc and its one iovec hold before a vmnet call:
// iface.go's pktDesc, field for field.
struct berth_pkt {
	uint64_t size;    // vm_pkt_size
	uint64_t iov_len; // vm_pkt_iov[0].iov_len
	uint32_t iovcnt;  // vm_pkt_iovcnt
	uint32_t flags;   // vm_flags
};

// What vmnet_start_interface's completion handler reported.
struct berth_vmnet_params {
	uint32_t status; // vmnet_return_t; 0: no answer in time
	uint64_t mtu;
	uint64_t max_packet_size;
	uint64_t read_max_packets;  // 0 before macOS 15
	uint64_t write_max_packets; // 0 before macOS 15
	char mac[32];
	char start_address[64];
	char end_address[64];
	char subnet_mask[64];
};

// A started interface, its dispatch queue and its read buffers.
struct berth_vmnet;

xpc_object_t berth_vmnet_desc_new(void);
int berth_vmnet_desc_set_uint64(xpc_object_t desc, int key, uint64_t value);
int berth_vmnet_desc_set_string(xpc_object_t desc, int key, const char *value);
int berth_vmnet_desc_set_bool(xpc_object_t desc, int key, int value);
void berth_vmnet_desc_free(xpc_object_t desc);

struct berth_vmnet *berth_vmnet_start(xpc_object_t desc, int64_t timeout_ns, struct berth_vmnet_params *out);
int berth_vmnet_alloc(struct berth_vmnet *v, int count, uint64_t max_packet);
uint32_t berth_vmnet_listen(struct berth_vmnet *v, uintptr_t handle);
uint32_t berth_vmnet_read(struct berth_vmnet *v, struct berth_pkt *pkts, int *count);
void *berth_vmnet_packet(struct berth_vmnet *v, int i);
uint32_t berth_vmnet_write(struct berth_vmnet *v, void *frame, const struct berth_pkt *pkt);
uint32_t berth_vmnet_stop(struct berth_vmnet *v, int64_t timeout_ns);

#endif
