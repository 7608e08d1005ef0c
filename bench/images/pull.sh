#!/usr/bin/env bash
# Pulling an image: `cidre image pull` (manifest, blobs, every digest
# checked, layers unpacked, registered) beside what the same takes with
# the usual tools, `skopeo copy docker://… oci:` then `umoci unpack`, from
# a docker-registry on loopback, in one hyperfine run; then the cost of
# asking again when the image is there (`pull_policy: always`: cidre's
# pull, skopeo inspect); then each one's peak memory (/usr/bin/time).
# Results in docs/benchmarks.md ("Pulling images").
#
#   bench/images/pull.sh    # needs hyperfine, umoci, skopeo, docker-registry
#
# The image is bench/images/oci.sh's: two gzip layers, ~230 MB of this
# machine's files. Environment: CIDRE (default build/cidre), RUNS (5).
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

cat >reg.yml <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $W/reg
http:
  addr: 127.0.0.1:0
EOF
docker-registry serve reg.yml >reg.log 2>&1 &
REG=$!
for i in $(seq 100); do
	grep -q "listening on 127.0.0.1:" reg.log && break
	sleep 0.1
done
P=$(sed -n "s/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p" reg.log | head -n1)
IMG=127.0.0.1:$P/bench/app:1
skopeo copy -q --dest-tls-verify=false oci:oci:app docker://$IMG
echo "image: $IMG, $(du -sh oci | cut -f1) as a layout"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --runs "$RUNS" --warmup 1 \
	--prepare "rm -rf $W/s1" -n "cidre image pull" \
	"$CIDRE image --store $W/s1 pull $IMG" \
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
