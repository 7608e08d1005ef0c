#!/usr/bin/env bash
# cidre server: trigger latency, queue drain rate, memory, API latency and
# HTTP throughput, beside Laminar 1.4's figures measured on this machine.
#
#   CIDRE=build/cidre bench/server/run.sh
#
# Builds nothing; needs hyperfine, wrk, curl, jq, sqlite3 and git. Every
# server it starts listens on 127.0.0.1 (any free port), has its own data
# directory under a scratch directory in $TMPDIR or /tmp (removed at the
# end), and is stopped by its pid. Environment:
#   CIDRE=PATH        the cidre binary (default: build/cidre of this tree)
#   TMPDIR=DIR        where the scratch directory goes (default /tmp; on
#                     this VM a /tmp churned by tests creates files 20x
#                     slower: docs/benchmarks.md, "the disk under /tmp")
#   RUNS=30 WARMUP=5  hyperfine runs of the trigger → finished workload
#   SLOTS="1 2 4 8"   runner slots (runner: {slots: N}) for the drain workload
#   DRAIN_JOBS=100    jobs in the drained pipeline (one stage)
#   DRAIN_RUNS=3      drains per slot count (the median is reported)
#   DRAIN_CLIENT=cli  what waits for each drain (and each pipeline of the
#                     growth workload): `cidre trigger --wait` (one events
#                     stream), or bash = trigger-wait.sh, which follows
#                     every job's log stream in turn and takes a CPU's
#                     worth of bash from the server during a drain
#   GROWTH_JOBS=1000  jobs run between the two RSS readings (100 per pipeline)
#   SETTLE=2          seconds between the last of those jobs and the reading
#   LIST_SIZES="1000 100000"  pipelines in the database for the list workload
#   WRK_SECONDS=10    wrk -t2 -c64 duration; LAT_SECONDS=5 for the -c1 latency runs
#   OUT=/tmp/cidre-bench-server-results  where the summary and raw outputs go
#                     (kept; outside bench/results, which bench/run.sh owns)
#   SMAPS=PREFIX      the server's /proc/PID/smaps at idle and after the
#                     growth jobs, as PREFIX.idle and PREFIX.end (smaps-diff.py)
# A benchmark, not a test: missing a goal is reported, the exit status is
# 0 unless something could not be measured.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CIDRE=${CIDRE:-$ROOT/build/cidre}
DRAIN_CLIENT=${DRAIN_CLIENT:-cli}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
SLOTS=${SLOTS:-"1 2 4 8"}
DRAIN_JOBS=${DRAIN_JOBS:-100}
DRAIN_RUNS=${DRAIN_RUNS:-3}
GROWTH_JOBS=${GROWTH_JOBS:-1000}
LIST_SIZES=${LIST_SIZES:-"1000 100000"}
WRK_SECONDS=${WRK_SECONDS:-10}
LAT_SECONDS=${LAT_SECONDS:-5}
SETTLE=${SETTLE:-2}
OUT=${OUT:-/tmp/cidre-bench-server-results}
. "$HERE/lib.sh"
TW=$HERE/trigger-wait.sh

die() { printf 'bench/server: %s\n' "$*" >&2; exit 1; }
say() { printf '== %s\n' "$*" >&2; }

[ -x "$CIDRE" ] || die "no cidre binary at $CIDRE: run make (or set CIDRE=)"
CIDRE=$(cd "$(dirname "$CIDRE")" && pwd)/$(basename "$CIDRE")
for t in hyperfine wrk curl jq sqlite3 git; do
	command -v "$t" >/dev/null || die "$t is missing (apt-get install $t)"
done
mkdir -p "$OUT"

W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-server.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	rm -rf "$W"
}
trap cleanup EXIT

# ---- helpers ----------------------------------------------------------------

# start_server NAME [SLOTS]: a server with data directory $W/NAME; sets
# SPID, URL, TOKEN, DATA. A config file is written when SLOTS is given.
start_server() {
	local n=0
	DATA=$W/$1
	mkdir -p "$DATA"
	[ -n "${2:-}" ] && printf 'runner:\n  slots: %d\n' "$2" >"$DATA/config.yml"
	rm -f "$DATA/server-url"
	"$CIDRE" server --data "$DATA" --listen 127.0.0.1:0 >>"$DATA.log" 2>&1 &
	SPID=$!
	PIDS+=("$SPID")
	while [ ! -s "$DATA/server-url" ]; do
		kill -0 "$SPID" 2>/dev/null || { cat "$DATA.log" >&2; die "the server did not start"; }
		n=$((n + 1))
		[ "$n" -gt 500 ] && die "the server did not write $DATA/server-url in 10 s"
		sleep 0.02
	done
	URL=$(cat "$DATA/server-url")
	TOKEN=$(cat "$DATA/admin-token")
}

