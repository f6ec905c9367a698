// Package state owns Berth's database: one bbolt file per data dir, opened
// by exactly one process (the core). It documents the schema (schema.go),
// migrates it forward in numbered steps (migrations.go), and offers typed
// accessors inside transactions so callers never see bolt's types.
//
// It maps bolt's failures to core/api sentinels: a data dir held by another
// daemon is api.ErrUnavailable, a missing record api.ErrNotFound, a record
// that does not decode api.ErrCorrupt. It must not know about VMs, images on
// disk or HTTP: those packages keep their records here, nothing more.
package state
