#!/usr/bin/env bash
# The sandbox executor's cost: bubblewrap alone, a trivial job with the
# shell and the sandbox executor (its start-to-exit overhead), and the
# engine benchmark's 6-job pipeline (bench/pipelines/three-stages) with
# each executor. Results in docs/benchmarks.md ("The sandbox executor").
#
#   bench/sandbox/run.sh           # needs hyperfine, bubblewrap, busybox-static
#
# Environment: CIDRE (default build/cidre), RUNS (default 30), WARMUP (5);
# OLD: another cidre binary (an earlier build) to measure beside CIDRE in
# the same hyperfine runs (A/B); NOPRE=1: CIDRE with CIDRE_PRESTART=0 as
# well (no sandbox started ahead). Prints medians and the overhead
# (sandbox - shell) at the end; the machine's load average before and
# after goes with them.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
CIDRE=${CIDRE:-$ROOT/build/cidre}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
OUT=$BENCH/results/sandbox
mkdir -p "$OUT"
W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-sandbox.XXXXXX")
trap 'rm -rf "$W"' EXIT

# a busybox image
mkdir -p "$W/img/bin"
cp "$(command -v busybox)" "$W/img/bin/busybox"
for a in $("$W/img/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$W/img/bin/$a"
done

repo() { # repo DIR < pipeline
	mkdir -p "$1" && git -C "$1" init -q && cat >"$1/.gitlab-ci.yml" &&
	git -C "$1" add . && git -C "$1" -c user.name=b -c user.email=b@b commit -qm b
}
printf 'j:\n  script: [echo hi]\n' | repo "$W/one"
printf 'j:\n  image: %s\n  script: [echo hi]\n' "$W/img" | repo "$W/one-img"
repo "$W/six" <"$BENCH/pipelines/three-stages/.gitlab-ci.yml"
sed 's/^  stage: \(.*\)$/  stage: \1\n  image: IMG/' "$BENCH/pipelines/three-stages/.gitlab-ci.yml" |
	sed "s|IMG|$W/img|" | repo "$W/six-img"
mkdir -p "$W/ws"

BW="bwrap --unshare-user --unshare-ipc --unshare-pid --unshare-uts --unshare-cgroup-try"
BW_REST="--die-with-parent --uid 65534 --gid 65534 --cap-drop ALL --ro-bind $W/img/bin /bin"
BW_END="--tmpfs /tmp --dir /builds/p --bind $W/ws /builds/p --remount-ro / --chdir /builds/p -- /bin/true"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# what each bwrap option costs: the job's command line, then without one
# option at a time (measurements only: cidre never drops any of them)
hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --export-json "$OUT/primitives.json" \
	-n "fork+exec true" "true" \
	-n "bwrap true (as cidre runs it)" \
	"$BW --unshare-net $BW_REST --dev /dev --proc /proc $BW_END" \
	-n "bwrap true, no --unshare-net" "$BW $BW_REST --dev /dev --proc /proc $BW_END" \
	-n "bwrap true, no --dev" "$BW --unshare-net $BW_REST --proc /proc $BW_END" \
	-n "bwrap true, no --proc" "$BW --unshare-net $BW_REST --dev /dev $BW_END"

ab() { # ab NAME ARGS...: the command with CIDRE, and with OLD if set
	local name=$1
	shift
	printf '%s\0%s\0' "$name" "$CIDRE $*"
	[ -z "${NOPRE:-}" ] || printf '%s\0%s\0' "$name (no prestart)" "env CIDRE_PRESTART=0 $CIDRE $*"
	[ -z "${OLD:-}" ] || printf '%s\0%s\0' "$name (old)" "$OLD $*"
}
bench() { # bench OUT.json NAME ARGS... [-- NAME ARGS...]
	local json=$1 args=()
	shift
	while [ $# -gt 0 ]; do
		local name=$1 cmd=()
		shift
		while [ $# -gt 0 ] && [ "$1" != -- ]; do cmd+=("$1"); shift; done
		[ $# -eq 0 ] || shift
		while IFS= read -r -d '' n && IFS= read -r -d '' c; do
			args+=(-n "$n" "$c")
		done < <(ab "$name" "${cmd[@]}")
	done
	hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --export-json "$OUT/$json" "${args[@]}"
}
bench one-job.json \
	"one job, shell" run -C "$W/one" -q -- \
	"one job, sandbox, host /" run -C "$W/one" -q --executor sandbox -- \
	"one job, sandbox, busybox image" run -C "$W/one-img" -q --executor sandbox
bench six-jobs.json \
	"6 jobs, shell" run -C "$W/six" -q -- \
	"6 jobs, sandbox, host /" run -C "$W/six" -q --executor sandbox -- \
	"6 jobs, sandbox, busybox image" run -C "$W/six-img" -q --executor sandbox

# bwrap's set-up and what is left of it after the job, from outside
# (phases.c; the job is a static program printing the clock)
cc -std=gnu11 -O2 -o "$W/phases" "$BENCH/sandbox/phases.c"
cc -std=gnu11 -O2 -static -o "$W/ws/clock" "$BENCH/sandbox/phases-clock.c"
BW_JOB="--tmpfs /tmp --dir /builds/p --bind $W/ws /builds/p --remount-ro / --chdir /builds/p -- /builds/p/clock"
echo "phases, bwrap as cidre runs it:  $("$W/phases" "$RUNS" $(command -v bwrap) ${BW#bwrap } --unshare-net $BW_REST --dev /dev --proc /proc $BW_JOB)"
echo "phases, without --unshare-net:   $("$W/phases" "$RUNS" $(command -v bwrap) ${BW#bwrap } $BW_REST --dev /dev --proc /proc $BW_JOB)"
echo "phases, fork+exec of the clock:  $("$W/phases" "$RUNS" "$W/ws/clock")"
# a prestarted sandbox: from the byte that releases it to its exit
echo "prestarted, /bin/true:           $(python3 "$BENCH/sandbox/release.py" "$W/img" "$W/ws" "$RUNS" -- /bin/true)"
echo "prestarted, sh -c 'echo':         $(python3 "$BENCH/sandbox/release.py" "$W/img" "$W/ws" "$RUNS" -- /bin/sh -e -c 'echo hi')"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# medians (the load of a shared machine moves means), and the overhead
python3 - "$OUT" <<'PY'
import json, sys
med = {}
for f in ("primitives", "one-job", "six-jobs"):
    for r in json.load(open(f"{sys.argv[1]}/{f}.json"))["results"]:
        t = sorted(r["times"])
        med[r["command"]] = t[len(t) // 2] * 1e3
        print("%-44s median %7.2f ms  mean %7.2f ± %6.2f" %
              (r["command"], med[r["command"]], r["mean"] * 1e3, r["stddev"] * 1e3))
for sfx in ("", " (no prestart)", " (old)"):
    sh1, sh6 = med.get("one job, shell" + sfx), med.get("6 jobs, shell" + sfx)
    for img in ("host /", "busybox image"):
        s1 = med.get("one job, sandbox, " + img + sfx)
        s6 = med.get("6 jobs, sandbox, " + img + sfx)
        if sh1 and s1 and sh6 and s6:
            print("overhead%s, %s: one job %+.1f ms; 6 jobs %.2fx the shell's" %
                  (sfx, img, s1 - sh1, s6 / sh6))
PY
