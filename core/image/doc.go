// Package image owns Berth's images: a content store (an OCI image layout
// under <home>/content whose blobs are stored once by digest and shared by
// every image), the image records and names kept in core/state, and the
// verbs on them: pull and push (any OCI/Docker registry, with platform
// selection, credentials, retries and per-layer progress), load (docker
// save tarballs, OCI archives and layout directories, gzip or not), save (a
// docker-load tarball), tag, remove, prune with garbage collection, and
// registry login/logout.
//
// Every blob is written to a temp file in the store's own filesystem,
// verified against its digest, then renamed into place; records land in one
// state transaction; a failed operation removes the blobs it added. So an
// interrupted pull or load leaves the store as it was and can be retried.
//
// When an image arrives its read-only base disk is built by core/rootfs
// (<home>/rootfs/<hex>.ext4) so the first run does not wait for it.
//
// It must not know about containers or VMs: whether an image is in use is
// asked through the InUse function the runtime supplies. It never prints;
// progress goes to an api.ProgressFunc and diagnostics to log/slog.
package image
