#!/usr/bin/env bash
# GC benchmark (not a test). Builds a store of 20,000 one-file programs through nip's own API
# (bench/gc.mjs: core with an in-memory source), makes 200 of them garbage (1%) and times gc in
# several rounds (each round's garbage spread over the whole store), then the same 200 garbage
# programs in a 2,000-program store: gc's cost should follow the garbage, so only the store's
# size differs between the two. Two nip figures per store:
#   - in-process: the whole of nip.gc() as `nip gc` runs it after opening the store (lock, DB,
#     recovery, select, register, trees, blobs, commit, close), timed in a fresh node process;
#   - CLI: the wall time of `node packages/cli/bin/run.js gc --root …` on the same store, which
#     adds node's start and oclif's command loading (shown separately below).
# Where nix-store is installed, it times `nix-store --gc` (wall time, median of the rounds) on a
# chroot Nix store (--store local?root=DIR: the host's /nix is never touched) holding the same
# number of paths, each a directory with bin/<name> like a nip program, 1% of them unrooted.
# Targets: nix-store / nip >= 20x at 20,000 paths; nip's 20,000 time within 1.5x of its 2,000 time.
# Usage: bench/gc.sh [large=20000] [small=2000] [rounds=5]
set -euo pipefail
cd "$(dirname "$0")/.."
LARGE=${1:-20000}
SMALL=${2:-2000}
ROUNDS=${3:-5}
CLI_ROUNDS=3
[ -f packages/cli/dist/topLevel.js ] || node_modules/.bin/tsc -b

field() { node -e 'const o = JSON.parse(process.argv[1]); const v = o[process.argv[2]]; console.log(Array.isArray(v) ? v.join(" ") : v)' "$1" "$2"; }
median_ms() { tr ' ' '\n' | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

GARBAGE=$((LARGE / 100))
echo "building a store of $LARGE programs, $ROUNDS + $CLI_ROUNDS gc rounds of $GARBAGE garbage…" >&2
big=$(node bench/gc.mjs "$LARGE" "$GARBAGE" "$ROUNDS" "$CLI_ROUNDS")
echo "building a store of $SMALL programs, $ROUNDS + $CLI_ROUNDS gc rounds of $GARBAGE garbage…" >&2
small=$(node bench/gc.mjs "$SMALL" "$GARBAGE" "$ROUNDS" "$CLI_ROUNDS")
start_ms() { local s; s=$(date +%s%N); "$@" > /dev/null; echo $(( ($(date +%s%N) - s) / 1000000 )); }
node_start=$(for _ in 1 2 3; do start_ms node -e 0; done | tr '\n' ' ' | median_ms)
cli_start=$(for _ in 1 2 3; do start_ms node packages/cli/bin/run.js --version; done | tr '\n' ' ' | median_ms)

nip_big=$(field "$big" gcMs)
nip_small=$(field "$small" gcMs)
echo
echo "nip gc, in-process (median of $ROUNDS rounds; all rounds in brackets):"
printf '  %6d programs, %4d garbage: %8.1f ms  [%s]\n' "$LARGE" "$GARBAGE" "$nip_big" "$(field "$big" gcRuns)"
printf '  %6d programs, %4d garbage: %8.1f ms  [%s]\n' "$SMALL" "$GARBAGE" "$nip_small" "$(field "$small" gcRuns)"
echo "nip gc, CLI wall time (node packages/cli/bin/run.js gc --root …, median of $CLI_ROUNDS):"
printf '  %6d programs, %4d garbage: %8.1f ms  [%s]\n' "$LARGE" "$GARBAGE" "$(field "$big" cliMs)" "$(field "$big" cliRuns)"
printf '  %6d programs, %4d garbage: %8.1f ms  [%s]\n' "$SMALL" "$GARBAGE" "$(field "$small" cliMs)" "$(field "$small" cliRuns)"
echo "  (of which process start: node -e 0 takes $node_start ms, nip --version $cli_start ms on this machine)"

nix_ms=""
if command -v nix-store >/dev/null 2>&1; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/nip-bench-nix-XXXXXX")
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  store="local?root=$work/store"
  echo >&2
  echo "adding $LARGE paths to a chroot Nix store…" >&2
  mkdir -p "$work/src" "$work/roots"
  node -e '
    const fs = require("fs"), path = require("path"); const [dir, n] = [process.argv[1], Number(process.argv[2])]
    for (let i = 0; i < n; i++) {
      fs.mkdirSync(path.join(dir, `p${i}`, "bin"), { recursive: true })
      fs.writeFileSync(path.join(dir, `p${i}`, "bin", `p${i}`), `program p${i}\n`, { mode: 0o755 })
    }
  ' "$work/src" "$LARGE"
  # Add in chunks (argument lists), then root every path but the garbage ones (every 100th).
  ls "$work/src" | sort -V | sed "s|^|$work/src/|" | xargs -n 2000 nix-store --store "$store" --add > "$work/paths" 2> "$work/add.err"
  i=0
  : > "$work/garbage"
  while read -r p; do
    if [ $((i % 100)) -ne 0 ] || [ $i -ge $((GARBAGE * 100)) ]; then ln -s "$p" "$work/store/nix/var/nix/gcroots/r$i"; else echo "$work/src/p$i" >> "$work/garbage"; fi
    i=$((i + 1))
  done < "$work/paths"
  runs=()
  for r in $(seq 1 "$ROUNDS"); do
    # From the second round on, add the collected paths again (same content, same store paths).
    [ "$r" -eq 1 ] || xargs nix-store --store "$store" --add < "$work/garbage" > /dev/null 2>> "$work/add.err"
    sync
    start=$(date +%s%N)
    nix-store --store "$store" --gc > "$work/gc.out" 2>&1
    runs+=($(( ($(date +%s%N) - start) / 1000000 )))
  done
  nix_ms=$(echo "${runs[*]}" | median_ms)
  left=$(ls "$work/store/nix/store" | grep -vc '^\.' || true)
  echo "nix-store --gc, wall time (median of $ROUNDS rounds):"
  printf '  %6d paths,    %4d garbage: %8.1f ms  [%s] (%s paths left)\n' "$LARGE" "$GARBAGE" "$nix_ms" "${runs[*]}" "$left"
else
  echo "(nix-store not installed: Nix comparison skipped)"
fi

echo
node -e '
  const [big, small, nix, cliBig, large, smallN] = process.argv.slice(1).map(Number)
  console.log(`ratio 1: nip ${large}-program gc / ${smallN}-program gc (in-process): ${(big / small).toFixed(2)}x (target <= 1.5x)`)
  if (nix) {
    console.log(`ratio 2: nix-store --gc / nip gc at ${large} paths (in-process): ${(nix / big).toFixed(1)}x (target >= 20x)`)
    console.log(`         nix-store --gc / nip gc at ${large} paths (CLI wall time, node start included): ${(nix / cliBig).toFixed(1)}x`)
  }
' "$nip_big" "$nip_small" "${nix_ms:-0}" "$(field "$big" cliMs)" "$LARGE" "$SMALL"
