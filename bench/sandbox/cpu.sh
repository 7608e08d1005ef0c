#!/usr/bin/env bash
# The machine's CPU and the wall time per `cidre run`, back to back:
# RUNS runs of the current directory's pipeline with EXECUTOR, after 3
# to warm up; the busy time from /proc/stat (user + nice + system + irq
# + softirq of every CPU, in 10 ms ticks) and the wall time, divided by
# RUNS. Unlike hyperfine's per-run times, a run here carries what the
# one before it left behind (its exits, its cgroups' removal).
#
#   cd A-GIT-COPY-OF-bench/pipelines/three-stages
#   bench/sandbox/cpu.sh shell 200; bench/sandbox/cpu.sh sandbox 200
#
# Environment: CIDRE (default build/cidre). Results in docs/benchmarks.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CIDRE=${CIDRE:-$ROOT/build/cidre}
ex=${1:?executor: shell or sandbox}
n=${2:-200}
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
for i in 1 2 3; do "$CIDRE" run --executor "$ex" --color=never >/dev/null 2>&1; done
b0=$(busy); t0=$(date +%s%N)
for i in $(seq "$n"); do "$CIDRE" run --executor "$ex" --color=never >/dev/null 2>&1; done
b1=$(busy); t1=$(date +%s%N)
echo "$ex: CPU $(( (b1 - b0) * 10000 / n ))e-3 ms a run, wall $(( (t1 - t0) / n / 1000 )) us a run ($n runs)"
