#!/usr/bin/env bash
# The command-line client, two builds side by side: what a user waits for
# when typing `cidre status` or `cidre trigger --wait` (Laminar's figure
# for the latter is a blocking `laminarc run`: 12 ms on this machine).
#
#   bench/server/cli.sh OLD/cidre NEW/cidre
#
# Starts NEW's server (127.0.0.1:0, slots 4, a scratch directory under
# /tmp removed at the end, stopped by its pid) with a one-job project
# (script: ["true"]) and 20 pipelines, then runs hyperfine (-N, the
# builds interleaved in one call) on:
#   - `cidre status demo` (one GET, a table of 20 pipelines),
#   - `cidre trigger --wait -q demo main` (POST, the status events until
#     the pipeline is final, one GET: the whole trigger → finished),
#   - the same through libcurl (CIDRE_CLIENT_CURL=1: cidre-client) for
#     NEW, which is what https:// servers get.
# Environment: RUNS=40 WARMUP=5. Needs hyperfine, curl, git, jq.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { echo "usage: $0 OLD/cidre NEW/cidre" >&2; exit 2; }
old=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
new=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
RUNS=${RUNS:-40}
WARMUP=${WARMUP:-5}

W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-cli.XXXXXX")
. "$HERE/lib.sh"
trap bench_cleanup EXIT

trivial_repo "$W"
bench_server "$W/s" "$new"
export CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN
"$new" project add demo --repo "$W/demo.git" >/dev/null
for i in $(seq 1 20); do "$new" trigger --wait -q demo main >/dev/null 2>&1; done

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$W/h.json" \
	-n "old status" "$old status demo" \
	-n "new status" "$new status demo" \
	-n "old trigger --wait" "$old trigger --wait -q demo main" \
	-n "new trigger --wait" "$new trigger --wait -q demo main" \
	-n "new trigger --wait (libcurl)" \
		"env CIDRE_CLIENT_CURL=1 $new trigger --wait -q demo main" >/dev/null 2>&1
jq -r '.results[] | "\(.command): median \(.median * 1000 | . * 100 | round / 100) ms, mean \(.mean * 1000 | . * 100 | round / 100) ± \(.stddev * 1000 | . * 100 | round / 100) ms, user \(.user * 1000 | . * 100 | round / 100) ms, system \(.system * 1000 | . * 100 | round / 100) ms"' "$W/h.json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
