#!/bin/sh
# The server's sandboxed jobs from pool daemons (executor.pool, on by
# default; exec/pool.h, docs/sandbox.md "Pools"): a project's first
# sandboxed job starts the project's pool in DATA/sandbox/pools and the
# next jobs start in it without a bwrap, each as isolated as before;
# a canceled job's processes end with it; projects do not share a pool;
# executor.pool false starts a bwrap per job; a removed project's pool
# ends; the server's stop ends its pools, and a job running in one goes
# on through the server's stop or kill -9 (a killed server's pools
# serve the next one); `cidre pool ls|stop --data DIR`;
# without a cgroup the jobs still come from the pool, and a canceled
# one ends with everything it started.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-sandbox.sh"
need_sandbox
if ! file_is_static "$CIDRE_BIN"; then
	skip_all "a dynamic cidre (sanitizer build) has no pool"
fi
. "$TEST_DIR/lib-server.sh"

# a bwrap that counts what it starts: "pool" for a pool, "job" for a
# sandbox of a job's own (its environment is empty: the path is written in)
BW=$(command -v bwrap)
{
	echo "#!/bin/sh"
	echo "case \"\$*\" in *\"sandbox-init pool\") echo pool;; *) echo job;; esac >>$SCRATCH/bwraps"
	echo "exec $BW \"\$@\""
} >bwrap-count
chmod +x bwrap-count
export CIDRE_BWRAP="$SCRATCH/bwrap-count"
export CIDRE_SANDBOX_POOL_IDLE=60
started() { grep -c "^$1\$" "$SCRATCH/bwraps" 2>/dev/null || true; }
pools() { cidre pool ls --data "$SCRATCH/data" | awk 'NR > 1'; }
# gone PID: the process ends within 6 s
gone() {
	n=0
	while kill -0 "$1" 2>/dev/null && [ $n -lt 60 ]; do
		sleep 0.1; n=$((n + 1)); done
	! kill -0 "$1" 2>/dev/null
}
# run_pipeline PROJECT: trigger one, wait for its end; the pipeline in done.json
run_pipeline() {
	api POST "/api/v1/projects/$1/pipelines" "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" 60 >done.json
}
# job_log NAME: the log of done.json's job NAME into log
job_log() {
	api GET "/api/v1/jobs/$(jq -r ".jobs[] | select(.name == \"$1\") | .id" done.json)/log" >log
}
# stop what a failed test left: the servers (which stop their pools), then the pools
TEST_CLEANUP='check_sanitizers; "$CIDRE_BIN" pool stop --data "$SCRATCH/data" >/dev/null 2>&1'

test_expect_success 'a project'"'"'s first sandboxed job starts its pool; its jobs run there, isolated' '
	mkdir -p data && cat >data/config.yml <<-\EOF &&
	executor:
	  executor: sandbox
	projects:
	  np:
	    pool: false
	EOF
	start_server data &&
	bare_repo p <<-\EOF &&
	stages: [one, two]
	a:
	  stage: one
	  script:
	    - echo left >/tmp/left; echo left >/dev/shm/left; sleep 300 & echo started
	    - tr "\\0" " " </proc/1/cmdline; echo
	b:
	  stage: two
	  script:
	    - ls /tmp /dev/shm | grep -c left || true
	    - ps -e -o comm= | grep -c sleep || true
	    - id -u; pwd
	    - grep -E "^(CapEff|NoNewPrivs)" /proc/self/status
	EOF
	add_project p "$SCRATCH/p.git" &&
	run_pipeline p &&
	jq -e ".status == \"success\"" done.json &&
	job_log a &&
	expect_grep "^started$" log &&
	expect_grep "^/proc/self/fd/5 sandbox-init pool $" log &&
	job_log b &&
	test "$(grep -c "^0$" log)" = 2 &&
	expect_grep "^65534$" log &&
	expect_grep "^/builds/p$" log &&
	expect_grep "^CapEff:	0000000000000000$" log &&
	expect_grep "^NoNewPrivs:	1$" log &&
	test "$(started pool)" = 1 && test "$(started job)" = 0 &&
	pools >ls && test $(wc -l <ls) = 1 &&
	awk "{ exit !(\$4 >= 2) }" ls
'

test_expect_success 'the next pipeline'"'"'s jobs start in the same pool, no bwrap started' '
	pid=$(pools | awk "{ print \$2 }") &&
	run_pipeline p &&
	jq -e ".status == \"success\"" done.json &&
	test "$(started pool)" = 1 && test "$(started job)" = 0 &&
	pools >ls && test $(wc -l <ls) = 1 &&
	test "$(awk "{ print \$2 }" ls)" = "$pid" &&
	awk "{ exit !(\$4 >= 4) }" ls
'

test_expect_success 'another project has a pool of its own; a canceled job'"'"'s processes end' '
	bare_repo c <<-\EOF &&
	spin:
	  script: [sleep 98765]
	EOF
	add_project c "$SCRATCH/c.git" &&
	api POST /api/v1/projects/c/pipelines "{}" >p.json && expect_status 201 &&
	jid=$(jq -r ".jobs[0].id" p.json) &&
	wait_for 30 pgrep -f "^sleep 98765$" &&
	child=$(pgrep -f "^sleep 98765$") &&
	test "$(pools | wc -l)" = 2 &&
	api POST "/api/v1/jobs/$jid/cancel" >/dev/null && expect_status 202 &&
	wait_for 20 job_status_is "$jid" canceled &&
	gone "$child" &&
	test "$(started pool)" = 2 && test "$(started job)" = 0
