# Helpers for end-to-end tests of `cidre server` (source after lib.sh).
#
#   start_server DATA [ARGS...]  start a server on 127.0.0.1 (any port) with
#                                data directory DATA (the current server from
#                                then on); its log goes to DATA.log
#   URL, TOKEN, SERVER_PID       are read from the current server's files each
#                                time (test bodies run in subshells)
#   stop_server                  SIGTERM, and wait for it
#   kill_server                  SIGKILL, and wait for it
#   api METHOD PATH [JSON]       curl the API with the admin token; the
#                                body goes to stdout, the status to $STATUS_FILE
#   wait_for SECONDS CMD...      run CMD every 20 ms until it succeeds
#   wait_pipeline ID             until pipeline ID is finished; prints it
#   add_project NAME REPO        POST /api/v1/projects
#   curl ...                     a GET of the current server's URL without
#                                credentials of its own carries the admin
#                                token (projects are private by default);
#                                `command curl` asks as nobody
#
# Every server a test starts is stopped when the script exits.

STATUS_FILE=$SCRATCH/.http-status
CURRENT=$SCRATCH/.server

# the current server's facts (files written by start_server and the server)
refresh() {
	d=$(cat "$CURRENT" 2>/dev/null) || return 0
	URL=$(cat "$d/server-url" 2>/dev/null)
	TOKEN=$(cat "$d/admin-token" 2>/dev/null)
	SERVER_PID=$(cat "$d.pid" 2>/dev/null)
}

stop_all_servers() {
	for f in "$SCRATCH"/*.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		rm -f "$f"
		# SIGTERM first: an orderly exit is where leaks are reported
		kill -TERM "$p" 2>/dev/null || continue
		n=0
		while process_alive "$p" && [ "$n" -lt 250 ]; do
			n=$((n + 1))
			sleep 0.02
		done
		kill -9 "$p" 2>/dev/null
	done
	# job supervisors this script's servers started (their own sessions)
	for p in $(pgrep -f "job-(exec|launcher) $SCRATCH/" 2>/dev/null); do
		kill -9 "$p" 2>/dev/null
	done
	# their jobs, which outlive them by design (a server re-attaches
	# them): a failed test may have left one waiting for ever, whose
	# cgroup a later test (its pid reused) would take for its own
	for d in /proc/[0-9]*; do
		case $(readlink "$d/cwd" 2>/dev/null) in
		"$SCRATCH"/*/*) kill -9 "${d#/proc/}" 2>/dev/null ;;
		esac
	done
	# and their cgroups, named after a server that is gone (one that
	# re-attached them is not the one whose name they carry): empty
	# cgroups of no live process, as the next server's start sweeps them
	for d in $(find /sys/fs/cgroup -depth -type d -name "cidre-[0-9]*-slot-*" 2>/dev/null); do
		p=${d##*/cidre-}
		kill -0 "${p%%-*}" 2>/dev/null || rmdir "$d" 2>/dev/null
	done
	return 0
}
trap stop_all_servers EXIT

