#!/usr/bin/env bash
# The job supervisor (`cidre job-exec SPEC`) of two builds, alternating
# job by job, the way the server's runner starts them:
#
#   bench/supervisor/ab.sh OLD/cidre NEW/cidre [PAIRS]
#
# Makes a scratch directory under /tmp (DIR=... to place it elsewhere,
# e.g. DIR=/dev/shm to leave the file system's inode allocation out),
# with a bare repository whose pipeline is one trivial job
# (script: ["true"]); starts NEW's server there (127.0.0.1:0, stopped by
# its pid) for one job, to get a real spec and a checked-out slot
# workspace; then, with no server running, runs PAIRS (200) pairs of
# supervisors, OLD and NEW alternating (the order swapped every pair),
# each as the runner does: the slot's spec rewritten in place with a
# new job id, a new empty log, a new result file. Pass 1 times each
# exec (bash's EPOCHREALTIME around it: the wall time from spawn to
# exit); pass 2 runs each under `perf stat -e task-clock,page-faults`
# (the supervisor and its bash). Prints medians and means, and the load
# average before and after. Needs perf, curl, git, python3.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 OLD/cidre NEW/cidre [PAIRS]" >&2; exit 2; }
old=$1 new=$2 N=${3:-200}
W=$(mktemp -d "${DIR:-/tmp}/cidre-bench-sup.XXXXXX")
. "$HERE/../server/lib.sh"
SPID=
cleanup() {
	if [ -n "$SPID" ]; then kill -TERM "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; fi
	# the slot cgroups our supervisors kept (named after the stopped server)
	[ -n "$SPID" ] && find /sys/fs/cgroup/memory /sys/fs/cgroup/cpuacct -maxdepth 4 \
		-name "cidre-$SPID-slot-*" -type d -exec rmdir {} + 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

trivial_repo "$W"
D=$W/data
mkdir -p "$D"
printf 'runner:\n  slots: 1\n' >"$D/config.yml"
"$new" server --data "$D" --listen 127.0.0.1:0 >"$W/server.log" 2>&1 &
SPID=$!
wait_url "$D" "$W/server.log" "$SPID"
URL=$(cat "$D/server-url") TOKEN=$(cat "$D/admin-token")
curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data "{\"name\":\"demo\",\"repo\":\"$W/demo.git\"}" "$URL/api/v1/projects" >/dev/null
"$HERE/../server/trigger-wait.sh" "$URL" "$TOKEN" demo main "$(git --git-dir="$W/demo.git" rev-parse main)"
kill -TERM "$SPID"
wait "$SPID" 2>/dev/null || true
spec=$D/work/slot-1.spec.json
# the job's id, result and log become @K@ (spec fields "job_id", "result", "log")
t=$(sed 's/"job_id":1,/"job_id":@K@,/; s#results/1\.json#results/@K@.json#; s#logs/1\.log#logs/@K@.log#' "$spec")
[ "$(grep -o '@K@' <<<"$t" | wc -l)" = 3 ] || { echo "unexpected spec: $t" >&2; exit 1; }

k=100
R=$W/r
mkdir "$R"
us() { local x=$1; echo $(( ${x%.*} * 1000000 + 10#${x#*.} )); }
next() { printf '%s' "${t//@K@/$k}" >"$spec"; : >"$D/logs/$k.log"; k=$((k + 1)); }
wall() {
	local a b
	next
	a=$EPOCHREALTIME
	"$1" job-exec "$spec"
	b=$EPOCHREALTIME
	echo $(( $(us "$b") - $(us "$a") )) >>"$R/$2.wall"
}
cpu() {
	next
	perf stat -x, -e task-clock,page-faults -- "$1" job-exec "$spec" 2>&1 >/dev/null |
		awk -F, '/task-clock/ { c = $1 } /page-faults/ { f = $1 } END { print c, f }' >>"$R/$2.cpu"
}
for c in "$old" "$new"; do "$c" job-exec "$spec" </dev/null; done	# warm-up (the workspace is checked)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 0; i < N; i++)); do
	if (( i % 2 )); then wall "$old" old; wall "$new" new; else wall "$new" new; wall "$old" old; fi
done
for ((i = 0; i < N; i++)); do
	if (( i % 2 )); then cpu "$old" old; cpu "$new" new; else cpu "$new" new; cpu "$old" old; fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "jobs not successful: $(grep -L '"status":"success"' "$D"/results/*.json | wc -l || true)"
python3 - "$R" <<'PY'
import sys, statistics as st
r = sys.argv[1]
for b in ("old", "new"):
    wall = [int(x) / 1000 for x in open(f"{r}/{b}.wall")]
    cpu = [list(map(float, l.split())) for l in open(f"{r}/{b}.cpu")]
    c = [x[0] for x in cpu]
    f = [x[1] for x in cpu]
    print(f"{b}: wall median {st.median(wall):.2f} ms, mean {st.mean(wall):.2f}; "
          f"task-clock median {st.median(c):.3f} ms, mean {st.mean(c):.3f}; "
          f"page faults {st.mean(f):.1f}")
PY
