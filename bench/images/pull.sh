#!/usr/bin/env bash
# Pulling an image: `cidre image pull` (manifest, blobs, every digest
# checked, layers unpacked, registered) beside what the same takes with
# the usual tools, `skopeo copy docker://… oci:` then `umoci unpack`, from
# a docker-registry on loopback, in one hyperfine run; then the cost of
# asking again when the image is there (`pull_policy: always`: cidre's
# pull, skopeo inspect); then a new tag on the same base, whose layers
# the store kept; then each one's peak memory (/usr/bin/time).
# Results in docs/benchmarks.md ("Pulling images").
#
#   bench/images/pull.sh    # needs hyperfine, umoci, skopeo, docker-registry
#
# The image is bench/images/oci.sh's: two gzip layers, ~230 MB of this
# machine's files. Environment: CIDRE (default build/cidre), RUNS (5);
# OLD: another cidre binary (an earlier build) pulled with in the same
# first hyperfine run (an A/B on the same load).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
CIDRE=${CIDRE:-$ROOT/build/cidre}
RUNS=${RUNS:-5}
W=$(mktemp -d "${TMPDIR:-/var/tmp}/cidre-bench-pull.XXXXXX")
REG=
stop() {
	[ -n "$REG" ] && kill "$REG" 2>/dev/null
	rm -rf "$W"
}
trap stop EXIT
cd "$W"

. "$BENCH/images/mkimage.sh"
mk_bench_image

start_bench_registry
REG=$REG_PID
P=$REG_PORT
IMG=127.0.0.1:$P/bench/app:1
skopeo copy -q --dest-tls-verify=false oci:oci:app docker://$IMG
echo "image: $IMG, $(du -sh oci | cut -f1) as a layout"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
old=()
[ -n "${OLD:-}" ] && old=(--prepare "rm -rf $W/s0" -n "cidre image pull (OLD)"
	"$OLD image --store $W/s0 pull $IMG")
hyperfine -N --runs "$RUNS" --warmup 1 \
	--prepare "rm -rf $W/s1" -n "cidre image pull" \
	"$CIDRE image --store $W/s1 pull $IMG" "${old[@]}" \
	--prepare "rm -rf $W/o $W/u" -n "skopeo copy + umoci unpack" \
	"bash -c 'skopeo copy -q --src-tls-verify=false docker://$IMG oci:$W/o:app && umoci unpack --rootless --image $W/o:app $W/u'" \
	--export-markdown "$W/md"
cat "$W/md"
"$CIDRE" image --store "$W/s1" pull "$IMG" >/dev/null
hyperfine -N --runs 30 --warmup 3 \
	-n "cidre image pull (up to date)" "$CIDRE image --store $W/s1 pull $IMG" \
	-n "skopeo inspect" "skopeo inspect --tls-verify=false docker://$IMG" \
	--export-markdown "$W/md2"
cat "$W/md2"
# a new tag on the same base (a rebuild: one small layer more): cidre
# with the base's layers kept from app:1, and without them; skopeo into
# a layout that has app:1 (it skips the blobs there) + umoci unpack
umoci unpack --rootless --image oci:app b2 >/dev/null
echo 2 >b2/rootfs/bench-v2
umoci repack --image oci:app2 b2
rm -rf b2
IMG2=127.0.0.1:$P/bench/app:2
skopeo copy -q --dest-tls-verify=false oci:oci:app2 docker://$IMG2
skopeo copy -q --src-tls-verify=false docker://$IMG oci:$W/o1:app
hyperfine -N --runs "$RUNS" --warmup 1 \
	--prepare "bash -c '$CIDRE image --store $W/s1 rm $IMG2 2>/dev/null; $CIDRE image --store $W/s1 prune >/dev/null'" \
	-n "cidre image pull app:2 (app:1's layers kept)" \
	"$CIDRE image --store $W/s1 pull $IMG2" \
	--prepare "rm -rf $W/s3" -n "cidre image pull app:2 (an empty store)" \
	"$CIDRE image --store $W/s3 pull $IMG2" \
	--prepare "bash -c 'rm -rf $W/o3 $W/u && cp -r $W/o1 $W/o3'" \
	-n "skopeo copy into app:1's layout + umoci unpack" \
	"bash -c 'skopeo copy -q --src-tls-verify=false docker://$IMG2 oci:$W/o3:app2 && umoci unpack --rootless --image $W/o3:app2 $W/u'" \
	--export-markdown "$W/md3"
cat "$W/md3"
"$CIDRE" image --store "$W/s1" pull "$IMG2" | tail -n1
for what in cidre skopeo umoci; do
	rm -rf "$W/s" "$W/o2" "$W/u"
	case $what in
	cidre) cmd="$CIDRE image --store $W/s pull $IMG" ;;
	skopeo) cmd="skopeo copy -q --src-tls-verify=false docker://$IMG oci:$W/o2:app" ;;
	umoci) skopeo copy -q --src-tls-verify=false docker://$IMG oci:$W/o2:app
	       cmd="umoci unpack --rootless --image $W/o2:app $W/u" ;;
	esac
	# the largest process of the tree: ours and tar's are separate
	/usr/bin/time -f "$what: %M KB max RSS (the command itself), %e s" $cmd >/dev/null
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
