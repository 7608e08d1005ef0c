#!/bin/sh
# cidre server: its malloc runs without per-thread caches (the tcache
# tunable, set by the server's exec of itself), and the processes it
# starts get the environment the server was started with.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

# the environment the server process was exec'd with, one per line
server_env() {
	tr '\0' '\n' <"/proc/$SERVER_PID/environ"
}

# job_env: run a job printing its environment on the current
# server's project "app"; its log goes to job.log
job_env() {
	api POST /api/v1/projects/app/pipelines '{"ref":"main"}' >p.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >done.json &&
	jq -e ".status == \"success\"" done.json >/dev/null &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" done.json)/log" >job.log &&
	expect_grep "^ENV-END" job.log
}

test_expect_success 'the server runs with the tcache off; its jobs do not see it' '
	printf "env:\n  script:\n    - env | sort\n    - echo ENV-END\n" | bare_repo app &&
	unset GLIBC_TUNABLES &&
	start_server data &&
	test "$(cat /proc/$SERVER_PID/comm)" = cidre-server &&
	server_env >env.txt &&
	expect_grep "^GLIBC_TUNABLES=glibc.malloc.tcache_count=0\$" env.txt &&
	add_project app "$SCRATCH/app.git" &&
	job_env &&
	! grep -q "GLIBC_TUNABLES\|CIDRE_SERVER_TUNABLES" job.log &&
	stop_server
'

test_expect_success 'tunables of the caller are kept, and passed on as they were' '
	export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=200000 &&
	start_server data &&
	server_env >env.txt &&
	expect_grep "^CIDRE_SERVER_TUNABLES==glibc.malloc.mmap_threshold=200000\$" env.txt &&
	job_env &&
	expect_grep "^GLIBC_TUNABLES=glibc.malloc.mmap_threshold=200000\$" job.log &&
	! grep -q "CIDRE_SERVER_TUNABLES" job.log &&
	stop_server
'

test_expect_success 'a caller that sets the tcache itself is left alone' '
	export GLIBC_TUNABLES=glibc.malloc.tcache_count=3 &&
	start_server data &&
	server_env >env.txt &&
	expect_grep "^GLIBC_TUNABLES=glibc.malloc.tcache_count=3\$" env.txt &&
	! grep -q "CIDRE_SERVER_TUNABLES" env.txt &&
	job_env &&
	expect_grep "^GLIBC_TUNABLES=glibc.malloc.tcache_count=3\$" job.log &&
	stop_server
'

test_done
