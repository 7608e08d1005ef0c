#!/bin/sh
# kill -9 of the server in the middle of a pipeline: nothing finished is
# lost, running jobs are re-attached (their supervisors outlive the
# server), a job whose process died too is failed with a clear reason and
# retried as its retry: allows, and the queue goes on.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

cat >pipeline.yml <<'YML'
stages: [one, two]
early:
  stage: one
  script: [echo early done]
slow:
  stage: one
  script:
    - echo "slow started"
    - while [ ! -f "$MARK" ]; do sleep 0.05; done
    - echo "slow finished"
victim:
  stage: one
  retry: 1
  script:
    - echo "victim attempt $CI_JOB_ID"
    - while [ ! -f "$MARK" ]; do sleep 0.05; done
after:
  stage: two
  script: [echo after ran]
YML

job_id() {
	jq -r ".jobs[] | select(.name == \"$1\") | .id" "$2"
}

log_has() {
	curl -sS "$URL/api/v1/jobs/$1/log" | grep -q "$2"
}

test_expect_success 'a pipeline is mid-way: one job done, two running' '
	mkdir -p data && printf "runner:\n  slots: 3\n" >data/config.yml &&
	start_server data &&
	bare_repo app <pipeline.yml &&
	add_project app "$SCRATCH/app.git" &&
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"MARK\":\"$SCRATCH/go\"}}" >p.json &&
	expect_status 201 &&
	id=$(jq -r .id p.json) && echo "$id" >pid &&
	api GET "/api/v1/pipelines/$id" >p.json &&
	wait_for 20 job_status_is "$(job_id early p.json)" success &&
	wait_for 20 log_has "$(job_id slow p.json)" "slow started" &&
	wait_for 20 log_has "$(job_id victim p.json)" "victim attempt"
'

test_expect_success 'kill -9 the server, and the victim job with all its processes' '
	refresh && echo "$SERVER_PID" >first-server &&
	kill_server &&
	vid=$(job_id victim p.json) &&
	spid=$(cat data/work/slot-*.spec.json.pid | awk -v j="$vid" "\$1 == j { print \$2 }") &&
	pgrep -f "job-launcher $SCRATCH/data/work" | grep -qx "$spid" &&
	test -n "$spid" &&
	pkill -9 -s "$spid" &&
	wait_for 10 sh -c "! pgrep -s $spid"
'

test_expect_success 'a supervisor whose pid the server did not record yet is found by its slot' '
	# the window between the spawn and the pid written with the job:
	# the supervisor wrote "JOB PID START" in its slot file
	sid=$(job_id slow p.json) &&
	grep -q "^$sid [0-9]* [0-9]*\$" data/work/slot-*.spec.json.pid &&
	sqlite3 data/cidre.db "update jobs set pid = 0, pid_start = 0, runner = '"'"'embedded'"'"' where id = $sid" &&
	test "$(sqlite3 data/cidre.db "select pid from jobs where id = $sid")" = 0
'

test_expect_success 'after a restart: the finished job stays, the live one is re-attached' '
	start_server data &&
	api GET "/api/v1/pipelines/$(cat pid)" >q.json &&
	jq -e ".jobs[] | select(.name == \"early\") | .status == \"success\"" q.json &&
	jq -e ".jobs[] | select(.name == \"slow\") | .status == \"running\"" q.json &&
	expect_grep "job $(job_id slow p.json) still runs .*re-attached" data.log
'

test_expect_success 'the job whose process is gone failed with a reason and is retried' '
	vid=$(job_id victim p.json) &&
	api GET "/api/v1/jobs/$vid" >v.json &&
	jq -e ".status == \"failed\" and .failure_reason == \"runner_system_failure\" and .retried" v.json &&
	api GET "/api/v1/jobs/$vid/log" >vlog &&
	expect_grep "victim attempt $vid" vlog &&
	expect_grep "the server stopped while the job ran" vlog &&
	api GET "/api/v1/pipelines/$(cat pid)/jobs?all=1" >all.json &&
	jq -e "[.[] | select(.name == \"victim\")] | length == 2" all.json
'

test_expect_success 'the queue resumes and the pipeline ends in success' '
	touch go &&
	wait_pipeline "$(cat pid)" >done.json &&
	jq -e ".status == \"success\"" done.json &&
	jq -e "[.jobs[] | select(.name == \"victim\")][0] | .attempt == 2 and .status == \"success\"" done.json &&
	jq -e ".jobs[] | select(.name == \"after\") | .status == \"success\"" done.json &&
	# the re-attached job ran in the killed server'"'"'s slot cgroup: removed
	# once it ended, not left for the next start
	wait_for 10 test -z "$(find /sys/fs/cgroup -name "cidre-$(cat first-server)-slot-*")"
'

test_expect_success 'every log line of the re-attached job is there, before and after the kill' '
	sid=$(job_id slow p.json) &&
	api GET "/api/v1/jobs/$sid/log" >slog &&
	expect_grep "slow started" slog &&
	expect_grep "slow finished" slog
'

