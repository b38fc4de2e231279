#!/bin/sh
# nip grafting a large real .deb vs `dpkg-deb -x` of the same file and vs `dpkg --root … -i`;
# a fresh root each run, median of RUNS runs each, printed as ratios. Not a test. Needs apt-get
# (to download the package from the host's configured sources), dpkg and dpkg-deb.
#   bench/debian.sh [RUNS] [PACKAGE]     (defaults: 5, golang-1.19-src: 18 MB, ~13,000 files, no Depends)
set -eu
RUNS=${1:-5}
PKG=${2:-golang-1.19-src}
HERE=$(cd "$(dirname "$0")/.." && pwd)
NIP="node $HERE/packages/cli/bin/run.js"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[ -f "$HERE/packages/cli/dist/index.js" ] || (cd "$HERE" && npm run build >/dev/null)

(cd "$WORK" && apt-get download "$PKG" >/dev/null 2>&1) || { echo "cannot download $PKG with apt-get" >&2; exit 1; }
deb=$(ls "$WORK"/*.deb)
entries=$(dpkg-deb -c "$deb" | wc -l)
printf '%s: %s bytes, %s entries\n' "$(basename "$deb")" "$(stat -c %s "$deb")" "$entries"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
: > "$WORK/nip.t"; : > "$WORK/x.t"; : > "$WORK/dpkg.t"
i=0
while [ "$i" -lt "$RUNS" ]; do
  R="$WORK/nip-root"; rm -rf "$R"
  t0=$(now); $NIP --root "$R" install "$deb" --yes --quiet >/dev/null; t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}' >> "$WORK/nip.t"
  X="$WORK/x"; rm -rf "$X"; sync
  t0=$(now); dpkg-deb -x "$deb" "$X"; t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}' >> "$WORK/x.t"
  D="$WORK/dpkg-root"; rm -rf "$D"; mkdir -p "$D/var/lib/dpkg/info" "$D/var/lib/dpkg/updates"; : > "$D/var/lib/dpkg/status"; sync
  t0=$(now); dpkg --root="$D" --log=/dev/null --force-not-root -i "$deb" >/dev/null; t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}' >> "$WORK/dpkg.t"
  i=$((i + 1))
done
n=$(median < "$WORK/nip.t"); x=$(median < "$WORK/x.t"); d=$(median < "$WORK/dpkg.t")
printf 'nip install      %7.2fs\ndpkg-deb -x      %7.2fs   nip/dpkg-deb -x = %.2fx\ndpkg --root -i   %7.2fs   nip/dpkg -i     = %.2fx\n' \
  "$n" "$x" "$(awk -v a="$n" -v b="$x" 'BEGIN {print a / b}')" "$d" "$(awk -v a="$n" -v b="$d" 'BEGIN {print a / b}')"
