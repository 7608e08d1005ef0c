#!/usr/bin/env bash
# Downloading a job's artifacts: `cidre artifacts get JOB -o DIR` of a
# job with FILES small files (and one of BIG_MB megabytes), for each
# client given, side by side with hyperfine, against one server (the
# first build's):
#
#   bench/server/artifacts-get.sh NEW/cidre [OLD/cidre...]
#
# The server runs on 127.0.0.1:0 with a scratch data directory under
# TMPDIR (removed at the end, stopped by its pid). Each run writes into
# a fresh directory (removed by hyperfine's --prepare). Also times
# `curl` of the job's archive (/api/v1/jobs/ID/artifacts.zip) to
# /dev/null, and `--zip` to a file. Environment: FILES=2000 BIG_MB=50
# RUNS=10. Needs git, curl, jq and hyperfine.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
FILES=${FILES:-2000}
BIG_MB=${BIG_MB:-50}
RUNS=${RUNS:-10}
[ $# -ge 1 ] || { echo "usage: $0 NEW/cidre [OLD/cidre...]" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-artifacts.XXXXXX")
. "$HERE/lib.sh"
trap bench_cleanup EXIT

trivial_repo "$W"
(
	cd "$W/demo"
	git checkout -q -b arts
	cat >.gitlab-ci.yml <<EOF
arts:
  script:
    - mkdir -p out/small
    - for i in \$(seq 1 $FILES); do echo "file \$i" >out/small/f\$i.txt; done
    - head -c ${BIG_MB}000000 /dev/urandom >out/big.bin
  artifacts:
    paths: [out/]
EOF
	git commit -q -a -m arts
	git push -q origin arts
)
bench_server "$W/s" "$1" 2
curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data "{\"name\":\"demo\",\"repo\":\"$W/demo.git\"}" "$URL/api/v1/projects" >/dev/null
CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN "$1" trigger -q --wait demo arts >/dev/null
PL=$(curl -fsS -H "Authorization: Bearer $TOKEN" "$URL/api/v1/pipelines?per_page=1" | jq -r '.[0].id')
JOB=$(curl -fsS -H "Authorization: Bearer $TOKEN" "$URL/api/v1/pipelines/$PL" | jq -r '.jobs[0].id')
echo "job $JOB: $(curl -fsS -H "Authorization: Bearer $TOKEN" "$URL/api/v1/jobs/$JOB/artifacts" |
	jq -r 'length') files; load $(cut -d' ' -f1-3 /proc/loadavg)"
export CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN
cmds=()
for c in "$@"; do
	cmds+=(-n "get $c" "$c artifacts get $JOB -o $W/out")
done
cmds+=(-n "curl of artifacts.zip" "curl -fsS -o /dev/null -H 'Authorization: Bearer $TOKEN' $URL/api/v1/jobs/$JOB/artifacts.zip")
cmds+=(-n "get --zip" "$1 artifacts get $JOB --zip $W/a.zip")
hyperfine -N --warmup 1 --runs "$RUNS" --prepare "rm -rf $W/out $W/a.zip" "${cmds[@]}"
