#!/usr/bin/env bash
# Run every Go fuzz target of the module for a while each (make fuzz).
# Targets run one at a time with one worker, so the machine stays usable;
# each prints how many inputs it tried, how many new-coverage inputs it
# found, and whether it found a crash (whose input Go writes to the
# package's testdata/fuzz/<target>/: commit it with the fix, as a
# regression seed).
#
# usage: fuzz.sh [GO] [FUZZTIME] [PACKAGES]    (defaults: go, 1m, ./...)
set -uo pipefail

go=${1:-go}
fuzztime=${2:-1m}
read -r -a packages <<<"${3:-./...}"
cd "$(dirname "$0")/.." || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

mapfile -t pkgs < <("$go" list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' "${packages[@]}" | grep .)
total=0
crashes=0
for pkg in "${pkgs[@]}"; do
  mapfile -t targets < <("$go" test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz')
  for t in "${targets[@]}"; do
    total=$((total + 1))
    # Minimizing each new input for Go's default of up to a minute
    # stalls the targets whose inputs are slow (an image load, an ext4
    # build): 10 s keeps them searching.
    "$go" test -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" -fuzzminimizetime 10s -parallel 1 "$pkg" >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    found=$(grep -o 'new interesting: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f3)
    if [[ $rc -eq 0 ]]; then
      printf '%-22s %-45s %10s execs %6s new  no crash\n' "$t" "$pkg" "${execs:-?}" "${found:-?}"
      continue
    fi
    crashes=$((crashes + 1))
    input=$(grep -o 'testdata/fuzz/[^ ]*' "$log" | tail -n 1)
    printf '%-22s %-45s %10s execs %6s new  CRASH %s\n' "$t" "$pkg" "${execs:-?}" "${found:-?}" "${input:-(no input written: see below)}"
    grep -v '^fuzz: elapsed' "$log" | head -n 40 | sed 's/^/    /'
  done
done
echo "fuzz: $total targets, $fuzztime each, $crashes crashed"
[[ $crashes -eq 0 ]]
