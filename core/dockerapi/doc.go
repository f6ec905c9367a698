// Package dockerapi serves a slice of the Docker Engine API (versions
// 1.41 to 1.47) on the daemon's second socket, docker.sock, so that the
// docker CLI and SDKs drive Berth.
//
// It owns no state but docker's exec ids (the runtime runs an exec in
// one call, docker splits it into create, start and inspect): every
// request is mapped onto the core's own services (the container runtime,
// the image store, networks, volumes and the event bus, behind the small
// Containers, Images, Networks, Volumes and Events interfaces; exec and
// docker cp are the runtime's optional Execer and Archiver; image tag,
// history, prune, save, load and push the store's optional ImageTagger,
// ImageHistorian, ImagePruner, ImageArchiver and ImagePusher; system df
// is Config.DiskUsage), and every docker-shaped object (inspect, stats)
// is built by core/dockerapi/types from Berth's types. Actions publish
// their events in the runtime and the daemon, so docker events sees
// pause, rename, tag or push however they were asked for. Requests it
// does not implement
// get 501 with a message naming the endpoint, never a hang or a pretended
// success.
package dockerapi
