#!/usr/bin/env bash
# Idle RSS and GET /healthz throughput of two cidre builds, side by side:
# each round starts A then B (alternating, so that the machine's noise
# falls on both), reads /proc/PID/status after SETTLE seconds idle, runs
# wrk -t2 -c64 for WRK_SECONDS, and stops the server by its pid.
#
#   bench/server/http-ab.sh OLD/build/cidre NEW/build/cidre
#
# Environment: ROUNDS=3 WRK_SECONDS=10 SETTLE=1. Prints one line per
# server run: label, VmRSS, RssAnon, RssFile (kB), req/s, load average.
# Every server listens on 127.0.0.1 (a free port) with a scratch data
# directory under /tmp, removed at the end.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 CIDRE_A CIDRE_B" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
WRK_SECONDS=${WRK_SECONDS:-10}
SETTLE=${SETTLE:-1}
W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-http-ab.XXXXXX")
SPID=
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

st() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

one() {
	local label=$1 bin=$2 data=$W/$1.$3 n=0 url rps
	mkdir -p "$data"
	"$bin" server --data "$data" --listen 127.0.0.1:0 >"$data.log" 2>&1 &
	SPID=$!
	while [ ! -s "$data/server-url" ]; do
		n=$((n + 1))
		[ "$n" -gt 500 ] && { cat "$data.log" >&2; exit 1; }
		sleep 0.02
	done
	url=$(cat "$data/server-url")
	sleep "$SETTLE"
	printf '%s\t%s\t%s\t%s\t' "$label" "$(st "$SPID" VmRSS)" \
		"$(st "$SPID" RssAnon)" "$(st "$SPID" RssFile)"
	rps=$(wrk -t2 -c64 -d"${WRK_SECONDS}s" "$url/healthz" |
		awk '/^Requests\/sec/ { printf "%.0f", $2 }')
	printf '%s\t%s\n' "$rps" "$(cut -d' ' -f1-3 /proc/loadavg)"
	kill "$SPID"
	wait "$SPID" 2>/dev/null || true
	SPID=
}

printf 'build\tVmRSS\tRssAnon\tRssFile\treq/s\tload\n'
for r in $(seq "$ROUNDS"); do
	one A "$1" "$r"
	one B "$2" "$r"
done
