package state

// The schema, as a tree. Update it with every change and add a migration.
//
//	meta/                          bucket: facts about the database itself
//	  schema-version -> uint64     big-endian; the last migration applied
//	  host-id        -> string     random id made when the data dir was first used
//	  created        -> string     RFC 3339 time of that first use
//	settings/                      bucket: user settings (`berth system ...`)
//	  <key>          -> JSON       one value per setting
//	containers/                    bucket (v2): one record per container
//	  <id>           -> JSON       ContainerRecord: api.Container + the VM handle
//	container-names/               bucket (v2): the unique-name index
//	  <name>         -> <id>
//	images/                        bucket (v3): images in the content store
//	  <manifest digest> -> JSON    state.Image; blobs live in core/image's OCI layout
//	image-names/                   bucket (v3): references to images
//	  <reference>    -> JSON       state.ImageName; normalized, "docker.io/library/alpine:3"
//	networks/                      bucket (v4): one record per network
//	  <id>           -> JSON       NetworkRecord: api.Network + its network process's handle
//	network-names/                 bucket (v4): the unique-name index
//	  <name>         -> <id>
//	volumes/                       bucket (v5): one record per named volume
//	  <name>         -> JSON       VolumeRecord: api.Volume without UsedBy; its disk is
//	                               core/paths.VolumeDisk (<data>/volumes/<name>/disk.ext4)
//	volume-names/                  bucket (v5): names folded to lower case, so that two
//	  <lower(name)>  -> <name>     volumes never share a folder on a case-insensitive disk
//
// Which containers use a volume is never stored: it is read from the
// containers' records (Spec.Mounts of type volume whose Source is its name)
// in the transaction that needs it, so it cannot drift.
//
// A container's addresses (one per network, with its MAC) live in its own
// record (api.Container.Networks): allocated at create or connect, freed
// with it.
//
// Keys are plain UTF-8 strings; values are JSON unless noted, so that a
// record can gain fields without a migration (unknown fields are ignored,
// missing ones take their zero value). A change that needs existing records
// rewritten, or a new bucket, gets a migration.

const (
	bucketMeta     = "meta"
	bucketSettings = "settings"

	bucketContainers     = "containers"
	bucketContainerNames = "container-names"

	bucketImages     = "images"
	bucketImageNames = "image-names"

	bucketNetworks     = "networks"
	bucketNetworkNames = "network-names"

	bucketVolumes     = "volumes"
	bucketVolumeNames = "volume-names"

	keySchemaVersion = "schema-version"
	keyHostID        = "host-id"
	keyCreated       = "created"
)
