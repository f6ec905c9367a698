#!/usr/bin/env bash
# Assemble Berth.app from built binaries. Runs anywhere (it only copies and
# edits text), so its layout is tested on Linux; signing is codesign.sh.
#
# usage: bundle.sh -o OUT_DIR -v VERSION -b BERTH_BIN [-m MENUBAR_BIN] [-a AGENT_BIN]...
#   BERTH_BIN    the berth CLI and daemon (darwin)           -> Contents/Resources/bin/berth
#   MENUBAR_BIN  the menu-bar app (darwin)                   -> Contents/MacOS/Berth (default: BERTH_BIN)
#   AGENT_BIN    guest agents, named berth-agent-linux-<arch> -> Contents/Resources/
#
# Layout (APFS is case-insensitive by default, so "Berth" and "berth" cannot
# both live in Contents/MacOS):
#   Berth.app/Contents/Info.plist
#   Berth.app/Contents/MacOS/Berth                  menu-bar app (CFBundleExecutable)
#   Berth.app/Contents/Resources/bin/berth          CLI + daemon; link it into PATH
#   Berth.app/Contents/Resources/berth-agent-linux-arm64
set -euo pipefail

out="" version="" berth="" menubar="" agents=()
while getopts "o:v:b:m:a:" opt; do
  case "$opt" in
    o) out=$OPTARG ;;
    v) version=$OPTARG ;;
    b) berth=$OPTARG ;;
    m) menubar=$OPTARG ;;
    a) agents+=("$OPTARG") ;;
    *) echo "usage: $0 -o OUT_DIR -v VERSION -b BERTH_BIN [-m MENUBAR_BIN] [-a AGENT_BIN]..." >&2; exit 2 ;;
  esac
done
if [[ -z $out || -z $version || -z $berth ]]; then
  echo "bundle.sh: -o, -v and -b are required" >&2
  exit 2
fi
[[ -n $menubar ]] || menubar=$berth
if [[ ! $version =~ ^[0-9]+(\.[0-9]+){0,2}$ ]]; then
  echo "bundle.sh: version '$version' must be numeric like 1.2.3 (CFBundleShortVersionString)" >&2
  exit 2
fi
for f in "$berth" "$menubar" ${agents[@]+"${agents[@]}"}; do
  [[ -f $f ]] || { echo "bundle.sh: $f does not exist; build it first (make build)" >&2; exit 1; }
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
app="$out/Berth.app"
tmp="$out/.Berth.app.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/Contents/MacOS" "$tmp/Contents/Resources/bin"

sed -e "s|<string>0.0.0</string>|<string>$version</string>|g" "$root/Info.plist" > "$tmp/Contents/Info.plist"
printf 'APPL????' > "$tmp/Contents/PkgInfo"
install -m 0755 "$menubar" "$tmp/Contents/MacOS/Berth"
install -m 0755 "$berth" "$tmp/Contents/Resources/bin/berth"
for a in ${agents[@]+"${agents[@]}"}; do
  install -m 0755 "$a" "$tmp/Contents/Resources/$(basename "$a")"
done

# Replace the old bundle only once the new one is complete.
rm -rf "$app"
mv "$tmp" "$app"
echo "bundled $app (version $version)"