# After the tests: a sanitizer report from a server or a job supervisor
# (their stderr goes to DATA.log and to the job logs) fails the script.
check_sanitizers() {
	stop_all_servers
	found=$(grep -l -E "(Address|Leak|UndefinedBehavior)Sanitizer" \
		"$SCRATCH"/*.log "$SCRATCH"/*/logs/*.log 2>/dev/null)
	[ -z "$found" ] && return 0
	test_count=$((test_count + 1))
	test_failed=$((test_failed + 1))
	echo "not ok $test_count - no sanitizer reports"
	for f in $found; do
		echo "#   $f:"
		grep -A30 -E "Sanitizer" "$f" | head -60 | sed 's/^/#   /'
	done
}

curl() {
	case " $* " in
	*" -X "*|*" -d "*|*" --data"*|*"Authorization:"*|*"PRIVATE-TOKEN:"*|*"Cookie:"*|*" -b "*)
		command curl "$@" ;;
	*)
		refresh
		case "$*" in
		*"$URL"/*) [ -n "$URL" ] && [ -n "$TOKEN" ] &&
			set -- -H "Authorization: Bearer $TOKEN" "$@" ;;
		esac
		command curl "$@" ;;
	esac
}

wait_for() {
	# Polls every 20 ms for the first second, every 100 ms up to 5 s,
	# then every 250 ms: a long wait (a minute boundary) must not keep a
	# CPU busy with curl and jq (~30 ms of CPU a look). Gives up after
	# 3 * N seconds of wall time: the looks themselves take time, several
	# times more under the sanitizers on a busy machine, and a wait that
	# counted only its sleeps would end too soon there.
	deadline=$(( $(date +%s) + 3 * $1 )); shift
	waited=0
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$deadline" ] && { echo "timed out waiting for: $*" >&2; return 1; }
		if [ "$waited" -lt 1000 ]; then
			sleep 0.02
			waited=$((waited + 20))
		elif [ "$waited" -lt 5000 ]; then
			sleep 0.1
			waited=$((waited + 100))
		else
			sleep 0.25
			waited=$((waited + 250))
		fi
	done
}

start_server() {
	data=$1; shift
	rm -f "$data/server-url"
	"$CIDRE_BIN" server --data "$data" --listen 127.0.0.1:0 "$@" >>"$data.log" 2>&1 &
	echo $! >"$data.pid"
	echo "$data" >"$CURRENT"
	wait_for 20 test -s "$data/server-url" || { cat "$data.log" >&2; return 1; }
	refresh
}

server_gone() {
	# its main thread a zombie is not enough: the other threads may still
	# be exiting, holding the files (and the database's locks) they share
	! process_alive "$SERVER_PID" &&
	[ "$(ls "/proc/$SERVER_PID/task" 2>/dev/null | wc -l)" -le 1 ]
}

stop_server() {
	refresh
	kill -TERM "$SERVER_PID" && wait_for 20 server_gone
}

kill_server() {
	refresh
	kill -9 "$SERVER_PID" && wait_for 20 server_gone
}

api() {
	refresh
	m=$1 p=$2
	if [ $# -ge 3 ]; then
		curl -sS -o "$SCRATCH/.http-body" -w '%{http_code}' -X "$m" \
			-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
			--data-binary "$3" "$URL$p" >"$STATUS_FILE"
	else
		curl -sS -o "$SCRATCH/.http-body" -w '%{http_code}' -X "$m" \
			-H "Authorization: Bearer $TOKEN" "$URL$p" >"$STATUS_FILE"
	fi
	rc=$?
	cat "$SCRATCH/.http-body"
	return $rc
}

# expect_status CODE: the last api call's HTTP status.
expect_status() {
	got=$(cat "$STATUS_FILE")
	[ "$got" = "$1" ] || { echo "expected HTTP $1, got $got: $(cat "$SCRATCH/.http-body")" >&2; return 1; }
}

pipeline_finished() {
	refresh
	s=$(curl -sS "$URL/api/v1/pipelines/$1" | jq -r .status)
	case "$s" in success|failed|canceled|skipped) return 0 ;; esac
	return 1
}

wait_pipeline() {
	refresh
	wait_for "${2:-30}" pipeline_finished "$1" || return 1
	curl -sS "$URL/api/v1/pipelines/$1"
}

# slot_result_of JOB: the runner slot's result file that holds JOB's
# result (the supervisor writes DATA/work/slot-N.result.json in place,
# naming its job; the runner empties it once recorded); fails if none
slot_result_of() {
	grep -l "\"job_id\":$1[,}]" data/work/slot-*.result.json 2>/dev/null
}

job_status_is() {
	refresh
	[ "$(curl -sS "$URL/api/v1/jobs/$1" | jq -r .status)" = "$2" ]
}

add_project() {
	api POST /api/v1/projects "{\"name\":\"$1\",\"repo\":\"$2\"}" >/dev/null && expect_status 201
}

# pack_hook: SCRATCH/gitconfig, for a server's GIT_CONFIG_GLOBAL, makes
# git run SCRATCH/slow-pack for every pack it sends (a slow or broken
# remote): the arms of a `case "$PWD" in` read from stdin, then the pack.
pack_hook() {
	{ echo '#!/bin/sh'; echo 'case "$PWD" in'; cat; echo 'esac'; echo 'exec "$@"'; } \
		>"$SCRATCH/slow-pack" &&
	chmod +x "$SCRATCH/slow-pack" &&
	printf "[uploadpack]\n\tpackObjectsHook = %s/slow-pack\n" "$SCRATCH" >"$SCRATCH/gitconfig"
}

# bare_repo NAME: NAME.git (bare) and a clone NAME/ to commit in, with the
# pipeline from stdin as .gitlab-ci.yml, pushed to main.
bare_repo() {
	git init -q --bare "$1.git" &&
	git clone -q "$1.git" "$1" 2>/dev/null &&
	cat >"$1/.gitlab-ci.yml" &&
	(cd "$1" && git add . && git commit -q -m "pipeline" && git push -q origin HEAD:main)
}

# ---- the web UI as a browser without JavaScript uses it ----

# login_as LOGIN: a session for LOGIN (password LOGIN-password-1) in LOGIN.jar
login_as() {
	refresh
	test "$(command curl -sS -m 10 -o /dev/null -w '%{http_code}' -c "$1.jar" \
		-d "login=$1&password=$1-password-1" "$URL/login")" = 303
}

# page LOGIN PATH: GET as LOGIN ("-": anonymous); body in page.html, status on stdout
page() {
	refresh
	if [ "$1" = - ]; then
		command curl -sS -m 10 -o page.html -D headers -w '%{http_code}' "$URL$2"
	else
		command curl -sS -m 10 -b "$1.jar" -o page.html -D headers -w '%{http_code}' "$URL$2"
	fi
}

# csrf: the session's CSRF token from the last page
csrf() {
	grep -o 'name="csrf" value="[0-9a-f]*"' page.html | head -n 1 | sed 's/.*value="//; s/"$//'
}

# post LOGIN PATH FORM: a form post as LOGIN; body in page.html, status on stdout
post() {
	refresh
	command curl -sS -m 10 -b "$1.jar" -o page.html -D headers -w '%{http_code}' \
		--data "$3" "$URL$2"
}

refresh
TEST_PRELUDE=refresh
TEST_CLEANUP=check_sanitizers

# the cgroup path of the memory hierarchy a job printed (its cat /proc/self/cgroup)
job_cgroup() {
	curl -sS "$URL/api/v1/jobs/$1/log" | sed -n 's/^[0-9]*:\([^:]*,\)\{0,1\}memory\(,[^:]*\)\{0,1\}:\(\/.*\)$/\3/p' | head -1
}
