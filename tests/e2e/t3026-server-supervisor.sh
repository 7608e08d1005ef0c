#!/bin/sh
# The job supervisor's start and end (src/server/supervisor.c): a job that
# leaves a process behind has it killed at its end, and its slot's kept
# cgroup still serves the next job with its own accounting; the result's
# temporary file, made while the script runs (or when the result is
# written, for a job that never starts), is never left behind; the job's
# CI_JOB_STARTED_AT is the UTC time of its start; its CPU affinity is its
# runner's. The supervisors are forked by the server's job launcher, which
# is started again when it dies and ends with the server.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

test_expect_success 'a process left behind is killed; the slot serves the next job' '
	mkdir -p data && printf "runner:\n  slots: 1\n" >data/config.yml &&
	start_server data &&
	bare_repo app <<-\YML &&
	stages: [a, b]
	leaver:
	  stage: a
	  script:
	    - cat /proc/self/cgroup
	    - sleep 300 & echo "left $!"
	    - echo "started at $CI_JOB_STARTED_AT"
	next:
	  stage: b
	  script:
	    - cat /proc/self/cgroup
	    - head -c 2000000 /dev/zero | tail -c 1 >/dev/null
	YML
	add_project app "$SCRATCH/app.git" &&
	before=$(date -u +%s) &&
	api POST /api/v1/projects/app/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >p.json &&
	after=$(date -u +%s) &&
	test "$(jq -r .status p.json)" = success &&
	j1=$(jq -r ".jobs[] | select(.name == \"leaver\") | .id" p.json) &&
	j2=$(jq -r ".jobs[] | select(.name == \"next\") | .id" p.json) &&
	curl -sS "$URL/api/v1/jobs/$j1/log" >log1 &&
	left=$(sed -n "s/^left \([0-9]*\)$/\1/p" log1) && test -n "$left" &&
	! process_alive "$left" &&
	started=$(sed -n "s/^started at \(.*\)$/\1/p" log1) &&
	echo "$started" | grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$" &&
	t=$(date -u -d "$started" +%s) &&
	test "$t" -ge "$before" && test "$t" -le "$after" &&
	c1=$(job_cgroup "$j1") && c2=$(job_cgroup "$j2") &&
	echo "leaver in $c1, next in $c2" &&
	test "$c1" = "$c2" &&
	curl -sS "$URL/api/v1/jobs/$j1" >j1.json && curl -sS "$URL/api/v1/jobs/$j2" >j2.json &&
	test "$(jq -r .peak_memory j1.json)" -gt 0 &&
	test "$(jq -r .peak_memory j2.json)" -gt 0 &&
	! slot_result_of "$j1" && ! slot_result_of "$j2" &&
	test -z "$(ls data/results)"
'

