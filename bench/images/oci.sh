#!/usr/bin/env bash
# Registering a container image: `cidre image add` of an OCI layout and of
# the same image as a docker-archive, beside `umoci unpack` (the same
# work: every layer applied, whiteouts included, onto a root) of the
# layout, in one hyperfine run; then each one's peak memory
# (/usr/bin/time). Results in docs/benchmarks.md ("Container images").
#
#   bench/images/oci.sh        # needs hyperfine, umoci, skopeo, busybox-static
#
# The image: two layers, ~230 MB, ~18,000 files of this machine (Python's
# standard library and /usr/share/doc, then /usr/lib/python3 and the
# removal of /usr/share/doc/[a-c]*), gzip-compressed as umoci writes them.
# Environment: CIDRE (default build/cidre), RUNS (default 5).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
CIDRE=${CIDRE:-$ROOT/build/cidre}
RUNS=${RUNS:-5}
W=$(mktemp -d "${TMPDIR:-/var/tmp}/cidre-bench-oci.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

. "$BENCH/images/mkimage.sh"
mk_bench_image
umoci rm --image oci:base
rm -rf b
skopeo copy -q oci:oci:app docker-archive:"$W/app.tar":app:1
echo "image: $(du -sh oci | cut -f1) as a layout ($(ls oci/blobs/sha256 | wc -l) blobs)," \
	"$(du -sh app.tar | cut -f1) as a docker-archive"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --runs "$RUNS" --warmup 1 \
	--prepare "rm -rf $W/s1" -n "cidre image add (OCI layout)" \
	"$CIDRE image --store $W/s1 add app:1 $W/oci" \
	--prepare "rm -rf $W/s2" -n "cidre image add (docker-archive)" \
	"$CIDRE image --store $W/s2 add app:1 $W/app.tar" \
	--prepare "rm -rf $W/u" -n "umoci unpack --rootless" \
	"umoci unpack --rootless --image $W/oci:app $W/u" \
	--export-markdown "$W/md"
cat "$W/md"
for what in layout archive umoci; do
	rm -rf "$W/s" "$W/u"
	case $what in
	layout) cmd="$CIDRE image --store $W/s add app:1 $W/oci" ;;
	archive) cmd="$CIDRE image --store $W/s add app:1 $W/app.tar" ;;
	umoci) cmd="umoci unpack --rootless --image $W/oci:app $W/u" ;;
	esac
	# the largest process of the tree: ours and tar's are separate
	/usr/bin/time -f "$what: %M KB max RSS (the command itself), %e s" $cmd >/dev/null
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
