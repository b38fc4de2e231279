#!/bin/sh
# Queries against the local index of the host's real Debian sources, next to apt on the same
# machine: `nip search` vs `apt-cache search`, `nip info` vs `apt-cache policy`, and the plan of a
# 10-package install (`nip install --dry-run`) vs `apt-get install -s`. One `nip update` first
# (timed, once); then the median of RUNS runs of each, whole commands with node's start-up.
# Only the debian source is enabled. Not a test. Needs apt-cache and apt-get.
#   bench/query.sh [RUNS]     (default 5)
set -eu
RUNS=${1:-5}
HERE=$(cd "$(dirname "$0")/.." && pwd)
NIP="node $HERE/packages/cli/bin/run.js"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[ -f "$HERE/packages/cli/dist/index.js" ] || (cd "$HERE" && npm run build >/dev/null)
R="$WORK/root"; mkdir -p "$R"
CONF="$WORK/nip.conf"
printf '[gobo]\nenabled = false\n[nix]\nenabled = false\n[pkgsrc]\nenabled = false\n[pacman]\nenabled = false\n[gentoo]\nenabled = false\n' > "$CONF"
PKGS="jq tree curl git zstd htop rsync tmux vim-tiny less"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
timed() { # FILE CMD...: append the seconds CMD took
  out=$1; shift
  t0=$(now); "$@" >/dev/null 2>&1 || true; t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}' >> "$out"
}

t0=$(now); $NIP --root "$R" --config "$CONF" update --quiet >/dev/null 2>&1 || true; t1=$(now)
printf 'nip update (first, parses every index): %.2fs\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')"
for f in ns as ni ap nd ag; do : > "$WORK/$f.t"; done
i=0
while [ "$i" -lt "$RUNS" ]; do
  timed "$WORK/ns.t" $NIP --root "$R" --config "$CONF" search jq
  timed "$WORK/as.t" apt-cache search jq
  timed "$WORK/ni.t" $NIP --root "$R" --config "$CONF" info jq
  timed "$WORK/ap.t" apt-cache policy jq
  timed "$WORK/nd.t" $NIP --root "$R" --config "$CONF" install $PKGS --dry-run
  timed "$WORK/ag.t" apt-get install -s $PKGS
  i=$((i + 1))
done
row() { printf '%-28s %6.2fs   %-26s %6.2fs   ratio %.2fx\n' "$1" "$2" "$3" "$4" "$(awk -v a="$2" -v b="$4" 'BEGIN {print a / b}')"; }
row 'nip search jq' "$(median < "$WORK/ns.t")" 'apt-cache search jq' "$(median < "$WORK/as.t")"
row 'nip info jq' "$(median < "$WORK/ni.t")" 'apt-cache policy jq' "$(median < "$WORK/ap.t")"
row 'nip install (10) --dry-run' "$(median < "$WORK/nd.t")" 'apt-get install -s (10)' "$(median < "$WORK/ag.t")"
