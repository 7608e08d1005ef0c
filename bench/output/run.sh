#!/usr/bin/env bash
# A job that prints a lot: how long `cidre run` takes for a job writing
# MB megabytes in lines of 100 bytes, beside the job's own command run
# bare (the floor) and, when bench/setup.sh installed it, gitlab-ci-local
# on the same pipeline. The output goes to a file (as under CI, or into
# a pipe); each tool also keeps its own log of the job.
#
#   bench/output/run.sh                 # needs hyperfine
#
# Environment: CIDRE (default build/cidre), MB (default 200), RUNS (5),
# OLD: an earlier cidre binary measured in the same hyperfine run (A/B),
# GCL=0: leave gitlab-ci-local out. Results in docs/benchmarks.md
# ("A job that prints a lot").
set -euo pipefail
BENCH=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
CIDRE=${CIDRE:-$ROOT/build/cidre}
MB=${MB:-200}
RUNS=${RUNS:-5}
. "$BENCH/lib.sh"
W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-output.XXXXXX")
trap 'rm -rf "$W"' EXIT

command -v hyperfine >/dev/null || die "hyperfine is missing (apt-get install hyperfine)"
# MB megabytes in lines of 100 bytes (99 and a newline)
gen="head -c $((MB * 990000)) /dev/zero | tr '\\0' x | fold -w 99"
printf 'print:\n  script:\n    - %s\n' "$gen" >"$W/pipeline.yml"
printf '%s\n' "$gen" >"$W/gen.sh"
make_repo "$W/repo" "$W/pipeline.yml"
cd "$W/repo"

cmds=("sh $W/gen.sh" "$CIDRE run --color=never")
names=(bare cidre)
if [ -n "${OLD:-}" ]; then
	cmds+=("$OLD run --color=never")
	names+=(old)
fi
if [ "${GCL:-1}" != 0 ] && find_node && [ -f "$GCL_JS" ]; then
	cmds+=("$GCL_NODE $GCL_JS --no-color print")
	names+=(gitlab-ci-local)
fi
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
args=()
for i in "${!cmds[@]}"; do
	args+=(--command-name "${names[$i]}" "${cmds[$i]}")
done
hyperfine -N --warmup 1 --runs "$RUNS" --output="$W/out" "${args[@]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
