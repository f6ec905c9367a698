#!/usr/bin/env bash
# Sign Berth.app: one binary, so one signature. The bundle's main
# executable, Contents/MacOS/Berth, is the berth binary (packaging/bundle.sh):
# the menu bar, the CLI, the daemon and every VM host (`berth vm-host
# RUN_DIR`, core/hypervisor/vz), so the one virtualization entitlement
# covers them all. It is signed with the bundle, under the app's
# identifier (com.berthvm.Berth); Contents/Helpers/berth is a symlink to it,
# which the bundle's seal records as a link, not code to sign.
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
main="$app/Contents/MacOS/Berth"
helper="$app/Contents/Helpers/berth"

if [[ $(uname -s) != Darwin ]]; then
  echo "codesign.sh: code signing needs macOS (codesign); on $(uname -s) only the bundle can be assembled" >&2
  exit 1
fi
[[ -d $app/Contents/MacOS ]] || { echo "codesign.sh: $app is not an app bundle; run make app" >&2; exit 1; }
[[ -f $main ]] || { echo "codesign.sh: $main is missing; run make app (packaging/bundle.sh)" >&2; exit 1; }
if [[ ! -L $helper || $(readlink "$helper") != ../MacOS/Berth ]]; then
  echo "codesign.sh: $helper must be a link to ../MacOS/Berth; run make app (packaging/bundle.sh)" >&2
  exit 1
fi

opts=(--force --entitlements "$ent" --sign "$identity")
if [[ $identity != "-" ]]; then
  opts+=(--options runtime --timestamp)
fi
codesign "${opts[@]}" "$app"
codesign --verify --deep --strict --verbose=2 "$app"
echo "signed $app with identity '$identity'"
