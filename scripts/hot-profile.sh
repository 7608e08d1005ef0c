#!/usr/bin/env bash
# Profile the server and write its code layout, src/server/hot.ld:
#
#   make hot-layout            (scripts/hot-profile.sh BUILD)
#
# Runs BUILD/cidre-server.plain (no layout, with its link map) under
# valgrind's callgrind through the life of a server, dumping what ran in
# four phases: start (with a config.yml) and idle; a project added and
# pipelines run (the API, `cidre trigger --wait`, a `git push` to a hooked
# repository); reading the results (status, logs, lists, metrics, the web
# pages); stop. Then
# scripts/hot-layout.py writes the layout from them. With perf there,
# three native passes run the laid-out server with the same workload and
# add the functions that still fault outside the hot text (what valgrind
# cannot see: the vDSO's set-up, the re-exec of tune_malloc(), the CPU's
# own string function variants, lock waits, posix_spawn's vfork child).
# About a minute in all.
#
# Needs valgrind, python3, git, curl (apt-get install valgrind); perf
# (linux-perf) optional. Everything runs on 127.0.0.1 in a scratch
# directory under /tmp, removed at the end (KEEP=1 keeps it: the
# callgrind profiles, perf data and servers' logs); the servers started
# are stopped by their pids.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-build}" && pwd)
OUT=$ROOT/src/server/hot.ld   # what the Makefile links the server with
for t in valgrind callgrind_control python3 git curl; do
	command -v "$t" >/dev/null || { echo "hot-profile: $t is needed" >&2; exit 2; }
done
[ -x "$B/cidre-server.plain" ] && [ -f "$B/cidre-server.plain.map" ] && [ -x "$B/cidre" ] ||
	{ echo "hot-profile: make $B/cidre $B/cidre-server.plain first" >&2; exit 2; }

W=$(mktemp -d /tmp/cidre-hot.XXXXXX)
SP= REAL=
# the server is SP itself under valgrind, SP's child under perf
stop() {
	if [ -n "$SP" ]; then
		kill -TERM "${REAL:-$SP}" 2>/dev/null || true
		wait "$SP" 2>/dev/null || true
	fi
	SP= REAL=
}
trap 'stop; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT

# a repository with a 100-job pipeline on main
git init -q --bare "$W/demo.git"
git clone -q "$W/demo.git" "$W/demo" 2>/dev/null
(
	cd "$W/demo"
	for i in $(seq -w 1 100); do
		printf 'job-%s:\n  stage: test\n  script: ["echo job %s"]\n' "$i" "$i"
	done >.gitlab-ci.yml
	git add .gitlab-ci.yml
	git -c user.name=profile -c user.email=profile@cidre.invalid commit -q -m many
	git push -q origin HEAD:main
)

# start DATA CMD...: the server, its pid in SP, URL and TOKEN set
start() {
	local data=$1 n=0
	shift
	mkdir -p "$data"
	# a config.yml, as most servers have: its reading is start code too
	printf 'runner:\n  slots: 4\nlimits:\n  log_size: 64M\n' >"$data/config.yml"
	"$@" server --data "$data" --listen 127.0.0.1:0 >"$data.log" 2>&1 &
	SP=$!
	until [ -s "$data/server-url" ]; do
		kill -0 "$SP" 2>/dev/null || { cat "$data.log" >&2; exit 1; }
		n=$((n + 1))
		[ "$n" -lt 1500 ] || { echo "hot-profile: the server did not start" >&2; exit 1; }
		sleep 0.02
	done
	URL=$(cat "$data/server-url") TOKEN=$(cat "$data/admin-token")
}
api() {
	curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"
}
# the workload of phase 2 (pipelines) and 3 (reading)
pipelines() {
	api --data "{\"name\":\"demo\",\"repo\":\"$W/demo.git\"}" "$URL/api/v1/projects" >/dev/null
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN "$B/cidre" trigger -q demo main --wait >/dev/null
	"$ROOT/bench/server/trigger-wait.sh" "$URL" "$TOKEN" demo main >/dev/null
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN "$B/cidre" hook install "$W/demo.git" >/dev/null
	(cd "$W/demo" && git -c user.name=profile -c user.email=profile@cidre.invalid \
		commit -q --allow-empty -m again && git push -q origin HEAD:main 2>/dev/null)
	local n=0
	until [ "$(api "$URL/api/v1/pipelines?status=success" | grep -o '"id":' | wc -l)" -ge 3 ]; do
		n=$((n + 1))
		[ "$n" -lt 3000 ] || { echo "hot-profile: the pushed pipeline did not end" >&2; exit 1; }
		sleep 0.1
	done
}
reading() {
	local p j
	export CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN
	"$B/cidre" status demo >/dev/null
	"$B/cidre" status --json >/dev/null
	p=$(api "$URL/api/v1/pipelines?per_page=1" | sed -n 's/^\[{"id":\([0-9]*\).*/\1/p')
	j=$(api "$URL/api/v1/pipelines/$p/jobs" | sed -n 's/^\[{"id":\([0-9]*\).*/\1/p')
	"$B/cidre" log "$j" >/dev/null
	api "$URL/api/v1/jobs/$j/log?offset=2" >/dev/null
	api "$URL/api/v1/pipelines?ref=main&status=success&page=2&per_page=1" >/dev/null
	api "$URL/api/v1/projects" >/dev/null
	curl -fsS "$URL/metrics" >/dev/null
	for path in / /p/demo "/pipelines/$p" "/jobs/$j" /healthz; do
		curl -fsS -H "Authorization: Bearer $TOKEN" "$URL$path" >/dev/null
	done
	unset CIDRE_SERVER CIDRE_TOKEN
}

