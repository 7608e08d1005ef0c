#!/usr/bin/env bash
# A verbose job in a project with masked variables: how long a job
# printing MB megabytes of text takes when its log passes the masker
# (SECRETS masked variables, each starting with a different lowercase
# letter, as random tokens do), for each build given, alternating:
#
#   bench/server/masked.sh NEW/cidre [OLD/cidre...]
#
# Each build gets a server (127.0.0.1:0, a scratch data directory under
# TMPDIR, removed at the end, stopped by its pid). Prints each round's
# job duration (from the API) and the server's children's CPU for it
# (the supervisor masks). Environment: ROUNDS=3 MB=100 SECRETS=20.
# Needs git, curl and jq.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-3}
MB=${MB:-100}
SECRETS=${SECRETS:-20}
[ $# -ge 1 ] || { echo "usage: $0 NEW/cidre [OLD/cidre...]" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-masked.XXXXXX")
. "$HERE/lib.sh"
trap bench_cleanup EXIT

trivial_repo "$W"
(
	cd "$W/demo"
	git checkout -q -b text
	# a megabyte of ordinary text, printed MB times
	yes "the quick brown fox jumps over the lazy dog, 0123456789 ABC xyz" | head -c 1000000 >text.txt || :
	printf 'text:\n  script:\n    - for i in $(seq 1 %d); do cat text.txt; done\n' "$MB" >.gitlab-ci.yml
	git add text.txt
	git commit -q -a -m text
	git push -q origin text
)
hz=$(getconf CLK_TCK)
SP=() SU=() ST=()
for c in "$@"; do
	i=${#SP[@]}
	bench_server "$W/s$i" "$c" 2
	SP[$i]=$SPID SU[$i]=$URL ST[$i]=$TOKEN
	curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data "{\"name\":\"demo\",\"repo\":\"$W/demo.git\"}" "$URL/api/v1/projects" >/dev/null
	for k in $(seq 0 $((SECRETS - 1))); do
		letter=$(printf "\\$(printf %o $((97 + k % 26)))")
		curl -fsS -X PUT -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
			--data "{\"value\":\"${letter}Xk9q2Lm7vB$k\",\"masked\":true}" \
			"$URL/api/v1/projects/demo/variables/SECRET_$k" >/dev/null
	done
done
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
	for i in "${!SP[@]}"; do
		a=$(all_ticks "${SP[$i]}")
		CIDRE_SERVER=${SU[$i]} CIDRE_TOKEN=${ST[$i]} "$1" trigger -q demo text --wait >"$W/t.json" 2>"$W/t.err" ||
			{ cat "$W/t.err" >&2; echo "bench: the pipeline failed on ${*:$((i + 1)):1}" >&2; exit 1; }
		b=$(all_ticks "${SP[$i]}")
		d=$(curl -fsS -H "Authorization: Bearer ${ST[$i]}" \
			"${SU[$i]}/api/v1/pipelines?per_page=1" | jq -r '.[0].id')
		dur=$(curl -fsS -H "Authorization: Bearer ${ST[$i]}" "${SU[$i]}/api/v1/pipelines/$d" |
			jq -r '.jobs[0].duration')
		echo "round $r ${*:$((i + 1)):1}: job ${dur} s, server and children CPU $(( (b - a) * 1000 / hz )) ms"
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
