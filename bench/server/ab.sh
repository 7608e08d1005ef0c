#!/usr/bin/env bash
# Two cidre builds side by side on the job path, in one run, so that a
# shared and busy machine treats both alike:
#
#   bench/server/ab.sh OLD/cidre NEW/cidre
#
# For each build a server (127.0.0.1:0, its own data directory under a
# scratch directory in /tmp, removed at the end, stopped by its pid) with
# runner slots $SLOTS (default 4) and the same project, then:
#   1. trigger → trivial job finished with the sha given (no fetch),
#      hyperfine -N, the builds' runs in one hyperfine call; then the
#      same without the sha (the server fetches);
#   2. where that time goes (medians of $N triggers, ms): POST → pipeline
#      created → job started → job finished (server clock) → client done;
#   3. drain: $DRAIN pipelines of $DRAIN_JOBS trivial jobs each,
#      alternating the builds; jobs/s, the server's own CPU (utime +
#      stime) per job, and with its children (the job launcher, the
#      supervisors, their bash and git: all_ticks in lib.sh);
#   4. VmRSS idle, and $SETTLE s after the drains.
# Needs hyperfine, curl, jq, sqlite3, git. Environment: RUNS=40 N=30
# DRAIN=3 DRAIN_JOBS=100 SLOTS=4 SETTLE=2; DRAIN_ONLY=1 skips 1 and 2.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TW=$HERE/trigger-wait.sh
RUNS=${RUNS:-40}
N=${N:-30}
DRAIN=${DRAIN:-3}
SLOTS=${SLOTS:-4}
DRAIN_JOBS=${DRAIN_JOBS:-100}
DRAIN_ONLY=${DRAIN_ONLY:-}
SETTLE=${SETTLE:-2}
[ $# -ge 2 ] || { echo "usage: $0 OLD/cidre NEW/cidre" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-ab.XXXXXX")
. "$HERE/lib.sh"
trap bench_cleanup EXIT

trivial_repo "$W"
many_branch "$W" "$DRAIN_JOBS"

URL=() TOKEN=() SPID=() NAME=()
rss() { awk '$1 == "VmRSS:" { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now_us() { local t=$EPOCHREALTIME; echo $(( ${t%.*} * 1000000 + 10#${t#*.} )); }

i=0
for c in "$@"; do
	d=$W/s$i
	mkdir -p "$d"
	printf 'runner:\n  slots: %d\n' "$SLOTS" >"$d/config.yml"
	"$c" server --data "$d" --listen 127.0.0.1:0 >"$d.log" 2>&1 &
	SPID[$i]=$!
	PIDS+=("$!")
	wait_url "$d" "$d.log" "$!"
	URL[$i]=$(cat "$d/server-url")
	TOKEN[$i]=$(cat "$d/admin-token")
	NAME[$i]=$c
	i=$((i + 1))
done
sleep 1
for j in "${!SPID[@]}"; do
	echo "s$j = ${NAME[$j]}: idle VmRSS $(rss "${SPID[$j]}") MB"
	curl -fsS -H "Authorization: Bearer ${TOKEN[$j]}" -H 'Content-Type: application/json' \
		--data "{\"name\":\"demo\",\"repo\":\"$W/demo.git\"}" "${URL[$j]}/api/v1/projects" >/dev/null
	for k in 1 2 3; do "$TW" "${URL[$j]}" "${TOKEN[$j]}" demo main "$SHA"; done
done
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

[ -n "$DRAIN_ONLY" ] || {
echo "== 1. trigger → finished, sha given (hyperfine -N, $RUNS runs)"
args=()
for j in "${!SPID[@]}"; do
	args+=(-n "s$j" "$TW ${URL[$j]} ${TOKEN[$j]} demo main $SHA")
done
hyperfine -N --warmup 5 --runs "$RUNS" "${args[@]}" 2>&1 | grep -E '^Benchmark|Time|Range'

echo "== 1b. trigger → finished, no sha (the server fetches; hyperfine -N, $RUNS runs)"
args=()
for j in "${!SPID[@]}"; do
	args+=(-n "s$j" "$TW ${URL[$j]} ${TOKEN[$j]} demo main")
done
hyperfine -N --warmup 5 --runs "$RUNS" "${args[@]}" 2>&1 | grep -E '^Benchmark|Time|Range'

echo "== 2. where it goes (median of $N, ms): POST→created created→started started→finished finished→client total"
for j in "${!SPID[@]}"; do
	: >"$W/t$j"
done
for k in $(seq 1 "$N"); do
	for j in "${!SPID[@]}"; do
		t0=$(now_us)
		"$TW" "${URL[$j]}" "${TOKEN[$j]}" demo main "$SHA"
		echo "$t0 $(now_us)" >>"$W/t$j"
	done
done
for j in "${!SPID[@]}"; do
	sqlite3 "$W/s$j/cidre.db" "SELECT p.created, j.started, j.finished FROM pipelines p
		JOIN jobs j ON j.pipeline_id = p.id WHERE p.ref = 'main' ORDER BY p.id DESC LIMIT $N" |
		tac | tr '|' ' ' >"$W/db$j"
	paste -d' ' "$W/t$j" "$W/db$j" | awk '{ t0 = $1 / 1000; t1 = $2 / 1000;
		printf "%.1f %.1f %.1f %.1f %.1f\n", $3 - t0, $4 - $3, $5 - $4, t1 - $5, t1 - t0 }' >"$W/ph$j"
	printf 's%s ' "$j"
	for f in 1 2 3 4 5; do printf '%s ' "$(cut -d' ' -f$f "$W/ph$j" | median)"; done
	echo
done

}

echo "== 3. drain: $DRAIN × $DRAIN_JOBS jobs, $SLOTS slots"
for j in "${!SPID[@]}"; do
	echo 0 >"$W/us$j"; echo 0 >"$W/cpu$j"; echo 0 >"$W/all$j"; : >"$W/srv$j"
done
for k in $(seq 1 "$DRAIN"); do
	for j in "${!SPID[@]}"; do
		c0=$(cpu_ticks "${SPID[$j]}")
		a0=$(all_ticks "${SPID[$j]}")
		t0=$(now_us)
		"$TW" "${URL[$j]}" "${TOKEN[$j]}" demo many
		t1=$(now_us)
		c1=$(cpu_ticks "${SPID[$j]}")
		a1=$(all_ticks "${SPID[$j]}")
		# the server's clock: the pipeline created → its last job finished
		sqlite3 "$W/s$j/cidre.db" "SELECT max(j.finished) - p.created FROM pipelines p
			JOIN jobs j ON j.pipeline_id = p.id WHERE p.id =
			(SELECT max(id) FROM pipelines WHERE ref = 'many')" >>"$W/srv$j"
		echo $(( $(cat "$W/us$j") + t1 - t0 )) >"$W/us$j"
		echo $(( $(cat "$W/cpu$j") + c1 - c0 )) >"$W/cpu$j"
		echo $(( $(cat "$W/all$j") + a1 - a0 )) >"$W/all$j"
	done
done
for j in "${!SPID[@]}"; do
	awk -v us="$(cat "$W/us$j")" -v t="$(cat "$W/cpu$j")" -v a="$(cat "$W/all$j")" \
		-v n=$((DRAIN * DRAIN_JOBS)) -v hz="$(getconf CLK_TCK)" -v j="$j" \
		-v srv="$(median <"$W/srv$j")" -v per="$DRAIN_JOBS" \
		'BEGIN { printf "s%s %.0f jobs/s (client), %.0f jobs/s (server clock, median), server CPU %.2f ms per job, with its children %.2f ms\n",
			j, n * 1e6 / us, per * 1000 / srv, t * 1000 / hz / n, a * 1000 / hz / n }'
done

sleep "$SETTLE"
echo "== 4. VmRSS $SETTLE s after the drains (idle above)"
for j in "${!SPID[@]}"; do
	echo "s$j $(rss "${SPID[$j]}") MB"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
