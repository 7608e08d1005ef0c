# Shell test library for cidre's end-to-end tests (git's t/ style).
#
#   . ./lib.sh        (from a tests/e2e/tNNNN-area-what.sh script)
#   test_expect_success 'what it checks' '
#           commands chained with && ...
#   '
#   test_done
#
# Each script runs in its own scratch directory (removed on success, kept
# on failure for inspection), with a private HOME and git identity. Output
# is TAP, for prove.

set -u
TEST_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$TEST_DIR/../.." && pwd)
CIDRE_BIN=${CIDRE_BIN:-$ROOT/build/cidre}
TEST_NAME=$(basename "$0" .sh)
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/cidre-$TEST_NAME.XXXXXX")
export HOME="$SCRATCH/home"
mkdir -p "$HOME"
export GIT_AUTHOR_NAME='A U Thor' GIT_AUTHOR_EMAIL='author@example.com'
export GIT_COMMITTER_NAME='C O Mitter' GIT_COMMITTER_EMAIL='committer@example.com'
export GIT_CONFIG_NOSYSTEM=1
git config --global init.defaultBranch main
git config --global advice.detachedHead false
unset CI GITLAB_CI CI_COMMIT_SHA CIDRE 2>/dev/null || true
# tests talk to loopback only: an image not registered is never pulled
# (a test that pulls from its own registry says so), nor credentials read
export CIDRE_PULL_POLICY=never
unset DOCKER_AUTH_CONFIG CIDRE_REGISTRY_MIRROR REGISTRY_AUTH_FILE DOCKER_CONFIG 2>/dev/null || true
cd "$SCRATCH" || exit 1

test_count=0
test_failed=0

cidre() { "$CIDRE_BIN" "$@"; }

# jq 1.6 exits 0 for `jq -e FILTER` with no input at all, so that
# `wait_pipeline ID | jq -e '.status == "success"'` passed when the
# pipeline never ended (wait_pipeline then prints nothing). With -e
# (alone or in a group: -se, -re) on standard input, no input is a
# failure here, as in later jq versions (exit 4).
jq() {
	_jq_e=0 _jq_stdin=1 _jq_filter=0 _jq_skip=0
	for _jq_a in "$@"; do
		if [ "$_jq_skip" -gt 0 ]; then
			_jq_skip=$((_jq_skip - 1))
			continue
		fi
		case "$_jq_a" in
		--arg|--argjson|--slurpfile|--rawfile) _jq_skip=2 ;;
		--indent) _jq_skip=1 ;;
		--args|--jsonargs) break ;;
		--exit-status) _jq_e=1 ;;
		--null-input) _jq_stdin=0 ;;
		--*) ;;
		-*)
			case "$_jq_a" in *e*) _jq_e=1 ;; esac
			case "$_jq_a" in *n*) _jq_stdin=0 ;; esac ;;
		*)
			if [ "$_jq_filter" = 0 ]; then
				_jq_filter=1
			else
				_jq_stdin=0	# a file to read
			fi ;;
		esac
	done
	if [ "$_jq_e" = 0 ] || [ "$_jq_stdin" = 0 ]; then
		command jq "$@"
		return
	fi
	_jq_in=$(cat; echo .)
	_jq_in=${_jq_in%.}
	case "$_jq_in" in
	*[![:space:]]*) printf '%s' "$_jq_in" | command jq "$@" ;;
	*) echo "jq -e: no input" >&2; return 4 ;;
	esac
}

# test_note_failure DESC: with E2E_FAILURES set (make e2e sets it), what
# the failed test printed goes there too, so that the end of a long run
# (all a CI summary may show) says what failed and why, not only which.
test_note_failure() {
	[ -n "${E2E_FAILURES:-}" ] || return 0
	{
		echo "== $TEST_NAME $test_count - $1 (scratch $SCRATCH)"
		tail -n 15 "$SCRATCH/.test-$test_count.out"
	} >>"$E2E_FAILURES"
}

test_expect_success() {
	test_count=$((test_count + 1))
	# TEST_PRELUDE: run first in the body's subshell (lib-server.sh uses it)
	if (eval "${TEST_PRELUDE:-:}" && eval "$2") >"$SCRATCH/.test-$test_count.out" 2>&1; then
		echo "ok $test_count - $1"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $1"
		sed 's/^/#   /' "$SCRATCH/.test-$test_count.out"
		test_note_failure "$1"
		if [ -f "$SCRATCH/out" ]; then
			echo "#   --- last lines of out:"
			tail -n 40 "$SCRATCH/out" | sed 's/^/#   /'
		fi
	fi
}

test_expect_failure_code() {
	# test_expect_failure_code CODE 'desc' 'cmd': cmd must exit with CODE
	test_count=$((test_count + 1))
	(eval "$3") >"$SCRATCH/.test-$test_count.out" 2>&1
	rc=$?
	if [ "$rc" = "$1" ]; then
		echo "ok $test_count - $2"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $2 (exit $rc, wanted $1)"
		sed 's/^/#   /' "$SCRATCH/.test-$test_count.out"
		test_note_failure "$2 (exit $rc, wanted $1)"
	fi
}

# skip_all REASON: the whole script is skipped (TAP "1..0 # SKIP"), its
# scratch directory removed
skip_all() {
	echo "1..0 # SKIP $1"
	cd / && rm -rf "$SCRATCH"
	exit 0
}

test_done() {
	# TEST_CLEANUP: stop what the script started (lib-server.sh's servers)
	eval "${TEST_CLEANUP:-:}"
	echo "1..$test_count"
	if [ "$test_failed" = 0 ]; then
		cd / && rm -rf "$SCRATCH"
		exit 0
	fi
	echo "# $test_failed of $test_count failed; scratch kept in $SCRATCH"
	exit 1
}

# --- helpers for test bodies -------------------------------------------

# new_repo DIR: a git repository with one commit holding the given
# pipeline read from stdin as .gitlab-ci.yml.
new_repo() {
	mkdir -p "$1" && git init -q "$1" &&
	cat >"$1/.gitlab-ci.yml" &&
	(cd "$1" && git add . && git commit -q -m "initial commit")
}

# expect_exit CODE cmd...: run cmd, succeed only if it exits with CODE.
expect_exit() {
	want=$1; shift
	"$@"
	got=$?
	[ "$got" = "$want" ] || { echo "expected exit $want, got $got: $*" >&2; return 1; }
}

# grep that shows the haystack on failure.
expect_grep() {
	grep -q -E -- "$1" "$2" || { echo "no match for /$1/ in $2:" >&2; cat "$2" >&2; return 1; }
}
expect_no_grep() {
	! grep -q -E -- "$1" "$2" || { echo "unexpected match for /$1/ in $2:" >&2; cat "$2" >&2; return 1; }
}

# process_alive PID: true while PID runs (a zombie waiting to be reaped by
# its new parent is dead already).
process_alive() {
	[ -r "/proc/$1/stat" ] || return 1
	state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d" " -f1)
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
