#!/bin/sh
# The README's main command: a cidre server on the embedded default
# (SQLite in a data directory), a demo repository with cidre's
# post-receive hook, one `git push`, and the pipeline as it runs.
#
#   scripts/demo-server.sh BUILD_DIR [DEMO_DIR]
#
# BUILD_DIR holds cidre and cidre-server; the demo lives in DEMO_DIR
# (default BUILD_DIR/demo, made afresh). The server is stopped at the end,
# unless DEMO_KEEP=1: then it serves the web UI until interrupted.
set -eu
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
cidre=$build/cidre
demo=${2:-$build/demo}

rm -rf "$demo"
mkdir -p "$demo"
demo=$(cd "$demo" && pwd)
cd "$demo"

echo "== starting cidre server (data directory $demo/data, SQLite)"
"$cidre" server --data data --listen 127.0.0.1:0 >server.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT INT TERM
n=0
while [ ! -s data/server-url ]; do
	n=$((n + 1))
	if [ "$n" -gt 200 ] || ! kill -0 "$server" 2>/dev/null; then
		cat server.log >&2
		exit 1
	fi
	sleep 0.05
done
CIDRE_SERVER=$(cat data/server-url)
CIDRE_TOKEN=$(cat data/admin-token)
export CIDRE_SERVER CIDRE_TOKEN
echo "   listening on $CIDRE_SERVER; admin token in data/admin-token"

echo "== a bare repository with cidre's post-receive hook"
git init -q --bare demo.git
"$cidre" project add demo --repo "$demo/demo.git" --public
"$cidre" hook install demo.git

echo "== git push"
git init -q -b main work
cp -R "$root/examples/demo/." work/
(cd work && git add . &&
	git -c user.name='cidre demo' -c user.email=demo@cidre.invalid commit -q -m 'demo: greet' &&
	git push "$demo/demo.git" main 2>&1) | sed -n "s/^remote: //p" | tee push.out

# the hook said "cidre: pipeline N for main: URL"
id=$(sed -n 's/^cidre: pipeline \([0-9]*\) .*/\1/p' push.out | head -n 1)
[ -n "$id" ] || { echo "no pipeline was created" >&2; cat server.log >&2; exit 1; }

echo "== pipeline $id, live"
status=0
"$cidre" log -f -p "$id" || status=$?
echo
"$cidre" status -p "$id"
echo "== the web UI: $CIDRE_SERVER/pipelines/$id"
if [ "${DEMO_KEEP:-0}" = 1 ]; then
	echo "   the server runs until you press Ctrl-C"
	wait "$server" || true
fi
exit "$status"
