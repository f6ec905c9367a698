#!/usr/bin/env bash
# Assemble Berth.app from built binaries. Runs anywhere (it only copies and
# edits text; bash 3.2 too, as macOS ships), so its layout is tested on
# Linux; signing is codesign.sh.
#
# usage: bundle.sh -o OUT_DIR -v VERSION [-n BUILD] -b BERTH_BIN [-a AGENT_BIN]...
#   VERSION      CFBundleShortVersionString, 1 to 3 numbers (appversion.sh short)
#   BUILD        CFBundleVersion, 1 to 3 numbers (appversion.sh build); default VERSION
#   BERTH_BIN    the berth binary (darwin): CLI, daemon, VM host and menu bar
#                -> Contents/MacOS/Berth (CFBundleExecutable)
#   AGENT_BIN    guest agents, named berth-agent-linux-<arch> -> Contents/Resources/
#
# Layout. One binary, one signature, one entitlement: the main executable
# is berth itself, which runs the menu bar when LaunchServices opens the
# app (app/berth/launch.go) and berth commands otherwise. Code lives in
# Contents/MacOS only (codesign seals anything else as data); "berth"
# cannot sit beside "Berth" in Contents/MacOS because APFS is
# case-insensitive by default, so the CLI's name is a link in Helpers:
#   Berth.app/Contents/Info.plist
#   Berth.app/Contents/MacOS/Berth                  berth: menu bar (opened as the app), CLI, daemon, `berth vm-host`, `berth net-host`
#   Berth.app/Contents/Helpers/berth -> ../MacOS/Berth   the CLI's name; link it into PATH
#   Berth.app/Contents/Resources/berth-agent-linux-arm64   guest agent (Linux ELF: data to macOS)
#
# It refuses a BERTH_BIN without the menu bar (opened from the Finder, its
# app would show nothing) or without the VM host. A darwin binary cannot be
# run here, so it looks for the functions' names, which Go keeps in every
# binary (its function table, even with -ldflags=-s -w) for the code that
# is linked: ui/menubar's (*App).Run, vz.MaybeRunHost and nethost.MaybeRun
# (the network processes). That says the
# code is in the binary, not that it works.
set -euo pipefail

usage="usage: bundle.sh -o OUT_DIR -v VERSION [-n BUILD] -b BERTH_BIN [-a AGENT_BIN]..."
out="" version="" build="" berth="" agents=()
while getopts "o:v:n:b:m:a:" opt; do
  case "$opt" in
    o) out=$OPTARG ;;
    v) version=$OPTARG ;;
    n) build=$OPTARG ;;
    b) berth=$OPTARG ;;
    m) echo "bundle.sh: -m is gone: Berth.app's main executable is the berth binary itself (-b), which runs the menu bar when opened as the app" >&2; exit 2 ;;
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
for f in "$berth" ${agents[@]+"${agents[@]}"}; do
  [[ -f $f ]] || { echo "bundle.sh: $f does not exist; build it first (make build)" >&2; exit 1; }
done
# links reports whether the binary holds the code of the Go function named
# $2 (see the header).
links() { LC_ALL=C grep -q -a -F "$2" "$1"; }
if ! links "$berth" 'github.com/berthvm/berth/core/hypervisor/vz.MaybeRunHost'; then
  echo "bundle.sh: $berth is not a berth binary that hosts VMs (no vz.MaybeRunHost in it); build it from ./app/berth for darwin (make app)" >&2
  exit 1
fi
if ! links "$berth" 'github.com/berthvm/berth/core/network/nethost.MaybeRun'; then
  echo "bundle.sh: $berth does not carry networks (no nethost.MaybeRun in it); build it from ./app/berth for darwin (make app)" >&2
  exit 1
fi
if ! links "$berth" 'github.com/berthvm/berth/ui/menubar.(*App).Run'; then
  echo "bundle.sh: $berth has no menu bar (ui/menubar's App.Run is not in it): refusing to make a Berth.app that shows nothing when opened" >&2
  echo "bundle.sh: build berth for darwin with cgo from ./app/berth (make app), whose \`berth menubar\` runs it" >&2
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
install -m 0755 "$berth" "$tmp/Contents/MacOS/Berth"
ln -s ../MacOS/Berth "$tmp/Contents/Helpers/berth"
for a in ${agents[@]+"${agents[@]}"}; do
  install -m 0755 "$a" "$tmp/Contents/Resources/$(basename "$a")"
done

# Replace the old bundle only once the new one is complete.
rm -rf "$app"
mv "$tmp" "$app"
echo "bundled $app (version $version, build $build)"
