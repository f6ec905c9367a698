// Package dockercontext writes and removes a context in the docker CLI's
// context store, so that `docker --context berth` (or `docker context use
// berth`) reaches Berth's docker.sock without DOCKER_HOST.
//
// It writes the store's files itself rather than running `docker context
// create`: one code path whether or not the docker CLI is installed, and
// one that does not depend on the CLI's version. The store's layout has
// been stable since docker 19.03: under the config dir ($DOCKER_CONFIG,
// else ~/.docker), contexts/meta/<hex sha256 of the name>/meta.json holds
// {"Name", "Metadata": {"Description"}, "Endpoints": {"docker": {"Host",
// "SkipTLSVerify"}}}, and contexts/tls/<same digest>/ the endpoint's TLS
// files, which a unix socket has none of. It does not touch config.json:
// which context is current stays the user's choice.
package dockercontext
