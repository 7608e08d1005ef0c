#!/usr/bin/env bash
# Queue drain of builds side by side, alternating drain by drain:
#
#   bench/server/drain-ab.sh OLD/cidre [NEW/cidre...]
#
# For each build a server (127.0.0.1:0, SLOTS runner slots, its own data
# directory under a scratch directory in /tmp, removed at the end,
# stopped by its pid) with the same project whose branch "many" is a
# pipeline of JOBS trivial jobs in one stage. Each round triggers that
# pipeline once on every build in turn with `cidre trigger --wait` (the
# first build's client for all: one events stream, no polling) and
# takes, from the server's own database, the time from the pipeline's
# creation to its last job's end, and from /proc/PID/stat the CPU of the
# server alone and with its children (the job launcher, the supervisors
# and their bash: all_ticks in lib.sh). Prints per build the median drain, as jobs/s, and the CPU per
# job. The
# first round is a warm-up. Environment: ROUNDS=7 JOBS=100 SLOTS=4;
# EXECUTOR=sandbox runs the jobs in the sandbox (bench_server, lib.sh).
# Needs git, curl and sqlite3.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-7}
JOBS=${JOBS:-100}
SLOTS=${SLOTS:-4}
[ $# -ge 1 ] || { echo "usage: $0 OLD/cidre [NEW/cidre...]" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-drain.XXXXXX")
. "$HERE/lib.sh"
trap bench_cleanup EXIT

trivial_repo "$W"
many_branch "$W" "$JOBS"
CLI=$1 B=("$@")
SP=() SU=() ST=()
for c in "$@"; do
	i=${#SP[@]}
	bench_server "$W/s$i" "$c" "$SLOTS"
	SP[$i]=$SPID SU[$i]=$URL ST[$i]=$TOKEN
	curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data "{\"name\":\"demo\",\"repo\":\"$W/demo.git\"}" "$URL/api/v1/projects" >/dev/null
	: >"$W/res$i"
done
own_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
	for i in "${!SP[@]}"; do
		a0=$(all_ticks "${SP[$i]}") o0=$(own_ticks "${SP[$i]}")
		CIDRE_SERVER=${SU[$i]} CIDRE_TOKEN=${ST[$i]} "$CLI" trigger -q demo many --wait >/dev/null 2>&1 ||
			{ echo "bench: the pipeline failed on ${B[$i]}" >&2; exit 1; }
		a1=$(all_ticks "${SP[$i]}") o1=$(own_ticks "${SP[$i]}")
		d=$(sqlite3 "$W/s$i/cidre.db" "SELECT max(j.finished) - p.created FROM pipelines p
			JOIN jobs j ON j.pipeline_id = p.id WHERE p.id = (SELECT max(id) FROM pipelines)")
		[ "$r" -gt 1 ] && echo "$d $((a1 - a0)) $((o1 - o0))" >>"$W/res$i"
	done
done
hz=$(getconf CLK_TCK)
n=0
for c in "$@"; do
	m=$(cut -d' ' -f1 "$W/res$n" | median)
	awk -v c="$c" -v m="$m" -v jobs="$JOBS" -v hz="$hz" '
		{ t += $2; o += $3; k++ }
		END { printf "%s: median drain %d ms = %.0f jobs/s; CPU per job: server %.2f ms, with children %.2f ms (%d drains)\n",
			c, m, jobs * 1000 / m, o * 1000 / hz / (jobs * k), t * 1000 / hz / (jobs * k), k }' "$W/res$n"
	n=$((n + 1))
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
