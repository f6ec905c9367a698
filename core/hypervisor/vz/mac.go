package vz

import (
	"crypto/sha256"
	"encoding/binary"
	"net"
)

// DeriveMAC returns the MAC address of NIC index of the VM (container) id:
// a locally administered unicast address (first octet x2, x6, xA or xE),
// the same for the same id every time, so a container keeps its address
// across restarts and the runtime can store it with the container (and
// give it to the agent, which finds the NIC by it). Different ids get
// different addresses but for a 2^-46 chance.
func DeriveMAC(id string, index int) string {
	h := sha256.New()
	h.Write([]byte("berth-mac\x00"))
	h.Write([]byte(id))
	var ix [8]byte
	binary.BigEndian.PutUint64(ix[:], uint64(index))
	h.Write(ix[:])
	sum := h.Sum(nil)
	mac := net.HardwareAddr(sum[:6])
	// Bit 1 of the first octet: locally administered; bit 0: multicast.
	mac[0] = mac[0]&^0x01 | 0x02
	return mac.String()
}
