#!/usr/bin/env bash
# Graft benchmark (not a test). Generates a 5,000-file / ~200 MB GoboLinux package, then prints:
#   1. nip install of it into a fresh root   vs  tar -x of the same archive (median of N runs)
#   2. CAS hashing throughput                vs  b3sum (bench/hash.mjs)
#   3. nip --version start-up time
# Usage: bench/graft.sh [runs=3] [files=5000] [total-MiB=200]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
FILES=${2:-5000}
TOTAL_MIB=${3:-200}
NIP="node packages/cli/bin/run.js"
[ -f packages/cli/dist/index.js ] || npm run build >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/nip-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
tree="$work/tree/Bench/1.0"
mkdir -p "$tree/bin" "$tree/share/bench" "$tree/lib" "$tree/Resources" "$work/repo"
printf '[Name] Bench\n[Summary] benchmark payload\n' > "$tree/Resources/Description"
: > "$tree/Resources/Dependencies"

# FILES files whose sizes sum to TOTAL_MIB: random bytes from one big pool, cut into pieces.
echo "generating $FILES files, ${TOTAL_MIB} MiB…" >&2
head -c $((TOTAL_MIB * 1024 * 1024)) /dev/urandom > "$work/pool"
node -e '
const fs = require("fs"), path = require("path")
const [pool, dir, n] = [process.argv[1], process.argv[2], Number(process.argv[3])]
const buf = fs.readFileSync(pool); const per = Math.floor(buf.length / n)
for (let i = 0; i < n; i++) {
  const sub = i < 20 ? "bin" : i < 500 ? "lib" : "share/bench/" + (i % 50)
  fs.mkdirSync(path.join(dir, sub), { recursive: true })
  const f = path.join(dir, sub, "f" + i)
  fs.writeFileSync(f, buf.subarray(i * per, (i + 1) * per))
  if (sub === "bin") fs.chmodSync(f, 0o755)
}' "$work/pool" "$tree" "$FILES"
rm "$work/pool"
archive="$work/repo/Bench--1.0--noarch.tar.zst"
tar -C "$work/tree" --zstd -cf "$archive" Bench
echo "archive: $(du -h "$archive" | cut -f1), $(tar --zstd -tf "$archive" | wc -l) entries" >&2

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

tar_times=()
nip_times=()
for i in $(seq 1 "$RUNS"); do
  out="$work/tar-$i"; mkdir -p "$out"; sync
  t0=$(now); tar -C "$out" --zstd -xf "$archive"; t1=$(now)
  tar_times+=($(( (t1 - t0) / 1000000 )))
  rm -rf "$out"

  root="$work/root-$i"; mkdir -p "$root/etc/nip"
  printf '[gobo]\nrepositories = ["%s"]\n' "$work/repo" > "$root/etc/nip/nip.conf"
  sync
  t0=$(now); HOME="$work" $NIP install bench --yes --quiet --root "$root" >/dev/null; t1=$(now)
  nip_times+=($(( (t1 - t0) / 1000000 )))
  [ -e "$root/Programs/Bench/1.0/bin/f0" ] || { echo "nip did not graft the package" >&2; exit 1; }
  rm -rf "$root"
done
tar_ms=$(printf '%s\n' "${tar_times[@]}" | median)
nip_ms=$(printf '%s\n' "${nip_times[@]}" | median)

v_times=()
for i in $(seq 1 10); do
  t0=$(now); $NIP --version >/dev/null; t1=$(now)
  v_times+=($(( (t1 - t0) / 1000000 )))
done
v_ms=$(printf '%s\n' "${v_times[@]}" | median)

echo
echo "== graft: $FILES files, ${TOTAL_MIB} MiB, zstd (median of $RUNS) =="
printf '  tar -x            %6d ms\n' "$tar_ms"
printf '  nip install       %6d ms   (ratio nip/tar = %s; includes start-up, resolve, verify, CAS, DB, links)\n' "$nip_ms" "$(awk "BEGIN {printf \"%.2f\", $nip_ms/$tar_ms}")"
echo
echo "== hashing =="
node bench/hash.mjs 512M | sed 's/^/  /'
echo
echo "== start-up =="
printf '  nip --version     %6d ms (median of 10)\n' "$v_ms"
