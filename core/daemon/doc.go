// Package daemon is the core service: it owns a data dir (its database,
// its socket, later its VMs), and serves the Berth API over HTTP/JSON on a
// unix socket to the CLI and the menu-bar app; on a second socket,
// docker.sock, it serves the Docker Engine API (core/dockerapi) over the
// same services.
//
// daemon.go holds the lifecycle (claim the data dir, listen, serve, clean
// up); http.go the small handler framework (JSON replies, NDJSON progress
// streams, errors mapped to status codes); one file per API area holds its
// routes. Decisions about containers, images and VMs live in their own core
// packages; this package only wires them to the socket.
package daemon
