#!/bin/sh
# The web UI's pages timed against a store of 10,000 pipelines (docs/benchmarks.md).
#
#   bench/web/run.sh [BUILD_DIR]      (default: build)
#
# Makes a server with 10 projects, fills its database with 10,000 pipelines
# (40,000 jobs, 100,000 test results) through sqlite3, writes a 50 MB job
# log, restarts the server and times each page with curl: the median of
# RUNS requests, server time plus loopback (time_total). Needs sqlite3,
# curl, git. Everything lives in a temporary directory, removed at the end.
set -e
BUILD=${1:-build}
CIDRE=$(cd "$BUILD" && pwd)/cidre
RUNS=${RUNS:-30}
N=${PIPELINES:-10000}
T=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-web.XXXXXX")
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

start() {
	rm -f "$T/data/server-url"
	"$CIDRE" server --data "$T/data" --listen 127.0.0.1:0 >>"$T/server.log" 2>&1 &
	PID=$!
	i=0
	while [ ! -s "$T/data/server-url" ]; do
		i=$((i + 1)); [ $i -gt 500 ] && { cat "$T/server.log"; exit 1; }
		sleep 0.02
	done
	URL=$(cat "$T/data/server-url")
	TOKEN=$(cat "$T/data/admin-token")
}
stop() {
	kill "$PID" && wait "$PID" 2>/dev/null || true
	PID=
}

# a repository and 10 projects
git init -q --bare "$T/app.git"
git clone -q "$T/app.git" "$T/app" 2>/dev/null
printf 'job:\n  script: [true]\n' >"$T/app/.gitlab-ci.yml"
(cd "$T/app" && git add . && git -c user.name=b -c user.email=b@x commit -q -m init &&
	git push -q origin HEAD:main)
mkdir -p "$T/data"
start
for p in 1 2 3 4 5 6 7 8 9 10; do
	curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" \
		-d "{\"name\":\"proj$p\",\"repo\":\"$T/app.git\",\"branches\":\"none\",\"public\":true}" "$URL/api/v1/projects"
done
stop

# 10,000 pipelines, 4 jobs each, 10 tests in each test job (a flaky one)
NOW=$(($(date +%s) * 1000))
sqlite3 "$T/data/cidre.db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
INSERT INTO pipelines (project_id, ref, sha, source, status, variables, ctx, created, started, finished)
SELECT 1 + i % 10, CASE WHEN i % 3 = 0 THEN 'feature-' || (i % 7) ELSE 'main' END,
	printf('%040x', i), 'push', CASE WHEN i % 5 = 0 THEN 'failed' ELSE 'success' END, '{}',
	'{"predefined":{"CI_COMMIT_TITLE":"change number ' || i || '","CI_COMMIT_AUTHOR":"Dev <dev@example.com>","CI_COMMIT_MESSAGE":"change number ' || i || '","CI_COMMIT_SHA":"' || printf('%040x', i) || '","CI_PIPELINE_SOURCE":"push","CI_PROJECT_NAME":"proj","GITLAB_CI":"true","CI":"true"},"overrides":{},"changed":["src/a.c","src/b.c"]}',
	$NOW - ($N - i) * 60000, $NOW - ($N - i) * 60000 + 100, $NOW - ($N - i) * 60000 + 100 + (i % 50) * 1000
FROM n;
WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 3)
INSERT INTO jobs (pipeline_id, project_id, name, stage, stage_idx, plan_idx, status, when_, needs,
	created, queued, started, finished, exit_code, peak_mem, cpu, log_size, tests_total, tests_failed)
SELECT p.id, p.project_id, 'job-' || k.j, CASE WHEN k.j < 2 THEN 'build' ELSE 'test' END,
	CASE WHEN k.j < 2 THEN 0 ELSE 1 END, k.j, 'success', 'on_success',
	CASE WHEN k.j = 3 THEN '[{"job":0,"artifacts":true}]' ELSE NULL END,
	p.created, p.created, p.started, p.finished, 0, 12345678, 1.5, 0,
	CASE WHEN k.j = 2 THEN 10 ELSE -1 END, CASE WHEN k.j = 2 THEN (p.id / 10) % 2 ELSE 0 END
