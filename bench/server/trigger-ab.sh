#!/usr/bin/env bash
# Trigger → trivial job finished on two builds, one trigger at a time,
# alternating, with the servers' own CPU per trigger: steadier than
# means on a shared, busy machine.
#
#   bench/server/trigger-ab.sh N OLD/cidre NEW/cidre
#
# For each build a server (127.0.0.1:0, slots 4, a scratch directory
# under /tmp removed at the end, stopped by its pid) with the same
# one-job project (script: ["true"]); five warm-up triggers each; then N
# rounds of one trigger-wait.sh (sha given: no fetch) on each build, the
# order swapped every round. Prints per build the median and quartiles
# of the wall time (client clock), the server process's CPU per trigger
# (utime + stime of all its threads, from /proc/PID/stat) and the same
# with its children (the job launcher, the supervisors and their bash:
# all_ticks in lib.sh). With
# CLI=path/to/cidre, each trigger is `cidre trigger --wait -q` (that
# client for both builds) instead of trigger-wait.sh. With
# EXECUTOR=sandbox, both servers run the job in the sandbox (executor:
# in their configuration; the host's / read-only, as no image is named).
# Needs git and curl (and bubblewrap for the sandbox).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TW=$HERE/trigger-wait.sh
[ $# -eq 3 ] || { echo "usage: $0 N OLD/cidre NEW/cidre" >&2; exit 2; }
N=$1
shift

W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-trigger-ab.XXXXXX")
. "$HERE/lib.sh"
trap bench_cleanup EXIT

trivial_repo "$W"

SU=() ST=()
i=0
for c in "$@"; do
	bench_server "$W/s$i" "$c" 4
	SU[$i]=$URL
	ST[$i]=$TOKEN
	curl -fsS -H "Authorization: Bearer ${ST[$i]}" -H 'Content-Type: application/json' \
		--data "{\"name\":\"demo\",\"repo\":\"$W/demo.git\"}" "${SU[$i]}/api/v1/projects" >/dev/null
	for k in 1 2 3 4 5; do "$TW" "${SU[$i]}" "${ST[$i]}" demo main "$SHA"; done
	i=$((i + 1))
done

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
now_us() { local t=$EPOCHREALTIME; echo $(( ${t%.*} * 1000000 + 10#${t#*.} )); }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
C0=() A0=()
for j in 0 1; do
	C0[$j]=$(ticks "${PIDS[$j]}")
	A0[$j]=$(all_ticks "${PIDS[$j]}")
	: >"$W/t$j"
done
for k in $(seq 1 "$N"); do
	if [ $((k % 2)) = 0 ]; then order="0 1"; else order="1 0"; fi
	for j in $order; do
		t0=$(now_us)
		if [ -n "${CLI:-}" ]; then
			CIDRE_SERVER=${SU[$j]} CIDRE_TOKEN=${ST[$j]} "$CLI" trigger --wait -q \
				demo main >/dev/null 2>&1
		else
			"$TW" "${SU[$j]}" "${ST[$j]}" demo main "$SHA"
		fi
		t1=$(now_us)
		echo $((t1 - t0)) >>"$W/t$j"
	done
done
hz=$(getconf CLK_TCK)
for j in 0 1; do
	c=$(( $(ticks "${PIDS[$j]}") - C0[j] ))
	a=$(( $(all_ticks "${PIDS[$j]}") - A0[j] ))
	name=$1
	[ "$j" = 1 ] && name=$2
	sort -n "$W/t$j" | awk -v n="$N" -v c="$c" -v a="$a" -v hz="$hz" -v name="s$j $name" '
		{ v[NR] = $1 / 1000 }
		END { printf "%s: median %.2f ms (q1 %.2f, q3 %.2f); server CPU %.2f ms per trigger, with its children %.2f ms\n",
			name, v[int(NR / 2) + 1], v[int(NR / 4) + 1], v[int(3 * NR / 4) + 1],
			c * 1000 / hz / n, a * 1000 / hz / n }'
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