stop_server() {
	local p keep=()
	kill -TERM "$SPID" 2>/dev/null || true
	wait "$SPID" 2>/dev/null || true
	# forget it: its pid may be reused by then
	for p in "${PIDS[@]}"; do
		[ "$p" = "$SPID" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

api() {	# api METHOD PATH [JSON]
	if [ $# -ge 3 ]; then
		curl -fsS -X "$1" -H "Authorization: Bearer $TOKEN" \
			-H 'Content-Type: application/json' --data-binary "$3" "$URL$2"
	else
		curl -fsS -X "$1" -H "Authorization: Bearer $TOKEN" "$URL$2"
	fi
}

rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
mb2() { awk -v k="$1" 'BEGIN { printf "%.2f", k / 1024 }'; }

# ms since the epoch of an RFC 3339 time with milliseconds
ms_of() { jq -rn --arg t "$1" '($t | sub("\\.[0-9]+Z$"; "Z") | fromdate) * 1000 + ($t | capture("\\.(?<m>[0-9]+)Z$").m | tonumber)'; }
now_ms() { local t=$EPOCHREALTIME; echo $(( ${t%.*} * 1000 + 10#${t#*.} / 1000 )); }

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- the repository: branch main (1 trivial job), branch many (DRAIN_JOBS) --

say "repository"
{ trivial_repo "$W" && many_branch "$W" "$DRAIN_JOBS"; } || die "cannot create the repository"
SHA_MAIN=$(git --git-dir="$W/demo.git" rev-parse main)

add_project() { api POST /api/v1/projects "{\"name\":\"demo\",\"repo\":\"$W/demo.git\"}" >/dev/null; }

# run_many: trigger the DRAIN_JOBS pipeline, wait; prints "t0 created first_start last_end" (ms)
run_many() {
	local t0 p
	t0=$(now_ms)
	if [ "$DRAIN_CLIENT" = bash ]; then
		"$TW" "$URL" "$TOKEN" demo many || die "the $DRAIN_JOBS-job pipeline failed"
	else
		CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN "$CIDRE" trigger -q demo many --wait >/dev/null ||
			die "the $DRAIN_JOBS-job pipeline failed"
	fi
	p=$(api GET "/api/v1/pipelines?ref=many&per_page=1" | jq '.[0].id')
	api GET "/api/v1/pipelines/$p" >"$W/p.json"
	echo "$t0 $(ms_of "$(jq -r .created_at "$W/p.json")")" \
		"$(ms_of "$(jq -r '[.jobs[].started_at] | min' "$W/p.json")")" \
		"$(ms_of "$(jq -r '[.jobs[].finished_at] | max' "$W/p.json")")"
}

# ---- 3, 4: idle RSS and growth over GROWTH_JOBS jobs; then 1 and 6 -------

{
	echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r)"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (before the runs)"
	echo "cidre:   $("$CIDRE" --version) ($CIDRE)"
} | tee "$OUT/machine.txt" >&2

say "idle RSS"
# Laminar's idle figure is a daemon whose jobs are configured before it
# starts: the project is added, the server started again, then read.
# An empty server (no project yet) is read too, for the row beside it.
start_server main
sleep 1
EMPTY_RSS=$(rss_kb "$SPID" VmRSS)
add_project
stop_server
start_server main
sleep 1
IDLE_RSS=$(rss_kb "$SPID" VmRSS)
IDLE_ANON=$(rss_kb "$SPID" RssAnon)
IDLE_FILE=$(rss_kb "$SPID" RssFile)
[ -z "${SMAPS:-}" ] || cat "/proc/$SPID/smaps" >"$SMAPS.idle"

say "growth over $GROWTH_JOBS jobs"
run_many >/dev/null	# warm-up: first pipeline, first jobs
WARM0_RSS=$(rss_kb "$SPID" VmRSS)
# settled after the warm-up too: the growth over the jobs that follow,
# without the code pages the first pipeline touches once
sleep "$SETTLE"
WARM_RSS=$(rss_kb "$SPID" VmRSS)
WARM_FILE=$(rss_kb "$SPID" RssFile)
: >"$OUT/growth.txt"
for i in $(seq 1 $((GROWTH_JOBS / DRAIN_JOBS))); do
	run_many >/dev/null
	echo "$((i * DRAIN_JOBS)) $(rss_kb "$SPID" VmRSS)" >>"$OUT/growth.txt"
done
END0_RSS=$(rss_kb "$SPID" VmRSS)
# what stays: the server gives free malloc pages back after a quiet second
sleep "$SETTLE"
END_RSS=$(rss_kb "$SPID" VmRSS)
END_ANON=$(rss_kb "$SPID" RssAnon)
[ -z "${SMAPS:-}" ] || cat "/proc/$SPID/smaps" >"$SMAPS.end"

say "trigger → finished (hyperfine)"
cat >"$W/floor.sh" <<'EOF'
# the client's own cost: bash start-up and three HTTP/1.0 GETs of /healthz
url=${1#http://}; host=${url%%:*}; port=${url##*:}
for i in 1 2 3; do
	exec 3<>"/dev/tcp/$host/$port"; printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3
	IFS= read -r -d '' r <&3; exec 3<&-
done
EOF
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$OUT/trigger.json" \
	-n "trigger+wait" "$TW $URL $TOKEN demo" \
	-n "trigger+wait, sha given (no fetch)" "$TW $URL $TOKEN demo main $SHA_MAIN" \
	-n "client floor" "bash $W/floor.sh $URL" >"$OUT/trigger.txt" 2>&1 ||
	{ cat "$OUT/trigger.txt" >&2; die "hyperfine failed"; }
# the CLI as a user runs it, Laminar's `laminarc run` counterpart (its
# process included): the headline
CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN hyperfine -N --warmup "$WARMUP" --runs "$RUNS" \
	--export-json "$OUT/trigger-cli.json" \
	-n "cidre trigger --wait" "$CIDRE trigger demo --wait -q" >"$OUT/trigger-cli.txt" 2>&1 ||
	{ cat "$OUT/trigger-cli.txt" >&2; die "hyperfine failed"; }
hf() {	# hf FILE NAME FIELD: seconds → ms
	jq -r --arg n "$2" ".results[] | select(.command == \$n) | .$3 * 1000 | . * 10 | round / 10" "$1"
}
T_MEAN=$(hf "$OUT/trigger.json" "trigger+wait" mean)
T_MED=$(hf "$OUT/trigger.json" "trigger+wait" median)
T_MIN=$(hf "$OUT/trigger.json" "trigger+wait" min)
T_SD=$(hf "$OUT/trigger.json" "trigger+wait" stddev)
TS_MEAN=$(hf "$OUT/trigger.json" "trigger+wait, sha given (no fetch)" mean)
TS_MED=$(hf "$OUT/trigger.json" "trigger+wait, sha given (no fetch)" median)
TF_MEAN=$(hf "$OUT/trigger.json" "client floor" mean)
TC_MEAN=$(hf "$OUT/trigger-cli.json" "cidre trigger --wait" mean)
TC_MED=$(hf "$OUT/trigger-cli.json" "cidre trigger --wait" median)
TC_SD=$(hf "$OUT/trigger-cli.json" "cidre trigger --wait" stddev)

say "wrk -t2 -c64 -d${WRK_SECONDS}s"
wrk_rps() { awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$1"; }
wrk -t2 -c64 -d"${WRK_SECONDS}s" "$URL/healthz" >"$OUT/wrk-healthz.txt" 2>&1
wrk -t2 -c64 -d"${WRK_SECONDS}s" "$URL/" >"$OUT/wrk-root.txt" 2>&1
RPS_HEALTHZ=$(wrk_rps "$OUT/wrk-healthz.txt")
RPS_ROOT=$(wrk_rps "$OUT/wrk-root.txt")
stop_server
sqlite3 "$W/main/cidre.db" ".backup $W/seed.db"

# ---- 2: drain rate ------------------------------------------------------

: >"$OUT/drain.txt"
DRAIN_ROWS=""
for s in $SLOTS; do
	say "drain $DRAIN_JOBS jobs, $s slots"
	start_server "drain-$s" "$s"
	add_project
	run_many >/dev/null	# warm-up
	: >"$W/d"
	for r in $(seq 1 "$DRAIN_RUNS"); do
		read -r t0 created first last < <(run_many)
		echo "$s $t0 $created $first $last" >>"$OUT/drain.txt"
		echo "$((last - t0)) $((first - t0)) $((last - first))" >>"$W/d"
	done
	stop_server
	tot=$(cut -d' ' -f1 "$W/d" | median)
	pre=$(cut -d' ' -f2 "$W/d" | median)
	runp=$(cut -d' ' -f3 "$W/d" | median)
	DRAIN_ROWS+="| $s | $tot | $pre | $(awk -v n="$DRAIN_JOBS" -v t="$tot" 'BEGIN { printf "%.0f", n * 1000 / t }') | $(awk -v n="$DRAIN_JOBS" -v t="$runp" 'BEGIN { printf "%.0f", n * 1000 / t }') |"$'\n'
	[ -z "${BEST_RATE:-}" ] || [ "$(awk -v a="$DRAIN_JOBS" -v t="$tot" -v b="$BEST_RATE" 'BEGIN { print (a * 1000 / t > b) }')" = 1 ] &&
		BEST_RATE=$(awk -v n="$DRAIN_JOBS" -v t="$tot" 'BEGIN { printf "%.0f", n * 1000 / t }') BEST_SLOTS=$s
done

# ---- 5: pipeline list with many pipelines --------------------------------

# wrk_lat FILE: "mean p50 p99" latency in ms of a wrk --latency run
wrk_lat() {
	awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
	     /^    Latency/ { mean = ms($2) } /^     50%/ { p50 = ms($2) } /^     99%/ { p99 = ms($2) }
	     END { printf "%.3f %.3f %.3f\n", mean, p50, p99 }' "$1"
}
LIST_ROWS=""
for n in $LIST_SIZES; do
	say "pipeline list with $n pipelines"
	mkdir -p "$W/list-$n"
	cp "$W/seed.db" "$W/list-$n/cidre.db"
	cp -p "$W/main/admin-token" "$W/list-$n/"	# written only for a new database
	cp -p "$W/main/secret.key" "$W/list-$n/"	# the database's sealed secrets go with their key
	have=$(sqlite3 "$W/list-$n/cidre.db" 'SELECT count(*) FROM pipelines')
	# copies of the newest successful pipeline (with its real ctx), one per ms
	sqlite3 "$W/list-$n/cidre.db" "
		INSERT INTO pipelines (project_id, ref, sha, before_sha, source, status, error,
		                       name, variables, ctx, created, started, finished)
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $((n - have)))
		SELECT p.project_id, p.ref, p.sha, p.before_sha, p.source, p.status, p.error,
		       p.name, p.variables, p.ctx, p.created + i, p.started + i, p.finished + i
		FROM c, (SELECT * FROM pipelines WHERE status = 'success' ORDER BY id DESC LIMIT 1) p;"
	start_server "list-$n"
	[ "$(api GET '/api/v1/pipelines' | jq length)" = 20 ] || die "the pipeline list is not 20 long"
	api GET '/api/v1/pipelines' | wc -c >"$OUT/list-$n.bytes"
	wrk -t1 -c1 -d"${LAT_SECONDS}s" --latency "$URL/api/v1/pipelines" >"$OUT/wrk-list-$n.txt" 2>&1
	wrk -t1 -c1 -d"${LAT_SECONDS}s" --latency "$URL/healthz" >"$OUT/wrk-list-$n-healthz.txt" 2>&1
	read -r lm l50 l99 < <(wrk_lat "$OUT/wrk-list-$n.txt")
	read -r hm h50 h99 < <(wrk_lat "$OUT/wrk-list-$n-healthz.txt")
	net=$(awk -v a="$l50" -v b="$h50" 'BEGIN { printf "%.3f", a - b }')
	LIST_ROWS+="| $n | $(cat "$OUT/list-$n.bytes") | $lm | $l50 | $l99 | $hm | $h50 | $net |"$'\n'
	eval "LIST_NET_$n=$net LIST_MEAN_$n=$lm LIST_P50_$n=$l50"
	stop_server
done

# ---- the table ---------------------------------------------------------------

l1k="${LIST_MEAN_1000:-?} / ${LIST_P50_1000:-?}"; n1k=${LIST_NET_1000:-?}
l100k="${LIST_MEAN_100000:-?} / ${LIST_P50_100000:-?}"; n100k=${LIST_NET_100000:-?}
{
	echo
	echo "## cidre server vs Laminar 1.4 (Laminar's figures measured on this machine)"
	echo
	echo "| # | workload | cidre | Laminar 1.4 | goal |"
	echo "|---|---|---:|---:|---:|"
	echo "| 1 | trigger → trivial job finished, \`cidre trigger --wait -q\` (ms, mean; median) | $TC_MEAN ± $TC_SD; $TC_MED | 12 | ≤ 6 |"
	echo "| 1 | … the bash client (no process started) | $T_MEAN ± $T_SD; $T_MED | – | – |"
	echo "| 2 | $DRAIN_JOBS queued trivial jobs drained (jobs/s, best: $BEST_SLOTS slots) | $BEST_RATE | 103–162 | ≥ 500 |"
	echo "| 3 | idle RSS (MB), its project configured | $(mb2 "$IDLE_RSS") | 8.7 | ≤ 4 |"
	echo "| 4 | RSS growth over $GROWTH_JOBS jobs (MB), from idle | $(mb2 "$IDLE_RSS") → $(mb2 "$END_RSS") ($(awk -v a="$IDLE_RSS" -v b="$END_RSS" 'BEGIN { printf "%+.2f", (b - a) / 1024 }')) | 8.7 → 10.8 (+2.1) | ≤ +0.5 |"
	echo "| 4 | … from an empty server (the project added, then the jobs) | $(mb2 "$EMPTY_RSS") → $(mb2 "$END_RSS") ($(awk -v a="$EMPTY_RSS" -v b="$END_RSS" 'BEGIN { printf "%+.2f", (b - a) / 1024 }')) | – | – |"
	echo "| 4 | … from the end of the first pipeline (settled) | $(mb2 "$WARM_RSS") → $(mb2 "$END_RSS") ($(awk -v a="$WARM_RSS" -v b="$END_RSS" 'BEGIN { printf "%+.2f", (b - a) / 1024 }')) | – | ≤ +0.5 |"
	echo "| 5 | pipeline list, 1,000 pipelines (ms: mean / p50; p50 − /healthz p50) | $l1k; $n1k | 2.9 | ≤ 0.5 |"
	echo "| 5 | pipeline list, 100,000 pipelines (ms: mean / p50; p50 − /healthz p50) | $l100k; $n100k | – | ≤ 1 |"
	echo "| 6 | wrk -t2 -c64 GET /healthz (req/s) | $RPS_HEALTHZ | 50k | ≥ 80k |"
	echo "| 6 | wrk -t2 -c64 GET / (req/s) | $RPS_ROOT | 50k | ≥ 80k |"
	echo
	echo "1: the bash client with the sha given (no fetch): $TS_MEAN ms mean, $TS_MED median;" \
		"its floor (bash + 3 GETs): $TF_MEAN ms"
	echo
	echo "2: drain of $DRAIN_JOBS jobs, median of $DRAIN_RUNS (ms from the POST; waited for by $DRAIN_CLIENT)"
	echo
	echo "| slots | last job finished | first job started | jobs/s from the POST | jobs/s first start → last end |"
	echo "|---:|---:|---:|---:|---:|"
	printf '%s' "$DRAIN_ROWS"
	echo
	echo "3, 4: idle RssAnon $(mb "$IDLE_ANON") MB, RssFile $(mb "$IDLE_FILE") MB;" \
		"after the warm-up pipeline $(mb "$WARM0_RSS") MB, $(mb "$WARM_RSS") MB settled (RssFile $(mb "$IDLE_FILE") → $(mb "$WARM_FILE") MB: code the first pipeline runs);" \
		"after $GROWTH_JOBS more jobs" \
		"$(mb "$END_RSS") MB (RssAnon $(mb "$END_ANON") MB; $(mb "$END0_RSS") MB right after the last job)"
	echo
	echo "5: wrk -t1 -c1 -d${LAT_SECONDS}s --latency (one connection, requests back to back; ms)"
	echo
	echo "| pipelines | body bytes | list mean | p50 | p99 | /healthz mean | /healthz p50 | p50 difference |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s' "$LIST_ROWS"
} | tee "$OUT/summary.md"
