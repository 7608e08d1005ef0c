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
# 'events:\n  backlog: 128\n'). RESTART=1: the project is added first and
# the server started again, so "idle" is a server with its project, as
# after a restart (Laminar's jobs are configured before it starts); the
# code adding a project runs is then not counted. NO_CONFIG=1: no
# config.yml (the embedded defaults: 2 slots): the YAML parser's code
# is then paged in by the first pipeline rather than at start. Needs git
# and curl. SMAPS=PREFIX: /proc/PID/smaps saved idle and settled, as
# PREFIX.idle and PREFIX.settled (what grew, mapping by mapping).
# RESIDENT=PREFIX: the server's resident text, 64 kB window by window
# (resident.py), saved idle and settled as PREFIX.idle and PREFIX.settled.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TW=$HERE/trigger-wait.sh
[ $# -ge 1 ] || { echo "usage: $0 path/to/cidre [PIPELINES]" >&2; exit 2; }
C=$1 N=${2:-11}

W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-growth.XXXXXX")
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
[ -n "${NO_CONFIG:-}" ] || printf "runner:\n  slots: 4\n${EXTRA_CONFIG:-}" >"$W/d/config.yml"
start() {
	rm -f "$W/d/server-url"
	"$C" server --data "$W/d" --listen 127.0.0.1:0 >>"$W/log" 2>&1 &
	SP=$!
	wait_url "$W/d" "$W/log" "$SP"
	U=$(cat "$W/d/server-url") T=$(cat "$W/d/admin-token")
}
add_project() {
	curl -fsS -H "Authorization: Bearer $T" -H 'Content-Type: application/json' \
		--data "{\"name\":\"demo\",\"repo\":\"$W/demo.git\"}" "$U/api/v1/projects" >/dev/null
}
start
if [ -n "${RESTART:-}" ]; then
	add_project
	kill -TERM "$SP" && wait "$SP" || true
	start
fi
rss() {
	awk '/^(VmRSS|RssAnon|RssFile):/ { printf "%s %.2f MB  ", $1, $2 / 1024 }' "/proc/$SP/status"
	echo
}
sleep 1
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "idle${RESTART:+ (with its project, restarted)}: $(rss)"
[ -z "${SMAPS:-}" ] || cat /proc/$SP/smaps >"$SMAPS.idle"
[ -z "${RESIDENT:-}" ] || "$HERE/resident.py" "$SP" >"$RESIDENT.idle"
[ -n "${RESTART:-}" ] || add_project
for i in $(seq 1 "$N"); do
	"$TW" "$U" "$T" demo main
	echo "after $((i * 100)) jobs: $(rss)"
done
sleep 2
echo "settled: $(rss)"
[ -z "${SMAPS:-}" ] || cat /proc/$SP/smaps >"$SMAPS.settled"
[ -z "${RESIDENT:-}" ] || "$HERE/resident.py" "$SP" >"$RESIDENT.settled"
