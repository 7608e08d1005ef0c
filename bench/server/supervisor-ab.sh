#!/usr/bin/env bash
# The job supervisor alone, two builds side by side, alternating:
#
#   bench/server/supervisor-ab.sh OLD/cidre NEW/cidre SPEC [NEW_SPEC]
#
# SPEC is a job spec a server wrote (DATA/work/slot-N.spec.json of a
# trivial job, kept: it holds no secrets), run again and again with
# `cidre job-exec` (it rewrites that job's log and result; use a scratch
# server's data directory). NEW_SPEC, when given, is what NEW runs (e.g.
# the spec with a "cgroup" name added). Prints, per round, perf stat's
# task-clock (the supervisor and bash) for each build, then hyperfine's
# wall-clock medians. Environment: ROUNDS=4 RUNS=40.
set -euo pipefail
ROUNDS=${ROUNDS:-4}
RUNS=${RUNS:-40}
[ $# -ge 3 ] || { echo "usage: $0 OLD/cidre NEW/cidre SPEC [NEW_SPEC]" >&2; exit 2; }
old=$1 new=$2 spec=$3 nspec=${4:-$3}
J=$(mktemp "${TMPDIR:-/tmp}/cidre-sup-ab.XXXXXX")
trap 'rm -f "$J"' EXIT
tc() { perf stat -x, -e task-clock -r "$RUNS" "$@" 2>&1 >/dev/null | awk -F, '/task-clock/ { printf "%.2f", $1 }'; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
	echo "round $r task-clock ms: old $(tc "$old" job-exec "$spec") new $(tc "$new" job-exec "$nspec")"
done
hyperfine -N --warmup 5 --runs $((RUNS * 2)) -n old "$old job-exec $spec" \
	-n new "$new job-exec $nspec" --export-json "$J" >/dev/null 2>&1
jq -r '.results[] | "\(.command) wall median \(.median * 1000 | . * 100 | round / 100) ms, mean \(.mean * 1000 | . * 100 | round / 100) ms"' "$J"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
