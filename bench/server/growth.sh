#!/usr/bin/env bash
# The server's memory over many jobs, read from /proc (issue 3's
# workload 4, alone and quick, to compare builds one after the other):
#
#   bench/server/growth.sh path/to/cidre [PIPELINES]
#
# Starts one server (127.0.0.1:0, runner slots 4, a scratch directory
# under /tmp removed at the end, stopped by its pid) with a project of one
# 100-job pipeline (script: ["true"]), prints VmRSS, RssAnon and RssFile
# idle (1 s after start), after each of PIPELINES (default 11) pipelines
# run to their end with trigger-wait.sh, and 2 s after the last one
# (settled). EXTRA_CONFIG is appended to the server's config.yml (e.g.
# 'events:\n  backlog: 128\n'). Needs git and curl.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TW=$HERE/trigger-wait.sh
[ $# -ge 1 ] || { echo "usage: $0 path/to/cidre [PIPELINES]" >&2; exit 2; }
C=$1 N=${2:-11}

W=$(mktemp -d /tmp/cidre-bench-growth.XXXXXX)
. "$HERE/lib.sh"
SP=
cleanup() {
	[ -n "$SP" ] && kill -TERM "$SP" 2>/dev/null && wait "$SP" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

git init -q --bare "$W/demo.git"
git clone -q "$W/demo.git" "$W/demo" 2>/dev/null
(
	cd "$W/demo"
	: >.gitlab-ci.yml
	for i in $(seq -w 1 100); do
		printf 'job-%s:\n  stage: test\n  script: ["true"]\n' "$i" >>.gitlab-ci.yml
	done
	git add .gitlab-ci.yml
	git -c user.name=bench -c user.email=bench@cidre.invalid commit -q -m many
	git push -q origin HEAD:main
)
mkdir "$W/d"
printf "runner:\n  slots: 4\n${EXTRA_CONFIG:-}" >"$W/d/config.yml"
"$C" server --data "$W/d" --listen 127.0.0.1:0 >"$W/log" 2>&1 &
SP=$!
wait_url "$W/d" "$W/log" "$SP"
rss() {
	awk '/^(VmRSS|RssAnon|RssFile):/ { printf "%s %.2f MB  ", $1, $2 / 1024 }' "/proc/$SP/status"
	echo
}
U=$(cat "$W/d/server-url") T=$(cat "$W/d/admin-token")
sleep 1
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "idle: $(rss)"
curl -fsS -H "Authorization: Bearer $T" -H 'Content-Type: application/json' \
	--data "{\"name\":\"demo\",\"repo\":\"$W/demo.git\"}" "$U/api/v1/projects" >/dev/null
for i in $(seq 1 "$N"); do
	"$TW" "$U" "$T" demo main
	echo "after $((i * 100)) jobs: $(rss)"
done
sleep 2
echo "settled: $(rss)"