# ---- callgrind: what runs, phase by phase --------------------------------
# GLIBC_TUNABLES as tune_malloc() sets it would be lost at its re-exec
# (valgrind follows it with --trace-children); the jobs' processes and git
# are left alone.
echo "hot-profile: callgrind" >&2
start "$W/cg" valgrind -q --tool=callgrind --trace-children=yes \
	--trace-children-skip='*/cidre,*/git,*/git-*,/bin/*,/usr/bin/*' \
	--callgrind-out-file="$W/cg.%p" "$B/cidre-server.plain"
sleep 3
CG=$W/cg.$SP
dump() { callgrind_control --dump="$1" "$SP" >/dev/null 2>&1; }
dump start
pipelines
sleep 1
dump pipelines
reading
sleep 1
dump reading
stop
PROFILES=("$CG.1" "$CG.2" "$CG.3" "$CG")
for f in "${PROFILES[@]}"; do
	[ -s "$f" ] || { echo "hot-profile: $f is missing" >&2; exit 1; }
done

python3 "$ROOT/scripts/hot-layout.py" --map "$B/cidre-server.plain.map" \
	--bin "$B/cidre-server.plain" --out "$OUT" "${PROFILES[@]}"

# ---- perf: what still faults outside the hot text, natively ------------
if ! command -v perf >/dev/null; then
	echo "hot-profile: no perf, no native pass; $OUT written" >&2
	exit 0
fi
# Three times: a function that shares its 64 kB with one that faulted
# first does not fault itself; once the first is moved, it may.
NATIVE=()
for n in 1 2 3; do
	make -s -C "$ROOT" BUILD="$B" "$B/cidre-server" >/dev/null
	# the faults are read against this copy (its name is the comm looked for)
	mkdir -p "$W/laid-out.$n" && cp "$B/cidre-server" "$W/laid-out.$n/"
	echo "hot-profile: perf, pass $n (native page faults)" >&2
	start "$W/pf$n" perf record -q -e page-faults -c 1 -d -o "$W/perf.$n.data" -- "$B/cidre-server"
	REAL=$(pgrep -P "$SP" -f "$B/cidre-server")
	sleep 1
	pipelines
	reading
	PERF_PID=$REAL
	stop
	perf script -i "$W/perf.$n.data" -F comm,pid,addr,ip >"$W/faults.$n" 2>/dev/null
	NATIVE+=(--native "$W/faults.$n" "$W/laid-out.$n/cidre-server" "$PERF_PID")
	python3 "$ROOT/scripts/hot-layout.py" --map "$B/cidre-server.plain.map" \
		--bin "$B/cidre-server.plain" --out "$OUT" "${NATIVE[@]}" "${PROFILES[@]}"
done
make -s -C "$ROOT" BUILD="$B" "$B/cidre-server" >/dev/null
echo "hot-profile: $OUT written" >&2
