#!/usr/bin/env bash
# Pipeline listings as an anonymous reader sees them (only public
# projects: the visible filter), on one or more builds:
#
#   bench/server/list-visible.sh [N] BUILD/cidre...
#
# For each build: a server (127.0.0.1:0, its own data directory under a
# scratch directory in /tmp, removed at the end, stopped by its pid)
# makes its database; then N pipelines (default 100000) are inserted
# with sqlite3 into three layouts, each measured with `wrk -t1 -c1
# --latency` (p50 of the first page, the third page and a keyset page;
# /healthz beside them):
#   all      one public project holds every pipeline
#   few      500 old pipelines of a public project under the rest of a
#            private one (the visible rows are few: the index serves)
#   sparse   1,500 old public ones under the rest (more than the count
#            bound, all of them old: the table is read backwards)
# Needs sqlite3, wrk and curl.
set -euo pipefail
N=100000
case ${1:-} in [0-9]*) N=$1; shift ;; esac
[ $# -ge 1 ] || { echo "usage: $0 [N] BUILD/cidre..." >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-listv.XXXXXX")   # removed by bench_cleanup
. "$HERE/lib.sh"
trap bench_cleanup EXIT

# start BUILD DIR: its server on DIR (what it wrote there at its last stop
# cleared); stop: that server, by its pid
start() { rm -f "$2/server-url"; bench_server "$2" "$1"; }
stop() { kill "$SPID"; wait "$SPID" 2>/dev/null || true; }
p50() { wrk -t1 -c1 -d"${SECONDS_EACH:-3}s" --latency "$1" | awk '/^     50%/ { print $2 }'; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $N pipelines"
for c in "$@"; do
	for layout in all few sparse; do
		d=$W/$layout
		rm -rf "$d" && start "$c" "$d" && stop
		now=$(($(date +%s) * 1000))
		case $layout in all) pub=$N ;; few) pub=500 ;; sparse) pub=1500 ;; esac
		sqlite3 "$d/cidre.db" "
			INSERT INTO projects (name, repo, branches, poll_interval, hook_secret,
			                      webhook_secret, created, public)
			VALUES ('pub', '/x', '*', 0, 'x', 'x', 1, 1), ('priv', '/y', '*', 0, 'x', 'x', 1, 0);
			INSERT INTO pipelines (project_id, ref, sha, source, status, variables,
			                       created, started, finished)
			WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $N)
			SELECT CASE WHEN i <= $pub THEN 1 ELSE 2 END, 'main',
			       printf('%040x', i * 2654435761 % 4294967296), 'push', 'success', '{}',
			       $now - 300000 + i, $now - 300000 + i, $now - 300000 + i FROM c;"
		start "$c" "$d"
		echo "$c $layout: first page $(p50 "$URL/api/v1/pipelines")," \
			"page 3 $(p50 "$URL/api/v1/pipelines?page=3")," \
			"keyset $(p50 "$URL/api/v1/pipelines?before=$((N + 1))")," \
			"/healthz $(p50 "$URL/healthz")"
		stop
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
