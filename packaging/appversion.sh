#!/usr/bin/env bash
# Berth.app's version numbers for Info.plist, from what git says about the
# build. Runs anywhere (bash 3.2 too, as macOS ships); tested on Linux.
#
# usage: appversion.sh short DESCRIBE          CFBundleShortVersionString
#        appversion.sh build DESCRIBE [COUNT]  CFBundleVersion
#   DESCRIBE  `git describe --tags --always --dirty`: v1.2.3, v1.2.3-4-gabc1234,
#             v1.2.3-dirty, or a bare commit hash when no tag is reachable
#   COUNT     `git rev-list --count HEAD`: the number of commits
#
# short: MAJOR[.MINOR[.PATCH]] of a release tag (vX.Y.Z, or X.Y without the
#   v), else 0.0.0. A commit hash is never a version, even an all-digit one
#   such as 1234567: without a v, a version needs a dot.
# build: COUNT, which grows with every commit as CFBundleVersion must, else
#   the short version.
set -euo pipefail

usage() {
  echo "usage: appversion.sh short DESCRIBE | build DESCRIBE [COUNT]" >&2
  exit 2
}

short() {
  local d=$1
  local with_v='^v([0-9]+(\.[0-9]+){0,2})([-+].*)?$'
  local without_v='^([0-9]+(\.[0-9]+){1,2})([-+].*)?$'
  if [[ $d =~ $with_v ]] || [[ $d =~ $without_v ]]; then
    echo "${BASH_REMATCH[1]}"
  else
    echo "0.0.0"
  fi
}

[[ $# -ge 1 ]] || usage
case "$1" in
  short)
    [[ $# -eq 2 ]] || usage
    short "$2"
    ;;
  build)
    [[ $# -eq 2 || $# -eq 3 ]] || usage
    count=${3:-}
    if [[ $count =~ ^[0-9]+$ ]] && [[ $count != 0 ]]; then
      echo "$count"
    else
      short "$2"
    fi
    ;;
  *) usage ;;
esac
