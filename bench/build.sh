#!/bin/sh
# nip build hello (bubblewrap sandbox, fresh root, sources already cached) against the same
# `./configure && make -jN && make install DESTDIR=…` run directly on the host from the same
# tarball, then a second `nip build hello` with the same fingerprint (nothing to build: the
# program is already grafted) and a `nip build` of a removed program whose fingerprint is stored
# (grafted from the store without building). Median of RUNS runs each. Not a test.
# With PODMAN_SOCKET (and PODMAN_IMAGE, default localhost/nip-build:bookworm) set, the same build
# also runs in the Podman executor (docs/build.md says how to make the image and start the socket).
#   bench/build.sh [RUNS]      (default 3)
# Needs bwrap, a C toolchain and the Debian mirror of the host's apt sources.
set -eu
RUNS=${1:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
NIP="node $HERE/packages/cli/bin/run.js"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[ -f "$HERE/packages/cli/dist/bundle/main.js" ] || (cd "$HERE" && npm run build >/dev/null)
JOBS=$(nproc)

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {print b - a}'; }

# One build to fill a source cache that every later root shares (the download is not measured).
SEED="$WORK/seed"
$NIP --root "$SEED" build hello --yes --quiet >/dev/null
TARBALL=$(ls "$SEED"/var/nip/cache/build/sources/*hello-2.10.tar.gz)
echo "source: $(basename "$TARBALL") ($(sha256sum "$TARBALL" | cut -c1-16)…), jobs: $JOBS"

: > "$WORK/nip.t"; : > "$WORK/host.t"; : > "$WORK/again.t"; : > "$WORK/stored.t"; : > "$WORK/podman.t"
i=0
while [ "$i" -lt "$RUNS" ]; do
  R="$WORK/root-$i"
  mkdir -p "$R/var/nip/cache/build/sources" "$R/etc/nip"
  cp "$TARBALL" "$R/var/nip/cache/build/sources/"
  printf '[build]\njobs = %s\n' "$JOBS" > "$R/etc/nip/nip.conf"
  sync
  t0=$(now); $NIP --root "$R" build hello --yes --quiet >/dev/null; t1=$(now)
  elapsed "$t0" "$t1" >> "$WORK/nip.t"

  H="$WORK/host-$i"; mkdir -p "$H/src" "$H/dest"; sync
  t0=$(now)
  (cd "$H/src" && tar -xf "$TARBALL" --strip-components=1 && ./configure --prefix=/Programs/hello/2.10 --disable-silent-rules --enable-nls >/dev/null 2>&1 \
    && make -j"$JOBS" >/dev/null 2>&1 && make install DESTDIR="$H/dest" >/dev/null 2>&1)
  t1=$(now)
  elapsed "$t0" "$t1" >> "$WORK/host.t"

  t0=$(now); $NIP --root "$R" build hello --yes --quiet >/dev/null; t1=$(now)
  elapsed "$t0" "$t1" >> "$WORK/again.t"

  $NIP --root "$R" remove hello --yes --quiet >/dev/null
  t0=$(now); $NIP --root "$R" build hello --yes --quiet >/dev/null; t1=$(now)
  elapsed "$t0" "$t1" >> "$WORK/stored.t"

  if [ -n "${PODMAN_SOCKET:-}" ]; then
    P="$WORK/podman-$i"
    mkdir -p "$P/var/nip/cache/build/sources" "$P/etc/nip"
    cp "$TARBALL" "$P/var/nip/cache/build/sources/"
    printf '[build]\njobs = %s\nexecutor = "podman"\npodman-socket = "%s"\nimage = "%s"\n' "$JOBS" "$PODMAN_SOCKET" "${PODMAN_IMAGE:-localhost/nip-build:bookworm}" > "$P/etc/nip/nip.conf"
    sync
    t0=$(now); $NIP --root "$P" build hello --yes --quiet >/dev/null; t1=$(now)
    elapsed "$t0" "$t1" >> "$WORK/podman.t"
  fi
  i=$((i + 1))
done
n=$(median < "$WORK/nip.t"); h=$(median < "$WORK/host.t"); a=$(median < "$WORK/again.t"); s=$(median < "$WORK/stored.t")
printf 'nip build hello (sandbox, graft)     %7.2fs\nconfigure/make/install on the host    %7.2fs   nip/host = %.2fx\nnip build hello again (grafted)       %7.2fs\nnip build hello (removed, stored)     %7.2fs\n' \
  "$n" "$h" "$(awk -v a="$n" -v b="$h" 'BEGIN {print a / b}')" "$a" "$s"
if [ -s "$WORK/podman.t" ]; then
  p=$(median < "$WORK/podman.t")
  printf 'nip build hello --container (Podman) %7.2fs   podman/bwrap = %.2fx\n' "$p" "$(awk -v a="$p" -v b="$n" 'BEGIN {print a / b}')"
fi
