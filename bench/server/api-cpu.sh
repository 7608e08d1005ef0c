#!/usr/bin/env bash
# The API's cost per request, beside its rate (to compare builds or
# malloc settings one after the other, alternating):
#
#   bench/server/api-cpu.sh path/to/cidre TAG
#
# Starts one server (127.0.0.1:0, slots 4, a scratch directory under /tmp
# removed at the end, stopped by its pid), runs one 20-job pipeline, then
# wrk -t2 -c64 -d5s on /healthz and /api/v1/pipelines (the server's
# utime+stime from /proc/PID/stat around the second: CPU ms per 1,000
# requests, steadier than the rate on a loaded machine) and wrk -t1 -c1
# -d5s on /api/v1/pipelines. Needs git, curl and wrk.
set -euo pipefail
C=$1 TAG=$2
W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-api-cpu.XXXXXX"); SP=
cleanup() { [ -n "$SP" ] && kill -TERM "$SP" 2>/dev/null && wait "$SP" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
git init -q --bare "$W/demo.git"; git clone -q "$W/demo.git" "$W/demo" 2>/dev/null
( cd "$W/demo"; : >.gitlab-ci.yml; for i in $(seq -w 1 20); do printf 'job-%s:\n  script: ["true"]\n' "$i" >>.gitlab-ci.yml; done
  git add .gitlab-ci.yml; git -c user.name=b -c user.email=b@x.invalid commit -q -m m; git push -q origin HEAD:main )
mkdir "$W/d"; printf "runner:\n  slots: 4\n" >"$W/d/config.yml"
"$C" server --data "$W/d" --listen 127.0.0.1:0 >"$W/log" 2>&1 & SP=$!
while [ ! -s "$W/d/server-url" ]; do sleep 0.02; done
U=$(cat "$W/d/server-url") T=$(cat "$W/d/admin-token")
curl -fsS -H "Authorization: Bearer $T" -H 'Content-Type: application/json' --data "{\"name\":\"demo\",\"repo\":\"$W/demo.git\",\"public\":true}" "$U/api/v1/projects" >/dev/null
"$(cd "$(dirname "$0")" && pwd)/trigger-wait.sh" "$U" "$T" demo main
cpu() { awk '{print $14+$15}' /proc/$SP/stat; }
c0=$(cpu)
r1=$(wrk -t2 -c64 -d5s -H "Authorization: Bearer $T" "$U/healthz" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
r2=$(wrk -t2 -c64 -d5s -H "Authorization: Bearer $T" "$U/api/v1/pipelines" | awk '/^Requests\/sec/ {printf "%.0f", $2}')
c1=$(cpu); n=$(wrk -t2 -c64 -d5s -H "Authorization: Bearer $T" "$U/api/v1/pipelines" | awk '/requests in/ {print $1}'); c2=$(cpu)
echo "$TAG cpu: $(( (c2-c1)*10*1000 / n )) ms per 1000 /api/v1/pipelines requests ($n requests)"
l=$(wrk -t1 -c1 -d5s --latency -H "Authorization: Bearer $T" "$U/api/v1/pipelines" | awk '/^    50%/ {p=$2} /^Requests\/sec/ {printf "%.0f req/s p50 %s", $2, p}')
echo "$TAG load $(cut -d' ' -f1 /proc/loadavg): healthz c64 $r1 req/s; pipelines c64 $r2 req/s; pipelines c1 $l"
