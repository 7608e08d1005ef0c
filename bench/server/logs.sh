#!/usr/bin/env bash
# Following a big log: the server's CPU and the client's time for `cidre
# log -f` of a finished job whose log is at the cap (64 MiB by default),
# one follower at a time and FOLLOWERS at once, for each build given:
#
#   bench/server/logs.sh NEW/cidre [OLD/cidre...]
#
# Each build gets a server (127.0.0.1:0, a scratch data directory under
# TMPDIR, removed at the end, stopped by its pid) and one job printing
# MB megabytes in lines of 100 bytes; the followers are that build's own
# client. Checks that what a follower printed is the log byte for byte.
# Environment: ROUNDS=3 MB=300 FOLLOWERS=4. Needs git and curl.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-3}
MB=${MB:-300}
FOLLOWERS=${FOLLOWERS:-4}
[ $# -ge 1 ] || { echo "usage: $0 NEW/cidre [OLD/cidre...]" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-logs.XXXXXX")
. "$HERE/lib.sh"
trap bench_cleanup EXIT

trivial_repo "$W"
(
	cd "$W/demo"
	git checkout -q -b big
	printf 'big:\n  script:\n    - head -c %d /dev/zero | tr "\\\\0" x | fold -w 99\n' \
		"$((MB * 990000))" >.gitlab-ci.yml
	git commit -q -a -m big
	git push -q origin big
)
own_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
n=0
for c in "$@"; do
	bench_server "$W/s$n" "$c" 2
	export CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN
	curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data "{\"name\":\"demo\",\"repo\":\"$W/demo.git\"}" "$URL/api/v1/projects" >/dev/null
	"$c" trigger -q demo big --wait >/dev/null 2>&1 || true
	log=$W/s$n/logs/1.log
	echo "$c: a log of $(wc -c <"$log") bytes"
	for r in $(seq 1 "$ROUNDS"); do
		a=$(own_ticks "$SPID") t0=$(date +%s%N)
		"$c" log -f 1 >"$W/f.out"
		t1=$(date +%s%N) b=$(own_ticks "$SPID")
		cmp -s "$W/f.out" "$log" || { echo "bench: the follower's copy differs from the log" >&2; exit 1; }
		echo "  one follower: $(( (t1 - t0) / 1000000 )) ms, server CPU $(( (b - a) * 1000 / hz )) ms"
		a=$(own_ticks "$SPID") t0=$(date +%s%N)
		fp=()
		for i in $(seq 1 "$FOLLOWERS"); do
			"$c" log -f 1 >"$W/f$i.out" &
			fp+=($!)
		done
		wait "${fp[@]}"
		t1=$(date +%s%N) b=$(own_ticks "$SPID")
		echo "  $FOLLOWERS followers at once: $(( (t1 - t0) / 1000000 )) ms, server CPU $(( (b - a) * 1000 / hz )) ms"
	done
	kill "$SPID"
	wait "$SPID" 2>/dev/null || true
	n=$((n + 1))
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
