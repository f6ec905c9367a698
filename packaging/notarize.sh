#!/usr/bin/env bash
# Notarize and staple a Developer-ID-signed Berth.app.
#
# usage: notarize.sh APP
# Needs: macOS with Xcode's notarytool, and a keychain profile made once with
#   xcrun notarytool store-credentials berth-notary --apple-id … --team-id … --password …
# (name it in $BERTH_NOTARY_PROFILE; default berth-notary). An ad-hoc signed
# app cannot be notarized: sign it with a Developer ID first (codesign.sh).
set -euo pipefail

app=${1:?usage: notarize.sh APP}
profile=${BERTH_NOTARY_PROFILE:-berth-notary}
if [[ $(uname -s) != Darwin ]]; then
  echo "notarize.sh: notarization needs macOS (xcrun notarytool)" >&2
  exit 1
fi
if codesign -dv "$app" 2>&1 | grep -q 'Signature=adhoc'; then
  echo "notarize.sh: $app is ad-hoc signed; sign it with a Developer ID: packaging/codesign.sh $app 'Developer ID Application: …'" >&2
  exit 1
fi
zip="$(dirname "$app")/Berth-notarize.zip"
rm -f "$zip"
ditto -c -k --keepParent "$app" "$zip"
xcrun notarytool submit "$zip" --keychain-profile "$profile" --wait
xcrun stapler staple "$app"
rm -f "$zip"
echo "notarized and stapled $app"
