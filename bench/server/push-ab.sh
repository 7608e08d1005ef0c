#!/usr/bin/env bash
# `git push` to a repository with cidre's post-receive hook, two builds'
# hooks side by side: what a developer waits for at every push (the hook
# runs `cidre hook run`, which tells the server).
#
#   bench/server/push-ab.sh OLD/cidre NEW/cidre [ROUNDS]
#
# One server (NEW's; 127.0.0.1:0, a scratch directory under /tmp removed
# at the end, stopped by its pid), two bare repositories with a one-job
# pipeline, one hooked by OLD (`OLD hook install`: the hook runs OLD),
# one by NEW. Each round commits (--allow-empty) and pushes once to
# each, in a random order (bench/sandbox/ab.py): medians, quartiles, the
# ratio and the CPU of the whole push (git, the hook, the client).
# Needs git, python3, curl.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 OLD/cidre NEW/cidre [ROUNDS]" >&2; exit 2; }
old=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
new=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")

W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-push.XXXXXX")
. "$HERE/lib.sh"
trap bench_cleanup EXIT

bench_server "$W/s" "$new"
export CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN
for b in old new; do
	trivial_repo "$W" "$b"
	"$new" project add "$b" --repo "$W/$b.git" >/dev/null
done
"$old" hook install "$W/old.git" >/dev/null
"$new" hook install "$W/new.git" >/dev/null
cat >"$W/push.sh" <<'EOF'
cd "$1" &&
git -c user.name=bench -c user.email=bench@cidre.invalid commit -q --allow-empty -m again &&
git push -q origin HEAD:main 2>/dev/null
EOF
python3 "$HERE/../sandbox/ab.py" --rounds "${3:-30}" --warmup 3 \
	"old=sh $W/push.sh $W/old" "new=sh $W/push.sh $W/new"