test_expect_success 'a job that never starts gets its result, no temporary file left' '
	(cd app && cat >.gitlab-ci.yml <<-\YML &&
	imaged:
	  image: alpine:3
	  script: ["true"]
	YML
	git commit -q -a -m image && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >p.json &&
	test "$(jq -r .status p.json)" = failed &&
	j=$(jq -r ".jobs[0].id" p.json) &&
	curl -sS "$URL/api/v1/jobs/$j/log" | grep "executor is shell" &&
	api GET "/api/v1/jobs/$j" | jq -e ".status == \"failed\"" &&
	! slot_result_of "$j" &&
	test -z "$(ls data/results)"
'

# the slot's result file holds another job'"'"'s result (an earlier job of
# the slot, or a file cut short): a supervisor killed before it wrote its
# own leaves its job failed, not that job'"'"'s status
test_expect_success 'another job'"'"'s result in the slot is not this job'"'"'s' '
	(cd app && printf "first:\n  script: [\"true\"]\n" >.gitlab-ci.yml &&
	git commit -q -a -m first && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >p.json &&
	test "$(jq -r .status p.json)" = success &&
	first=$(jq -r ".jobs[0].id" p.json) &&
	(cd app && printf "stuck:\n  script: [\"sleep 300\"]\n" >.gitlab-ci.yml &&
	git commit -q -a -m stuck && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{}" >p.json && expect_status 201 &&
	stuck=$(jq -r ".jobs[0].id" p.json) &&
	wait_for 20 job_status_is "$stuck" running &&
	wait_for 20 grep -q "^$stuck " data/work/slot-1.spec.json.pid &&
	spid=$(cut -d" " -f2 data/work/slot-1.spec.json.pid) &&
	printf "{\"status\":\"success\",\"exit_code\":0,\"job_id\":%s}" "$first" \
		>data/work/slot-1.result.json &&
	kill -9 "$spid" && pkill -9 -s "$spid"; wait_for 20 job_status_is "$stuck" failed &&
	api GET "/api/v1/jobs/$stuck" >j.json &&
	jq -e ".failure_reason == \"runner_system_failure\"" j.json &&
	curl -sS "$URL/api/v1/jobs/$stuck/log" | grep "ended without a result"
'

# the supervisors' parent is the job launcher, not the server
gone() { ! process_alive "$1"; }
launcher_pid() {
	pgrep -f "job-launcher $SCRATCH/data/work\$" | while read -r p; do
		if [ "$(awk "{ print \$4 }" "/proc/$p/stat")" = "$SERVER_PID" ]; then
			echo "$p"
		fi
	done
}

test_expect_success 'the job launcher forks the supervisors, and comes back when killed' '
	(cd app && printf "job:\n  script:\n    - echo \"supervisor \$PPID\"\n    - cat /proc/\$PPID/cmdline | tr \"\\\\0\" \" \"; echo\n    - grep -E \"^Sig(Ign|Blk)\" /proc/self/status\n" >.gitlab-ci.yml &&
	git commit -q -a -m ppid && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >p.json &&
	test "$(jq -r .status p.json)" = success &&
	l=$(launcher_pid) && test -n "$l" && echo "launcher $l" &&
	curl -sS "$URL/api/v1/jobs/$(jq -r ".jobs[0].id" p.json)/log" >log3 &&
	grep "job-launcher $SCRATCH/data/work" log3 &&
	# the server ignores SIGPIPE (and, started in the background, SIGINT
	# and SIGQUIT): the job ignores and blocks nothing
	grep "^SigIgn:[[:space:]]*0*\$" log3 && grep "^SigBlk:[[:space:]]*0*\$" log3 &&
	kill -9 "$l" && wait_for 10 gone "$l" &&
	api POST /api/v1/projects/app/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >p.json &&
	test "$(jq -r .status p.json)" = success &&
	grep "the job launcher is gone" data.log &&
	l2=$(launcher_pid) && test -n "$l2" && test "$l2" != "$l" &&
	stop_server &&
	wait_for 10 gone "$l2"
'

# the shell executor starts its child pinned to the parent's CPU, which the
# child gives back before it execs: the job's affinity is its runner's
test_expect_success 'a job runs with its runner'"'"'s CPU affinity' '
	mkdir aff && (cd aff && git init -q &&
	printf "job:\n  script:\n    - grep Cpus_allowed_list /proc/self/status\n" >.gitlab-ci.yml &&
	git add . && git commit -q -m aff) &&
	want=$(sed -n "s/^Cpus_allowed_list:[[:space:]]*//p" /proc/self/status) &&
	(cd aff && cidre run >../aff.out 2>&1) &&
	grep "Cpus_allowed_list:[[:space:]]*$want\$" aff.out &&
	if command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then
		last=$(( $(nproc) - 1 )) &&
		(cd aff && taskset -c "$last" "$CIDRE_BIN" run >../aff1.out 2>&1) &&
		grep "Cpus_allowed_list:[[:space:]]*$last\$" aff1.out
	fi
'

check_sanitizers
test_done
