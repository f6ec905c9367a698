#!/usr/bin/env bash
# Assemble Berth.app from built binaries. Runs anywhere (it only copies and
# edits text; bash 3.2 too, as macOS ships), so its layout is tested on
# Linux; signing is codesign.sh.
#
# usage: bundle.sh -o OUT_DIR -v VERSION [-n BUILD] -b BERTH_BIN -m MENUBAR_BIN [-a AGENT_BIN]...
#   VERSION      CFBundleShortVersionString, 1 to 3 numbers (appversion.sh short)
#   BUILD        CFBundleVersion, 1 to 3 numbers (appversion.sh build); default VERSION
#   BERTH_BIN    the berth CLI, daemon and VM host (darwin) -> Contents/Helpers/berth
#   MENUBAR_BIN  the menu-bar app (darwin)                  -> Contents/MacOS/Berth
#   AGENT_BIN    guest agents, named berth-agent-linux-<arch> -> Contents/Resources/
#
# Layout. Code lives in Contents/MacOS and Contents/Helpers only (codesign
# seals anything else as data); "berth" cannot sit beside "Berth" in
# Contents/MacOS because APFS is case-insensitive by default:
#   Berth.app/Contents/Info.plist
#   Berth.app/Contents/MacOS/Berth                  menu-bar app (CFBundleExecutable)
#   Berth.app/Contents/Helpers/berth                CLI + daemon + `berth vm-host`; link it into PATH
#   Berth.app/Contents/Resources/berth-agent-linux-arm64   guest agent (Linux ELF: data to macOS)
#
# It refuses to make a Berth.app whose main executable is the berth CLI:
# opened from the Finder, such an app shows nothing.
set -euo pipefail

usage="usage: bundle.sh -o OUT_DIR -v VERSION [-n BUILD] -b BERTH_BIN -m MENUBAR_BIN [-a AGENT_BIN]..."
out="" version="" build="" berth="" menubar="" agents=()
while getopts "o:v:n:b:m:a:" opt; do
  case "$opt" in
    o) out=$OPTARG ;;
    v) version=$OPTARG ;;
    n) build=$OPTARG ;;
    b) berth=$OPTARG ;;
    m) menubar=$OPTARG ;;
    a) agents+=("$OPTARG") ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
if [[ -z $out || -z $version || -z $berth ]]; then
  echo "bundle.sh: -o, -v and -b are required" >&2
  echo "$usage" >&2
  exit 2
fi
[[ -n $build ]] || build=$version
numeric='^[0-9]+(\.[0-9]+){0,2}$'
if [[ ! $version =~ $numeric ]]; then
  echo "bundle.sh: version '$version' must be numeric like 1.2.3 (CFBundleShortVersionString); packaging/appversion.sh derives it from git" >&2
  exit 2
fi
if [[ ! $build =~ $numeric ]]; then
  echo "bundle.sh: build number '$build' must be numeric like 452 or 1.2.3 (CFBundleVersion)" >&2
  exit 2
fi
if [[ -z $menubar ]]; then
  echo "bundle.sh: the Berth menu bar is not built yet (no -m MENUBAR_BIN): refusing to make a Berth.app whose main executable would only run the berth CLI, which shows nothing when opened" >&2
  echo "bundle.sh: until the menu bar exists, use the berth CLI: on a Mac, make build signs .build/berth for this Mac" >&2
  exit 1
fi
for f in "$berth" "$menubar" ${agents[@]+"${agents[@]}"}; do
  [[ -f $f ]] || { echo "bundle.sh: $f does not exist; build it first (make build)" >&2; exit 1; }
done
if [[ $menubar -ef $berth ]] || cmp -s "$menubar" "$berth"; then
  echo "bundle.sh: the menu-bar app $menubar is the berth CLI ($berth); Berth.app's main executable must be the menu-bar app, refusing to make Berth.app" >&2
  exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
app="$out/Berth.app"
tmp="$out/.Berth.app.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/Contents/MacOS" "$tmp/Contents/Helpers" "$tmp/Contents/Resources"

# The version keys are found by name (BSD and GNU sed alike), then checked.
sed -e '/<key>CFBundleShortVersionString<\/key>/{' -e 'n' -e "s|<string>[^<]*</string>|<string>$version</string>|" -e '}' \
    -e '/<key>CFBundleVersion<\/key>/{' -e 'n' -e "s|<string>[^<]*</string>|<string>$build</string>|" -e '}' \
    "$root/Info.plist" > "$tmp/Contents/Info.plist"
for want in "<string>$version</string>" "<string>$build</string>"; do
  grep -qF "$want" "$tmp/Contents/Info.plist" || { echo "bundle.sh: could not set $want in Info.plist" >&2; rm -rf "$tmp"; exit 1; }
done
printf 'APPL????' > "$tmp/Contents/PkgInfo"
install -m 0755 "$menubar" "$tmp/Contents/MacOS/Berth"
install -m 0755 "$berth" "$tmp/Contents/Helpers/berth"
for a in ${agents[@]+"${agents[@]}"}; do
  install -m 0755 "$a" "$tmp/Contents/Resources/$(basename "$a")"
done

# Replace the old bundle only once the new one is complete.
rm -rf "$app"
mv "$tmp" "$app"
echo "bundled $app (version $version, build $build)"
