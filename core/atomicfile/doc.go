// Package atomicfile replaces files so that a crash at any moment leaves
// either the old content or the new, never a mix or a truncated file:
// write a temp file beside the target, sync it, rename it over the
// target, sync the directory so the rename itself is durable.
//
// It owns the temp file's name (TempPrefix: dot-prefixed, so listings of
// caches and stores skip it, and stores can sweep what a crash left) and
// nothing else: no locking (concurrent writers of one path each win in
// turn, last rename last), no directories renamed into place, no resumable
// downloads.
package atomicfile
