#!/usr/bin/env bash
# Where a 6-job pipeline's time goes, stage by stage, with each
# executor: the kernel's own marks of every process start and end
# (sched_process_exec / sched_process_exit, recorded with perf for the
# whole machine), nothing added to cidre.
#
#   bench/sandbox/stages.sh [RUNS]      # as root (perf -a); default 60
#
# Runs `cidre run` in a git copy of bench/pipelines/three-stages RUNS
# times with the shell executor, then RUNS times with the sandbox one,
# 50 ms apart, and prints per executor the medians (p25, p75; mean) of:
# the first job's bash exec and the last one's exit since cidre's exec,
# cidre's exit, the teardown after the last job, and per stage the gap
# from the previous stage's last exit to this one's first exec, the lag
# of its second job behind its first, each bash from exec to exit, and
# the stage's span; then, per stage, in how many runs its second job
# started more than 0.8 ms after its first (a median hides those runs;
# the mean shows them). Environment: CIDRE (default build/cidre).
# Results in docs/benchmarks.md.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
CIDRE=${CIDRE:-$ROOT/build/cidre}
RUNS=${1:-${RUNS:-60}}
command -v perf >/dev/null || { echo "stages.sh: needs perf (linux-perf)" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-stages.XXXXXX")
trap 'rm -rf "$W"' EXIT

cp -r "$BENCH/pipelines/three-stages" "$W/p"
(
	cd "$W/p"
	git init -q
	git add -A
	git -c user.name=bench -c user.email=bench@cidre.invalid commit -q -m p
)
cd "$W/p"
for ex in shell sandbox; do
	# warm: the pool daemon, the page cache
	for i in 1 2 3; do
		"$CIDRE" run --executor "$ex" --color=never >/dev/null 2>&1
	done
done
for ex in shell sandbox; do
	perf record -q -a -o "$W/$ex.data" \
		-e sched:sched_process_exec -e sched:sched_process_exit -- \
		sh -c 'for i in $(seq "$1"); do "$2" run --executor "$3" --color=never >/dev/null 2>&1; sleep 0.05; done' \
		sh "$RUNS" "$CIDRE" "$ex" 2>/dev/null
done
for ex in shell sandbox; do
	echo "== $ex"
	perf script -i "$W/$ex.data" -F comm,pid,tid,time,event 2>/dev/null | python3 -c '
import sys, statistics, collections
me = sys.argv[1][:15]   # the kernel keeps 15 characters of a command name
runs, cur = [], None
for l in sys.stdin:
    p = l.split()
    comm, (pid, tid), t, ev = p[0], p[1].split("/"), float(p[2].rstrip(":")) * 1e3, p[3].split(":")[1]
    if comm == me and ev == "sched_process_exec":
        cur = {"exec": t, "pid": pid, "bx": {}, "be": {}}
        runs.append(cur)
    elif cur is None:
        continue
    elif comm == me and pid == cur["pid"] and tid == pid and ev == "sched_process_exit":
        cur["exit"] = t
        cur = None
    elif comm == "bash" and ev == "sched_process_exec":
        cur["bx"][pid] = t
    elif comm == "bash" and ev == "sched_process_exit" and tid == pid:
        cur["be"][pid] = t
d, order = collections.defaultdict(list), []
late = [0, 0, 0]   # a stage whose second job started > 0.8 ms after its first
def add(k, v):
    if k not in order:
        order.append(k)
    d[k].append(v)
for r in runs:
    if "exit" not in r or len(r["bx"]) != 6 or len(r["be"]) != 6:
        continue
    xs = sorted(r["bx"].items(), key=lambda kv: kv[1])
    add("first bash exec", xs[0][1] - r["exec"])
    add("last bash exit", max(r["be"].values()) - r["exec"])
    add("cidre exit", r["exit"] - r["exec"])
    add("teardown (last exit -> cidre exit)", r["exit"] - max(r["be"].values()))
    prev = None
    for i, s in enumerate((xs[0:2], xs[2:4], xs[4:6])):
        ends = [r["be"][p] for p, _ in s]
        if prev is not None:
            add("stage %d gap (last exit before -> first exec)" % (i + 1), s[0][1] - prev)
        add("stage %d second job behind the first" % (i + 1), s[1][1] - s[0][1])
        late[i] += s[1][1] - s[0][1] > 0.8
        for p, x in s:
            add("stage %d bash exec -> exit" % (i + 1), r["be"][p] - x)
        add("stage %d span" % (i + 1), max(ends) - s[0][1])
        prev = max(ends)
for k in order:
    v = sorted(d[k])
    print("%-46s n=%3d  %6.2f ms (p25 %6.2f, p75 %6.2f; mean %6.2f)" % (k, len(v), statistics.median(v), v[len(v) // 4], v[3 * len(v) // 4], statistics.mean(v)))
n = len(d["cidre exit"])
print("second job > 0.8 ms behind the first, per stage: %s of %d runs" % (" / ".join(str(x) for x in late), n))
' "$(basename "$CIDRE")"
done
