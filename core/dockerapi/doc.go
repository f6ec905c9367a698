// Package dockerapi serves a slice of the Docker Engine API (versions
// 1.41 to 1.47) on the daemon's second socket, docker.sock, so that the
// docker CLI and SDKs drive Berth.
//
// It owns no state: every request is mapped onto the core's own services
// (the container runtime and the image store, behind the small Containers
// and Images interfaces), and every docker-shaped object is built by
// core/dockerapi/types from Berth's types. Requests it does not implement
// get 501 with a message naming the endpoint, never a hang or a pretended
// success.
package dockerapi