test_expect_success 'a job that ended while the server was down is recorded at the next start' '
	printf "one:\n  script:\n    - while [ ! -f \"\$MARK\" ]; do sleep 0.05; done\n    - echo one done\n" >app/.gitlab-ci.yml &&
	(cd app && git commit -qam one && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"MARK\":\"$SCRATCH/go2\"}}" >p2.json &&
	id=$(jq -r .id p2.json) &&
	jid=$(jq -r ".jobs[0].id" p2.json) &&
	wait_for 20 job_status_is "$jid" running &&
	kill_server &&
	touch go2 &&
	wait_for 20 slot_result_of "$jid" &&
	start_server data &&
	wait_pipeline "$id" >d2.json &&
	jq -e ".status == \"success\"" d2.json &&
	expect_grep "job $jid finished while the server was down" data.log
'

test_expect_success 'a spare log file left by a killed server is emptied before a job gets it' '
	# the runner makes the next job log ahead (logs/.next.log) and renames
	# it into place at the start
	wait_for 20 test -f data/logs/.next.log &&
	kill_server &&
	printf "stale bytes of no job\n" >data/logs/.next.log &&
	printf "one:\n  script: [echo fresh log]\n" >app/.gitlab-ci.yml &&
	(cd app && git commit -qam fresh && git push -q origin HEAD:main) &&
	start_server data &&
	api POST /api/v1/projects/app/pipelines "{}" >p3.json &&
	wait_pipeline "$(jq -r .id p3.json)" >d3.json &&
	jq -e ".status == \"success\"" d3.json &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" p3.json)/log" >log3 &&
	expect_grep "fresh log" log3 &&
	! grep -q "stale bytes" log3 &&
	wait_for 20 test -f data/logs/.next.log &&
	! test -s data/logs/.next.log
'

test_expect_success 'a pipeline left half-made fails at the next start; one being made now does not' '
	kill_server &&
	proj=$(sqlite3 data/cidre.db "SELECT id FROM projects WHERE name = '"'"'app'"'"'") &&
	# made by the killed server, never given its jobs
	old=$(sqlite3 data/cidre.db "INSERT INTO pipelines (project_id, ref, sha, source, status,
		variables, created) VALUES ($proj, '"'"'main'"'"', '"'"'0000'"'"', '"'"'api'"'"',
		'"'"'created'"'"', '"'"'{}'"'"', 1000) RETURNING id") &&
	# as if this server were making it (the scheduler'"'"'s catch-up at start
	# can, while recovery walks the unfinished pipelines): created later
	new=$(sqlite3 data/cidre.db "INSERT INTO pipelines (project_id, ref, sha, source, status,
		variables, created) VALUES ($proj, '"'"'main'"'"', '"'"'0000'"'"', '"'"'api'"'"',
		'"'"'created'"'"', '"'"'{}'"'"', $(( ($(date +%s) + 3600) * 1000 ))) RETURNING id") &&
	start_server data &&
	wait_for 20 sh -c "test \"\$(sqlite3 data/cidre.db \"SELECT status FROM pipelines WHERE id = $old\")\" = failed" &&
	test "$(sqlite3 data/cidre.db "SELECT error FROM pipelines WHERE id = $old")" = \
		"the server stopped while creating this pipeline" &&
	test "$(sqlite3 data/cidre.db "SELECT status FROM pipelines WHERE id = $new")" = created &&
	sqlite3 data/cidre.db "DELETE FROM pipelines WHERE id = $new"
'

test_expect_success 'a supervisor that starts only once the next server recovers is waited for' '
	# the server dies after asking the job launcher for a supervisor and
	# before recording its pid; the launcher serves the request anyway,
	# here only once the next server has begun its recovery
	printf "one:\n  script:\n    - echo late start\n    - while [ ! -f \"\$MARK\" ]; do sleep 0.05; done\n    - echo late done\n" >app/.gitlab-ci.yml &&
	(cd app && git commit -qam late && git push -q origin HEAD:main) &&
	# a job first: the runner starts its launcher with its first job
	touch go4 &&
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"MARK\":\"$SCRATCH/go4\"}}" >p4.json &&
	wait_pipeline "$(jq -r .id p4.json)" | jq -e ".status == \"success\"" &&
	launcher=$(pgrep -P "$SERVER_PID" -f "job-launcher $SCRATCH/data/work") &&
	test -n "$launcher" &&
	kill -STOP "$launcher" &&
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"MARK\":\"$SCRATCH/go5\"}}" >p5.json &&
	id=$(jq -r .id p5.json) && jid=$(jq -r ".jobs[0].id" p5.json) &&
	wait_for 20 job_status_is "$jid" running &&
	test "$(sqlite3 data/cidre.db "SELECT coalesce(pid, 0) FROM jobs WHERE id = $jid")" = 0 &&
	kill_server &&
	{ start_server data & starting=$!; } &&
	# let the launcher go once the recovery waits for it: a fixed sleep
	# let it go too soon where the new server starts slowly
	wait_for 20 grep -q "job $jid was starting when the server stopped" data.log &&
	kill -CONT "$launcher" &&
	wait "$starting" &&
	expect_grep "job $jid still runs .*re-attached" data.log &&
	touch go5 &&
	wait_pipeline "$id" >d5.json &&
	jq -e ".status == \"success\" and .jobs[0].attempt == 1" d5.json &&
	api GET "/api/v1/jobs/$jid/log" >log5 &&
	expect_grep "late done" log5
'

# the old server's job launcher, stopped while a request waits for it
stop_launcher() {
	launcher=$(pgrep -P "$SERVER_PID" -f "job-launcher $SCRATCH/data/work") &&
	test -n "$launcher" &&
	kill -STOP "$launcher"
}
# no process of the old launcher is left: neither it nor a supervisor it
# forked (whose command line is the launcher's); the new server's
# launcher is its child
late_gone() {
	! process_alive "$launcher" &&
	for p in $(pgrep -f "job-launcher $SCRATCH/data/work"); do
		[ "$(ps -o ppid= -p "$p" | tr -d " ")" = "$SERVER_PID" ] || return 1
	done
}
# a job that counts its runs in the file $COUNT
printf "one:\n  script:\n    - echo \"ran \$CI_JOB_ID\" >>\"\$COUNT\"\n" >count.yml

test_expect_success 'a supervisor started after the next server gave its job up runs nothing' '
	# as above, but the launcher is held up past the recovery wait: the
	# job is given up (failed), and only then does the old launcher
	# start its supervisor, for the same slot
	cp count.yml app/.gitlab-ci.yml &&
	(cd app && git commit -qam count && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"COUNT\":\"$SCRATCH/count5\"}}" >p5b.json &&
	wait_pipeline "$(jq -r .id p5b.json)" | jq -e ".status == \"success\"" &&
	stop_launcher &&
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"COUNT\":\"$SCRATCH/count6\"}}" >p6.json &&
	id=$(jq -r .id p6.json) && jid=$(jq -r ".jobs[0].id" p6.json) &&
	wait_for 20 job_status_is "$jid" running &&
	kill_server &&
	start_server data &&
	expect_grep "job $jid was running when the server stopped and its process is gone" data.log &&
	expect_grep "job $jid: the spec of slot 1 wiped" data.log &&
	wait_pipeline "$id" | jq -e ".status == \"failed\"" &&
	kill -CONT "$launcher" &&
	wait_for 20 late_gone &&
	test ! -e count6
'

test_expect_success '... nor when the slot went on to another job meanwhile' '
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"COUNT\":\"$SCRATCH/count7\"}}" >p7.json &&
	wait_pipeline "$(jq -r .id p7.json)" | jq -e ".status == \"success\"" &&
	stop_launcher &&
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"COUNT\":\"$SCRATCH/count8\"}}" >p8.json &&
	jid=$(jq -r ".jobs[0].id" p8.json) &&
	wait_for 20 job_status_is "$jid" running &&
	kill_server &&
	start_server data &&
	expect_grep "job $jid: the spec of slot 1 wiped" data.log &&
	# slot 1 runs another job, with its own spec, before the late start
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"COUNT\":\"$SCRATCH/count9\"}}" >p9.json &&
	wait_pipeline "$(jq -r .id p9.json)" | jq -e ".status == \"success\"" &&
	kill -CONT "$launcher" &&
	wait_for 20 late_gone &&
	test ! -e count8 &&
	test "$(wc -l <count9)" = 1
'

# a supervisor of the old launcher stopped with its spec's lock held
stalled() {
	sup=$(ps -e -o pid=,stat=,args= | awk -v l="$launcher" -v w="job-launcher $SCRATCH/data/work" \
		"\$1 != l && \$2 ~ /^T/ && index(\$0, w) { print \$1 }") &&
	test -n "$sup"
}

test_expect_success 'a supervisor stalled holding its spec'"'"'s lock is killed by the next start; nothing runs' '
	# the old launcher is held up until its server is gone, then starts
	# the supervisor, which stops itself (CIDRE_TEST_SUPERVISOR_STOP=FILE,
	# while FILE exists) with its spec'"'"'s lock taken and no pid file
	# written: the next server finds no supervisor and a locked spec
	stop_server &&
	(export CIDRE_TEST_SUPERVISOR_STOP="$SCRATCH/stall" && start_server data) &&
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"COUNT\":\"$SCRATCH/count9b\"}}" >p9b.json &&
	wait_pipeline "$(jq -r .id p9b.json)" | jq -e ".status == \"success\"" &&
	stop_launcher &&
	: >stall &&
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"COUNT\":\"$SCRATCH/count10\"}}" >p10.json &&
	id=$(jq -r .id p10.json) && jid=$(jq -r ".jobs[0].id" p10.json) &&
	wait_for 20 job_status_is "$jid" running &&
	kill_server &&
	kill -CONT "$launcher" &&
	wait_for 20 stalled &&
	stalled &&
	rm stall &&
	start_server data &&
	expect_grep "recovery: the supervisor $sup held .*slot-1.spec.json for over 1000 ms: killed" data.log &&
	expect_grep "job $jid: the spec of slot 1 wiped" data.log &&
	wait_pipeline "$id" | jq -e ".status == \"failed\"" &&
	wait_for 10 sh -c "! kill -0 $sup 2>/dev/null" &&
	test ! -e count10
'

test_done
