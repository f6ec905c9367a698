#!/usr/bin/env bash
# Sign Berth.app: the nested helper first, then the bundle (which signs
# its main executable, Contents/MacOS/Berth), each with the virtualization
# entitlement. VMs are created by per-VM host processes, which are
# Contents/Helpers/berth itself started as `berth vm-host RUN_DIR` by the
# daemon (core/hypervisor/vz), so that one binary carries the entitlement
# for the daemon and every VM. It is signed with its own identifier
# (com.berthvm.berth), apart from the app's (com.berthvm.Berth).
#
# usage: codesign.sh APP [IDENTITY]
#   IDENTITY  "-" (ad-hoc, the default: runs on this Mac only) or a
#             "Developer ID Application: …" identity for distribution, which
#             also turns on the hardened runtime and a secure timestamp, as
#             notarization requires. Also read from $BERTH_SIGN_IDENTITY.
# Guest agents (Linux ELF files in Contents/Resources) are data to macOS
# and are sealed by the bundle signature, not signed themselves.
set -euo pipefail

app=${1:?usage: codesign.sh APP [IDENTITY]}
identity=${2:-${BERTH_SIGN_IDENTITY:--}}
here=$(cd "$(dirname "$0")" && pwd)
ent="$here/../resources/berth.entitlements"
helper="$app/Contents/Helpers/berth"

if [[ $(uname -s) != Darwin ]]; then
  echo "codesign.sh: code signing needs macOS (codesign); on $(uname -s) only the bundle can be assembled" >&2
  exit 1
fi
[[ -d $app/Contents/MacOS ]] || { echo "codesign.sh: $app is not an app bundle; run make app" >&2; exit 1; }
[[ -f $helper ]] || { echo "codesign.sh: $helper is missing; run make app (packaging/bundle.sh)" >&2; exit 1; }

opts=(--force --entitlements "$ent" --sign "$identity")
if [[ $identity != "-" ]]; then
  opts+=(--options runtime --timestamp)
fi
codesign "${opts[@]}" --identifier com.berthvm.berth "$helper"
codesign "${opts[@]}" "$app"
codesign --verify --deep --strict --verbose=2 "$app"
echo "signed $app with identity '$identity'"
