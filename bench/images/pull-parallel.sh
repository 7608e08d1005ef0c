#!/usr/bin/env bash
# Layers downloaded at once: an image of five layers (busybox, then four
# of 8 MB that do not compress) behind tests/tools/registry-front.py,
# whose CDN sends each answer at RATE bytes a second (a slow link, on
# loopback), pulled with CIDRE_PULL_PARALLEL=1 (one layer after the
# other, as before), 3 (Docker's max-concurrent-downloads) and the
# default (6, as podman's and skopeo's), beside `skopeo copy` + `umoci
# unpack` of the same through the same front, in one hyperfine run. Results in docs/benchmarks.md
# ("Layers downloaded at once").
#
#   bench/images/pull-parallel.sh   # needs hyperfine, umoci, skopeo, docker-registry
#
# Environment: CIDRE (default build/cidre), RUNS (3), RATE (8000000).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
CIDRE=${CIDRE:-$ROOT/build/cidre}
RUNS=${RUNS:-3}
RATE=${RATE:-8000000}
W=$(mktemp -d "${TMPDIR:-/var/tmp}/cidre-bench-pullpar.XXXXXX")
PIDS=()
stop() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap stop EXIT
cd "$W"
. "$BENCH/images/mkimage.sh"

umoci init --layout oci
umoci new --image oci:app
umoci unpack --rootless --image oci:app b >/dev/null
mkdir -p b/rootfs/bin
cp "$(command -v busybox)" b/rootfs/bin/busybox
ln -s busybox b/rootfs/bin/sh
umoci repack --image oci:app b
for i in 1 2 3 4; do
	rm -rf b
	umoci unpack --rootless --image oci:app b >/dev/null
	head -c 8000000 /dev/urandom >"b/rootfs/layer-$i"
	umoci repack --image oci:app b
done

start_bench_registry
PIDS+=("$REG_PID")
P=$REG_PORT
skopeo copy -q --dest-tls-verify=false oci:oci:app docker://127.0.0.1:$P/bench/app:1
python3 "$ROOT/tests/tools/registry-front.py" "$P" front ci:s3cret --rate "$RATE" 2>front.log &
PIDS+=($!)
for i in $(seq 100); do test -s front && break; sleep 0.1; done
read -r F _ <front
IMG=127.0.0.1:$F/bench/app:1
export DOCKER_AUTH_CONFIG="{\"auths\": {\"127.0.0.1:$F\": {\"username\": \"ci\", \"password\": \"s3cret\"}}}"
echo "image: $IMG, 5 layers ($(du -sh oci | cut -f1) as a layout); the CDN sends each answer at $RATE B/s"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --runs "$RUNS" \
	--prepare "rm -rf $W/s1" -n "cidre image pull, one layer at a time" \
	"env CIDRE_PULL_PARALLEL=1 $CIDRE image --store $W/s1 pull $IMG" \
	--prepare "rm -rf $W/s2" -n "cidre image pull, 3 at once (Docker's default)" \
	"env CIDRE_PULL_PARALLEL=3 $CIDRE image --store $W/s2 pull $IMG" \
	--prepare "rm -rf $W/s3" -n "cidre image pull (6 at once)" \
	"$CIDRE image --store $W/s3 pull $IMG" \
	--prepare "rm -rf $W/o $W/u" -n "skopeo copy + umoci unpack" \
	"bash -c 'skopeo copy -q --src-tls-verify=false --src-creds ci:s3cret docker://$IMG oci:$W/o:app && umoci unpack --rootless --image $W/o:app $W/u'" \
	--export-markdown "$W/md"
cat "$W/md"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
