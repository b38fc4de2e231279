#!/bin/sh
# The fleet cache against Distribution (Debian's docker-registry) on loopback. Not a test.
#   bench/oci.sh [RUNS]     (default 3; medians, with min–max spread)
# Prints, for a 5,000-file / 200 MB program and a 50,000-file / 100 MB program:
#   - nip cache push (to an empty repository) next to skopeo copy of the same tree as a one-layer
#     OCI image (oci: layout → registry), and nip's pull-and-graft (nip install from the registry,
#     verified) next to skopeo copy registry → oci: layout (which grafts nothing);
#   - pull-and-graft next to a plain nip install of the same program from its local pacman
#     package file;
#   - a second push of a new version sharing 95% of its files: the share of bytes sent;
#   - eight roots pulling the same program at once: all must succeed; total time and bytes served.
# Runs are interleaved (nip, peer, nip, peer, ...); each iteration starts with an empty registry.
# Needs docker-registry, skopeo, bsdtar, zstd, curl, bc.
set -eu
RUNS=${1:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
NIP="node $HERE/packages/cli/bin/run.js"
WORK=$(mktemp -d)
REG_PID=
PROXY_PID=
cleanup() {
  [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null || true
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for t in docker-registry skopeo bsdtar zstd; do command -v $t >/dev/null || { echo "bench/oci.sh: $t is not installed" >&2; exit 1; }; done
echo "note: the machine is shared with other work; figures are indicative (medians of $RUNS, min–max in brackets)."

port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
PORT=$(port)
HOST=127.0.0.1:$PORT
# fresh_registry: a new, empty registry on $HOST (each timed iteration starts from one, so that
# neither tool finds blobs the other, or an earlier iteration, left; skopeo would mount them).
fresh_registry() {
  if [ -n "$REG_PID" ]; then kill "$REG_PID"; wait "$REG_PID" 2>/dev/null || true; fi
  rm -rf "$WORK/reg"; mkdir -p "$WORK/reg"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/reg/data\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n' "$WORK" "$HOST" > "$WORK/reg/config.yml"
  docker-registry serve "$WORK/reg/config.yml" >"$WORK/reg/log" 2>&1 &
  REG_PID=$!
  until curl -s -o /dev/null "http://$HOST/v2/"; do sleep 0.1; done
}

$NIP cache keygen bench-1 --out "$WORK/keys/bench-1.secret" --json >/dev/null
PUB=$(cat "$WORK/keys/bench-1.pub")

now() { date +%s.%N; }
stats() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2fs [%.2f–%.2f]", m, a[1], a[NR]}'; }
med() { sort -n | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

# make_tree DIR FILES TOTAL_MB VERSION: deterministic contents (AES-CTR of the file number); in
# VERSION 2, every 20th file (5%) has new contents.
make_tree() {
  node -e '
    const fs = require("fs"), crypto = require("crypto")
    const [dir, n, per, v] = [process.argv[1], +process.argv[2], +process.argv[3], process.argv[4]]
    for (let i = 0; i < n; i++) {
      const sub = `${dir}/d${i % 100}`
      if (i < 100) fs.mkdirSync(sub, { recursive: true })
      const key = crypto.createHash("sha256").update(v === "2" && i % 20 === 7 ? `v2-${i}` : `${i}`).digest().subarray(0, 16)
      fs.writeFileSync(`${sub}/f${i}`, crypto.createCipheriv("aes-128-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(per)))
    }' "$1" "$2" $(( $3 * 1024 * 1024 / $2 )) "$4"
}

# make_pkg NAME FILES MB VERSION: a pacman package (.PKGINFO, .MTREE) of that tree, and the same
# tree as a one-layer OCI image layout (uncompressed tar layer) for skopeo.
make_pkg() {
  name=$1 d="$WORK/src/$1-$4"
  mkdir -p "$d/usr/share/$name"
  make_tree "$d/usr/share/$name" "$2" "$3" "$4"
  size=$(du -sb "$d" | cut -f1)
  printf 'pkgname = %s\npkgbase = %s\npkgver = %s.0-1\npkgdesc = bench\nbuilddate = 0\npackager = bench\nsize = %s\narch = x86_64\n' "$name" "$name" "$4" "$size" > "$d/.PKGINFO"
  (cd "$d" && LANG=C bsdtar -czf .MTREE --format=mtree --options='!all,use-set,type,uid,gid,mode,time,size,sha256,link' .PKGINFO usr)
  (cd "$d" && LANG=C bsdtar -cf - .MTREE .PKGINFO usr | zstd -q -T0 -o "$WORK/$name-$4.0-1-x86_64.pkg.tar.zst")
  L="$WORK/layout-$name-$4"
  mkdir -p "$L/blobs/sha256"
  (cd "$d" && tar -cf "$L/layer.tar" usr)
  node -e '
    const fs = require("fs"), crypto = require("crypto"), L = process.argv[1]
    const put = (buf) => { const h = crypto.createHash("sha256").update(buf).digest("hex"); fs.writeFileSync(`${L}/blobs/sha256/${h}`, buf); return { digest: `sha256:${h}`, size: buf.length } }
    const layer = put(fs.readFileSync(`${L}/layer.tar`)); fs.unlinkSync(`${L}/layer.tar`)
    const config = put(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [layer.digest] } })))
    const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }] })))
    fs.writeFileSync(`${L}/oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" }))
    fs.writeFileSync(`${L}/index.json`, JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest, annotations: { "org.opencontainers.image.ref.name": "v1" } }] }))' "$L"
  rm -rf "$d"
}

# conf ROOT REPO [push]: an [oci] table for a root.
conf() {
  mkdir -p "$1/etc/nip"
  {
    printf '[pacman]\nuse-host-config = false\n\n[oci]\nregistries = ["oci://%s/%s"]\ninsecure-registries = ["%s"]\ntrusted-public-keys = ["%s"]\n' "$HOST" "$2" "$HOST" "$PUB"
    if [ "${3:-}" = push ]; then printf 'secret-key-files = ["%s"]\n' "$WORK/keys/bench-1.secret"; fi
  } > "$1/etc/nip/nip.conf"
}

bench_one() {
  name=$1 label=$2
  pkg="$WORK/$name-1.0-1-x86_64.pkg.tar.zst"
  : > "$WORK/push.t"; : > "$WORK/skpush.t"; : > "$WORK/pull.t"; : > "$WORK/skpull.t"; : > "$WORK/plain.t"
  # The pushing machine: the program grafted once from its package file.
  S="$WORK/root-$name-src"; conf "$S" "x" push
  $NIP --root "$S" install --source pacman "$pkg" --yes --quiet >/dev/null
  i=0
  while [ $i -lt "$RUNS" ]; do
    fresh_registry
    sync; sleep 1
    t0=$(now); $NIP --root "$S" cache push "$name" --to "oci://$HOST/$name-$i" --yes --quiet >/dev/null; t1=$(now)
    echo "$t1 - $t0" | bc >> "$WORK/push.t"
    sync; sleep 1
    t0=$(now); skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout-$name-1:v1" "docker://$HOST/skopeo-$name-$i:v1" >/dev/null; t1=$(now)
    echo "$t1 - $t0" | bc >> "$WORK/skpush.t"
    P="$WORK/root-$name-pull-$i"; conf "$P" "$name-$i"
    sync; sleep 1
    t0=$(now); $NIP --root "$P" install "oci:$name" --yes --quiet >/dev/null; t1=$(now)
    echo "$t1 - $t0" | bc >> "$WORK/pull.t"
    sync; sleep 1
    t0=$(now); skopeo copy -q --src-tls-verify=false "docker://$HOST/skopeo-$name-$i:v1" "oci:$WORK/out-$name-$i:v1" >/dev/null; t1=$(now)
    echo "$t1 - $t0" | bc >> "$WORK/skpull.t"
    R="$WORK/root-$name-plain-$i"; conf "$R" "none"
    sync; sleep 1
    t0=$(now); $NIP --root "$R" install --source pacman "$pkg" --yes --quiet >/dev/null; t1=$(now)
    echo "$t1 - $t0" | bc >> "$WORK/plain.t"
    i=$((i + 1))
  done
  echo "$label"
  printf '  push:  nip cache push %s   skopeo copy oci:→registry %s   ratio %.2fx\n' "$(stats < "$WORK/push.t")" "$(stats < "$WORK/skpush.t")" "$(echo "$(med < "$WORK/push.t") / $(med < "$WORK/skpush.t")" | bc -l)"
  printf '  pull:  nip install (pull+verify+graft) %s   skopeo copy registry→oci: %s   ratio %.2fx\n' "$(stats < "$WORK/pull.t")" "$(stats < "$WORK/skpull.t")" "$(echo "$(med < "$WORK/pull.t") / $(med < "$WORK/skpull.t")" | bc -l)"
  printf '  graft: from the registry %s   from the local pacman package file %s   ratio %.2fx\n' "$(stats < "$WORK/pull.t")" "$(stats < "$WORK/plain.t")" "$(echo "$(med < "$WORK/pull.t") / $(med < "$WORK/plain.t")" | bc -l)"
  # Version 2 shares 95% of the files: push it where version 1 is.
  make_pkg "$name" "$3" "$4" 2
  $NIP --root "$S" install --source pacman "$WORK/$name-2.0-1-x86_64.pkg.tar.zst" --yes --quiet >/dev/null
  $NIP --root "$S" cache push "$name@2.0-1" --to "oci://$HOST/$name-$((RUNS - 1))" --json > "$WORK/v2.json" 2>/dev/null
  node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).result.programs[0]; console.log(`  second version (95% of files shared): sent ${(r.sent / 1048576).toFixed(1)} MiB of ${(r.size / 1048576).toFixed(1)} MiB = ${(100 * r.sent / r.size).toFixed(1)}% (${r.uploaded} of ${r.layers} layers)`)' "$WORK/v2.json"
}

# fleet NAME: eight roots install the same program at once, through a byte-counting TCP relay.
fleet() {
  name=$1
  RP=$(port)
  node -e '
    const net = require("net"), fs = require("fs"); let served = 0
    net.createServer((c) => { const u = net.connect(+process.argv[2], "127.0.0.1"); c.pipe(u); u.on("data", (d) => (served += d.length)); u.pipe(c); c.on("error", () => u.destroy()); u.on("error", () => c.destroy()) })
      .listen(+process.argv[1], "127.0.0.1")
    setInterval(() => fs.writeFileSync(process.argv[3], String(served)), 200)' "$RP" "$PORT" "$WORK/served" &
  PROXY_PID=$!
  sleep 0.5
  j=0
  while [ $j -lt 8 ]; do
    F="$WORK/fleet-$j"; mkdir -p "$F/etc/nip"
    printf '[oci]\nregistries = ["oci://127.0.0.1:%s/%s-%s"]\ninsecure-registries = ["127.0.0.1:%s"]\ntrusted-public-keys = ["%s"]\n' "$RP" "$name" "$((RUNS - 1))" "$RP" "$PUB" > "$F/etc/nip/nip.conf"
    j=$((j + 1))
  done
  sync; sleep 1
  t0=$(now)
  j=0 pids=
  while [ $j -lt 8 ]; do
    ( $NIP --root "$WORK/fleet-$j" install "oci:$name@1.0-1" --yes --quiet >/dev/null 2>"$WORK/fleet-$j.err" && echo ok > "$WORK/fleet-$j.ok" ) &
    pids="$pids $!"
    j=$((j + 1))
  done
  wait $pids || true
  t1=$(now)
  sleep 0.5
  ok=$(ls "$WORK"/fleet-*.ok 2>/dev/null | wc -l)
  printf '  eight roots at once: %s of 8 succeeded in %.2fs, %s MiB served\n' "$ok" "$(echo "$t1 - $t0" | bc)" "$(echo "scale=1; $(cat "$WORK/served") / 1048576" | bc)"
  kill "$PROXY_PID"; PROXY_PID=
  rm -rf "$WORK"/fleet-*
}

# BENCH_SCALE=N divides file counts and sizes (a quick check of the script itself).
K=${BENCH_SCALE:-1}
make_pkg bench-wide $((5000 / K)) $((200 / K)) 1
bench_one bench-wide "$((5000 / K)) files / $((200 / K)) MB" $((5000 / K)) $((200 / K))
fleet bench-wide
make_pkg bench-many $((50000 / K)) $((100 / K)) 1
bench_one bench-many "$((50000 / K)) files / $((100 / K)) MB" $((50000 / K)) $((100 / K))
