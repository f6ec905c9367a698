// Package types holds the Docker Engine API's JSON shapes that Berth
// serves, and pure functions that build them from Berth's own types
// (core/api): ContainerJSON from an api.Container and its image's config,
// ImageInspect from an api.ImageDetail.
//
// It lives under core/dockerapi, not in core/api, because these shapes are
// Docker's wire contract, not Berth's: `berth inspect` prints them today,
// and the Docker Engine API server (core/dockerapi) serves the same
// values on /containers/{id}/json and /images/{name}/json. It is a leaf
// package (it imports only core/api and the standard library) so that the
// CLI can use it without the server, and it does no I/O: everything it
// needs is passed in.
//
// Field names and JSON keys are Docker's, so that docker templates such as
// {{.State.Status}} or {{json .NetworkSettings}} work. Facts Docker has no
// field for (the VM's resources, its console, Berth's finer states) are kept
// in a Berth sub-object instead of being dropped.
package types