FROM pipelines p, k;
WITH RECURSIVE t(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM t WHERE x < 9)
INSERT INTO tests (job_id, suite, classname, name, status, time, message)
SELECT j.id, 's', 'c', 'test_' || t.x,
	CASE WHEN t.x = 0 AND (j.pipeline_id / 10) % 2 = 1 THEN 'failed' ELSE 'passed' END, 0.01,
	CASE WHEN t.x = 0 AND (j.pipeline_id / 10) % 2 = 1 THEN 'expected 1, got 2' ELSE NULL END
FROM jobs j, t WHERE j.plan_idx = 2;
COMMIT;
SQL

# a 50 MB log: coloured lines, a section every 1000 lines
# the last pipeline of proj1 whose test job has a failed test (with a flaky history)
LAST_P=$(sqlite3 "$T/data/cidre.db" "SELECT max(id) FROM pipelines WHERE project_id = 1 AND (id / 10) % 2 = 1")
BIG=$(sqlite3 "$T/data/cidre.db" "SELECT id FROM jobs WHERE pipeline_id = $LAST_P AND plan_idx = 0")
TESTJOB=$(sqlite3 "$T/data/cidre.db" "SELECT id FROM jobs WHERE pipeline_id = $LAST_P AND plan_idx = 2")
awk 'BEGIN {
	for (i = 0; i < 700000; i++) {
		if (i % 1000 == 0) printf "\033[0Ksection_start:%d:step_%d\r\033[0K\033[1mstep %d\033[0m\n", i, i, i
		printf "\033[32mok\033[0m line %d of a long build log, with <markup> & text to escape\n", i
		if (i % 1000 == 999) printf "\033[0Ksection_end:%d:step_%d\r\033[0K\n", i, i - 999
	}
}' >"$T/data/logs/$BIG.log"
SIZE=$(stat -c %s "$T/data/logs/$BIG.log")
sqlite3 "$T/data/cidre.db" "UPDATE jobs SET log_size = $SIZE WHERE id = $BIG"

start
time_page() {
	# median of RUNS, in ms
	for _ in $(seq "$RUNS"); do
		curl -s -o /dev/null -w '%{time_total}\n' "$URL$1"
	done | sort -n | awk '{ a[NR] = $1 } END { printf "%.2f", a[int((NR + 1) / 2)] * 1000 }'
}
printf '%-42s %10s\n' page 'median ms'
for p in / /p/proj1 '/p/proj1?ref=main&status=failed' '/p/proj1?page=40' \
	"/pipelines/$LAST_P" "/jobs/$TESTJOB" /p/proj1/badge.svg /p/proj1/pipelines.atom \
	/login /static/cidre.css; do
	printf '%-42s %10s\n' "$p" "$(time_page "$p")"
done
RUNS=3
printf '%-42s %10s\n' "/jobs/$BIG (50 MB log, first byte)" \
	"$(curl -s -o /dev/null -w '%{time_starttransfer}' "$URL/jobs/$BIG" | awk '{ printf "%.2f", $1 * 1000 }')"
printf '%-42s %10s   (%s bytes of log)\n' "/jobs/$BIG (50 MB log, whole page)" "$(time_page "/jobs/$BIG")" "$SIZE"
curl -s -o "$T/big.html" "$URL/jobs/$BIG"
grep -q 'class="flaky"' "$T/big.html" || true
printf 'rendered page: %s bytes; server peak resident memory: %s kB\n' \
	"$(stat -c %s "$T/big.html")" "$(awk '/VmHWM/ { print $2 }' /proc/$PID/status)"
curl -s "$URL/jobs/$TESTJOB" | grep -q 'class="flaky"' && echo "test job page: the failed test is marked flaky"
