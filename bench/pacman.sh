#!/bin/sh
# nip install vs pacman -U --root on the same generated package file; a fresh root each run,
# median of RUNS runs each, printed as a ratio. Not a test. Needs pacman, bsdtar, zstd, gzip.
#   bench/pacman.sh [RUNS]     (default 5)
#
# Nothing is deleted between timed runs: every run gets a new root, and all of them go at exit.
# On ext4 without a journal the inode allocator skips inodes freed in the last minute or so,
# one by one, so a run started right after deleting the previous run's root (150,000 inodes for
# nip's 50,000-file root) spends most of its time in that scan, and the deletion before one
# tool's run would be billed to the other. Likewise every timed run starts after `sync`: the
# previous run's 100–200 MB of dirty pages are written back before, not during, the next one
# (pacman's 200 MB run: 0.74 s without it in earlier sessions, 0.31–0.33 s with it).
set -eu
RUNS=${1:-5}
HERE=$(cd "$(dirname "$0")/.." && pwd)
NIP="node $HERE/packages/cli/bin/run.js"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/trash"

# make_pkg NAME FILES TOTAL_MB: a pacman package with .PKGINFO and a real .MTREE.
make_pkg() {
  name=$1 files=$2 mb=$3
  d="$WORK/$name.src"
  mkdir -p "$d/usr/share/$name"
  per=$(( mb * 1024 * 1024 / files ))
  node -e '
    const fs = require("fs"), crypto = require("crypto")
    const [dir, n, per] = [process.argv[1], +process.argv[2], +process.argv[3]]
    for (let i = 0; i < n; i++) {
      const sub = `${dir}/d${i % 100}`
      if (i < 100) fs.mkdirSync(sub, { recursive: true })
      fs.writeFileSync(`${sub}/f${i}`, crypto.randomBytes(per))
    }' "$d/usr/share/$name" "$files" "$per"
  size=$(du -sb "$d" | cut -f1)
  printf 'pkgname = %s\npkgbase = %s\npkgver = 1.0-1\npkgdesc = bench\nbuilddate = 0\npackager = bench\nsize = %s\narch = x86_64\n' "$name" "$name" "$size" > "$d/.PKGINFO"
  (cd "$d" && LANG=C bsdtar -czf .MTREE --format=mtree --options='!all,use-set,type,uid,gid,mode,time,size,sha256,link' .PKGINFO usr)
  (cd "$d" && LANG=C bsdtar -cf - .MTREE .PKGINFO usr | zstd -q -T0 -o "$WORK/$name-1.0-1-x86_64.pkg.tar.zst")
  mv "$d" "$WORK/trash/"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }

bench_one() {
  pkg="$WORK/$1-1.0-1-x86_64.pkg.tar.zst"
  : > "$WORK/nip.t"; : > "$WORK/pacman.t"
  i=0
  while [ $i -lt "$RUNS" ]; do
    R="$WORK/nip-root-$1-$i"; mkdir -p "$R/etc/nip"
    printf '[pacman]\nuse-host-config = false\n' > "$R/etc/nip/nip.conf"
    # Each timed run starts with nothing dirty: the previous run's writeback is not billed to it.
    sync; sleep 2
    t0=$(now); $NIP --root "$R" install --source pacman "$pkg" --yes --quiet >/dev/null; t1=$(now)
    echo "$t1 - $t0" | bc >> "$WORK/nip.t"
    P="$WORK/pacman-root-$1-$i"; mkdir -p "$P/var/lib/pacman"
    printf '[options]\nSigLevel = Never\n' > "$WORK/pacman.conf"
    sync; sleep 2
    t0=$(now); pacman -U --root "$P" --dbpath "$P/var/lib/pacman" --config "$WORK/pacman.conf" --noconfirm --noscriptlet -dd "$pkg" >/dev/null 2>&1; t1=$(now)
    echo "$t1 - $t0" | bc >> "$WORK/pacman.t"
    i=$((i + 1))
  done
  n=$(median < "$WORK/nip.t"); p=$(median < "$WORK/pacman.t")
  printf '%-28s nip %6.2fs  pacman -U %6.2fs  ratio %.2fx\n' "$2" "$n" "$p" "$(echo "$n / $p" | bc -l)"
}

make_pkg bench-wide 5000 200
make_pkg bench-many 50000 100
bench_one bench-wide "5,000 files / 200 MB"
bench_one bench-many "50,000 files / 100 MB"
