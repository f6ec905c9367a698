// Package volume owns Berth's named volumes, as docker users know them:
// each is a sparse ext4 disk image Berth makes (cloned from the same
// formatted template as a container's writable disk: no mkfs binary) at
// core/paths.VolumeDisk, recorded in core/state. It creates, lists,
// inspects, removes and prunes them, and gives the runtime what a
// container's volume mounts need (Ensure, Claim).
//
// Which containers use a volume is read from the containers' records,
// never kept here; a volume in use is never removed, forced or not. A disk
// is written under a temp name and renamed, then recorded; removal deletes
// the record, then the files; what a crash leaves between the two steps is
// swept when the Manager opens.
//
// It must not attach disks to VMs or mount them: that is the runtime's and
// the guest's work.
package volume