'

test_expect_success 'executor.pool false: a bwrap of its own per job' '
	bare_repo np <<-\EOF &&
	j:
	  script:
	    - tr "\\0" " " </proc/1/cmdline; echo
	    - id -u
	EOF
	add_project np "$SCRATCH/np.git" &&
	run_pipeline np &&
	jq -e ".status == \"success\"" done.json &&
	job_log j &&
	expect_grep "^65534$" log &&
	expect_no_grep "sandbox-init pool" log &&
	test "$(started job)" = 1 && test "$(started pool)" = 2 &&
	test "$(pools | wc -l)" = 2
'

pools_are() { test "$(pools | wc -l)" = "$1"; }

test_expect_success 'a removed project'"'"'s pool ends' '
	test -f data/sandbox/c.line &&
	api DELETE /api/v1/projects/c >/dev/null && expect_status 200 &&
	wait_for 10 pools_are 1 &&
	test ! -e data/sandbox/c.line &&
	test -f data/sandbox/p.line
'

test_expect_success 'cidre pool ls|stop --data; the server'"'"'s stop ends its pools' '
	cidre pool ls --data data >ls &&
	expect_grep "^KEY	PID	RUNS	JOBS" ls &&
	pids=$(awk "NR > 1 { print \$2 }" ls) &&
	test "$(echo $pids | wc -w)" = 1 &&
	(cidre pool frob --data data 2>err; test $? = 2) &&
	expect_grep "^usage: cidre pool \[ls \| stop\] \[--data DIR\]" err &&
	mkdir -p open/sandbox/pools && chmod 755 open/sandbox/pools &&
	(cidre pool ls --data open 2>err; test $? = 1) &&
	expect_grep "open/sandbox/pools is not this user.s alone .*run cidre pool as the server.s user" err &&
	stop_server &&
	for pid in $pids; do gone "$pid" || return 1; done &&
	test "$(pools | wc -l)" = 0 &&
	cidre pool stop --data data >out &&
	expect_grep "^0 pools stopped$" out
'

test_expect_success 'a restarted server starts the pool again with its next job' '
	start_server data &&
	run_pipeline p &&
	jq -e ".status == \"success\"" done.json &&
	test "$(started pool)" = 3 &&
	test "$(pools | wc -l)" = 1
'

test_expect_success 'a job running in its pool when the server stops goes on; its result is recorded' '
	bare_repo slow <<-\EOF &&
	j:
	  script: [sleep 2.5, echo slept]
	EOF
	add_project slow "$SCRATCH/slow.git" &&
	api POST /api/v1/projects/slow/pipelines "{}" >p.json && expect_status 201 &&
	jid=$(jq -r ".jobs[0].id" p.json) &&
	wait_for 20 pgrep -f "^sleep 2.5$" &&
	test "$(pools | wc -l)" = 2 &&
	stop_server &&
	pgrep -f "^sleep 2.5$" &&
	start_server data &&
	run_pipeline p &&
	jq -e ".status == \"success\"" done.json &&
	wait_for 30 job_status_is "$jid" success &&
	api GET "/api/v1/jobs/$jid/log" | grep -q "^slept$" &&
	wait_for 10 pools_are 1
'

test_expect_success '... and when the server is killed (kill -9) mid-job; the next server uses its pool' '
	api POST /api/v1/projects/slow/pipelines "{}" >p.json && expect_status 201 &&
	jid=$(jq -r ".jobs[0].id" p.json) &&
	wait_for 20 pgrep -f "^sleep 2.5$" &&
	pools_before=$(started pool) &&
	kill_server &&
	pgrep -f "^sleep 2.5$" &&
	start_server data &&
	wait_for 30 job_status_is "$jid" success &&
	api GET "/api/v1/jobs/$jid/log" >log &&
	expect_grep "^slept$" log &&
	run_pipeline slow &&
	jq -e ".status == \"success\"" done.json &&
	test "$(started pool)" = "$pools_before" &&
	pools_are 2
'

test_expect_success 'without a cgroup the jobs still come from the pool; a canceled one ends with all it started' '
	stop_server &&
	(export CIDRE_CGROUP=none; start_server data) &&
	jobs=$(started job) &&
	run_pipeline p &&
	jq -e ".status == \"success\"" done.json &&
	job_log b &&
	test "$(grep -c "^0$" log)" = 2 &&
	add_project cn "$SCRATCH/c.git" &&
	api POST /api/v1/projects/cn/pipelines "{}" >p.json && expect_status 201 &&
	jid=$(jq -r ".jobs[0].id" p.json) &&
	wait_for 30 pgrep -f "^sleep 98765$" &&
	child=$(pgrep -f "^sleep 98765$") &&
	api POST "/api/v1/jobs/$jid/cancel" >/dev/null && expect_status 202 &&
	wait_for 20 job_status_is "$jid" canceled &&
	gone "$child" &&
	test "$(started job)" = "$jobs"
'

test_done
