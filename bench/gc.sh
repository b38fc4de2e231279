#!/usr/bin/env bash
# GC benchmark (not a test). Builds a store of 20,000 small programs with 1% garbage through
# nip's own API (bench/gc.mjs: core with an in-memory source) and prints the `nip gc` time, then
# the same for 2,000 programs with the same garbage (the same 200 programs, 10% there): gc's cost
# should follow the garbage, so only the store's size differs between the two runs. Where
# nix-store is installed, it also times `nix-store --gc` on a chroot Nix store (--store local?root=DIR, the host's /nix is never
# touched) holding the same number of paths, 1% of them unrooted. The closing note gives both
# ratios (targets: nip >= 20x faster than Nix at 20,000; nip's 20,000 time within 1.5x of 2,000).
# Usage: bench/gc.sh [large=20000] [small=2000]
set -euo pipefail
cd "$(dirname "$0")/.."
LARGE=${1:-20000}
SMALL=${2:-2000}
[ -f packages/core/dist/index.js ] || node_modules/.bin/tsc -b packages/core packages/testing

field() { node -e 'const o = JSON.parse(process.argv[1]); console.log(o[process.argv[2]])' "$1" "$2"; }

GARBAGE=$((LARGE / 100))
echo "building a store of $LARGE programs ($GARBAGE garbage)…" >&2
big=$(node bench/gc.mjs "$LARGE" "$GARBAGE")
echo "building a store of $SMALL programs ($GARBAGE garbage)…" >&2
small=$(node bench/gc.mjs "$SMALL" "$GARBAGE")
nip_big=$(field "$big" gcMs)
nip_small=$(field "$small" gcMs)
printf 'nip gc, %6d programs, %4d garbage: %8.1f ms\n' "$LARGE" "$(field "$big" garbage)" "$nip_big"
printf 'nip gc, %6d programs, %4d garbage: %8.1f ms\n' "$SMALL" "$(field "$small" garbage)" "$nip_small"

nix_ms=""
if command -v nix-store >/dev/null 2>&1; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/nip-bench-nix-XXXXXX")
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  store="local?root=$work/store"
  echo "adding $LARGE paths to a chroot Nix store…" >&2
  mkdir -p "$work/src" "$work/roots"
  garbage=$((LARGE / 100))
  node -e '
    const fs = require("fs"), path = require("path"); const [dir, n] = [process.argv[1], Number(process.argv[2])]
    for (let i = 0; i < n; i++) fs.writeFileSync(path.join(dir, `p${i}`), `program p${i}\n`)
  ' "$work/src" "$LARGE"
  # Add in chunks (argument lists), then root every path but the garbage ones.
  ls "$work/src" | sort -V | sed "s|^|$work/src/|" | xargs -n 2000 nix-store --store "$store" --add > "$work/paths"
  keep=$((LARGE - garbage))
  i=0
  while read -r p; do
    if [ $((i % 100)) -ne 0 ] || [ $i -ge $((garbage * 100)) ]; then ln -s "$p" "$work/store/nix/var/nix/gcroots/r$i"; fi
    i=$((i + 1))
  done < "$work/paths"
  start=$(date +%s%N)
  nix-store --store "$store" --gc > "$work/gc.out" 2>&1
  nix_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  left=$(ls "$work/store/nix/store" | grep -vc '^\.' || true)
  printf 'nix-store --gc, %6d paths, %4d garbage: %8d ms (%s paths left)\n' "$LARGE" "$garbage" "$nix_ms" "$left"
else
  echo "(nix-store not installed: Nix comparison skipped)"
fi

node -e '
  const [big, small, nix] = process.argv.slice(1).map(Number)
  const scale = big / small
  console.log(`nip ${process.argv[4]}-program gc is ${scale.toFixed(2)}x its ${process.argv[5]}-program time (target <= 1.5x)`)
  if (nix) console.log(`nix-store --gc / nip gc at ${process.argv[4]} paths: ${(nix / big).toFixed(1)}x (target >= 20x)`)
' "$nip_big" "$nip_small" "${nix_ms:-0}" "$LARGE" "$SMALL"
