// Package archive is what berth cp moves: tar streams of files and
// folders (modes, numeric owners, mtimes, symbolic and hard links kept),
// written and extracted the same way on both ends of a copy, the guest
// agent inside a container's root and the berth CLI on the host, with
// docker's path rules (PlanCopy) deciding where a copy lands.
//
// Every path is resolved inside a root, as a chrooted process would see
// it (InRoot): symbolic links, in the destination or in the archive
// itself, never lead a write out of the root. It uses archive/tar and the
// OS, nothing else of Berth but core/api's types: the guest's PID 1 links
// it, so it must stay small, and it must not know about containers, the
// daemon or the protocol.
package archive
