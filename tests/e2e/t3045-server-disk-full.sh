#!/bin/sh
# The data directory's disk fills up (docs/server.md, "When the disk is
# full"): a job whose log cannot be written is stopped and fails; a job
# whose artifacts cannot be kept fails; a job's end the store cannot
# record waits (still "running", counted in /metrics) and is recorded
# once there is room again; new pipelines get 503 meanwhile; the server
# answers throughout. The data directory is a small tmpfs of the test's.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

[ "$(id -u)" = 0 ] || skip_all "skipped: mounting a small file system needs root"
mkdir -p data
mount -t tmpfs -o size=48m,mode=0755 cidre-test-full "$SCRATCH/data" 2>/dev/null ||
	skip_all "skipped: cannot mount a tmpfs here"
TEST_CLEANUP="${TEST_CLEANUP:-:}; umount -l '$SCRATCH/data' 2>/dev/null"

MARK=$SCRATCH/mark
export MARK

# fill: a file taking every byte left on data's file system
fill() {
	dd if=/dev/zero of=data/ballast bs=64k 2>/dev/null
	[ "$(df -P data | awk 'NR == 2 { print $4 }')" -lt 64 ]
}

# metric NAME: its value in /metrics
metric() {
	curl -sS "$URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

log_has() {
	grep -q "$1" data.log
}

test_expect_success 'a server whose data directory is a 48 MiB file system' '
	cat >data/config.yml <<-CONF &&
	runner:
	  slots: 1
	limits:
	  log_size: 1GiB
	CONF
	start_server data &&
	bare_repo app <<-YML &&
	spam:
	  script:
	    - yes "a line of the job that fills the disk" | head -c 200000000
	    - echo not reached
	YML
	add_project app "$SCRATCH/app.git"
'

test_expect_success 'a job whose log fills the disk is stopped and fails, saying why' '
	dd if=/dev/zero of=data/spare bs=1M count=8 2>/dev/null &&
	id=$(cidre trigger -q app main --server "$URL" --token "$TOKEN") &&
	wait_for 30 log_has "job 1: stopped: its log cannot be written: No space left on device" &&
	wait_for 10 log_has "idle workspace removed to make room" &&
	rm data/spare &&
	p=$(wait_pipeline "$id") &&
	echo "$p" | jq -e ".status == \"failed\"" &&
	j=$(curl -sS "$URL/api/v1/jobs/1") &&
	echo "$j" | jq -e ".status == \"failed\" and .failure_reason == \"runner_system_failure\"" &&
	echo "$j" | jq -e ".exit_code != 0" &&
	curl -sS "$URL/api/v1/jobs/1/log" | head -c 1000 >head &&
	grep -q "a line of the job that fills the disk" head &&
	! curl -sS "$URL/api/v1/jobs/1/log" | grep -q "not reached" &&
	rm -f data/logs/1.log
'

test_expect_success 'a job whose artifacts cannot be kept fails' '
	(
		cd app &&
		cat >.gitlab-ci.yml <<-YML &&
		big:
		  script:
		    - head -c 30000000 /dev/zero >big.bin
		  artifacts:
		    paths: [big.bin]
		YML
		git commit -q -am artifacts && git push -q origin HEAD:main
	) &&
	id=$(cidre trigger -q app main --server "$URL" --token "$TOKEN") &&
	p=$(wait_pipeline "$id") &&
	j=$(echo "$p" | jq ".jobs[0]") &&
	echo "$j" | jq -e ".status == \"failed\" and .failure_reason == \"runner_system_failure\"" &&
	jid=$(echo "$j" | jq .id) &&
	curl -sS "$URL/api/v1/jobs/$jid/log" | grep "ERROR: collecting artifacts failed" &&
	api GET "/api/v1/jobs/$jid/artifacts" >arts &&
	jq -e "length == 0" arts
'

test_expect_success 'the server again, making no room by itself (a test hook)' '
	stop_server &&
	export CIDRE_TEST_NO_ROOM=1 &&
	start_server data
'

test_expect_success 'a full disk: new pipelines get 503, the server answers' '
	(
		cd app &&
		cat >.gitlab-ci.yml <<-YML &&
		wait:
		  script:
		    - while [ ! -f "\$MARK" ]; do sleep 0.05; done
		YML
		git commit -q -am wait && git push -q origin HEAD:main
	) &&
	id=$(cidre trigger -q app main --server "$URL" --token "$TOKEN") &&
	echo "$id" >waiting &&
	wait_for 20 job_status_is "$(curl -sS "$URL/api/v1/pipelines/$id" | jq ".jobs[0].id")" running &&
	fill &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"main\"}" >body &&
	expect_status 503 &&
	grep "cannot record a pipeline now" body &&
	command curl -sS -o /dev/null -D hdrs -H "Authorization: Bearer $TOKEN" \
		-H "Content-Type: application/json" -d "{\"ref\":\"main\"}" \
		"$URL/api/v1/projects/app/pipelines" &&
	grep -i "^Retry-After: 5" hdrs &&
	test "$(command curl -sS "$URL/healthz")" = ok &&
	api GET "/api/v1/pipelines/$id" >/dev/null && expect_status 200
'

test_expect_success 'a job ending on the full disk: its end waits, kept, and is recorded once there is room' '
	id=$(cat waiting) &&
	jid=$(curl -sS "$URL/api/v1/pipelines/$id" | jq ".jobs[0].id") &&
	touch "$MARK" &&
	wait_for 20 log_has "job $jid: its end cannot be recorded now" &&
	sleep 1.5 &&
	job_status_is "$jid" running &&
	test "$(metric cidre_jobs_unrecorded)" = 1 &&
	command curl -sS -H "Authorization: Bearer $TOKEN" "$URL/pipelines/$id" >page.html &&
	grep "cannot record what jobs do now: 1 job ended" page.html &&
	freed=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) &&
	rm data/ballast &&
	p=$(wait_pipeline "$id" 20) &&
	echo "$p" | jq -e ".status == \"success\"" &&
	fin=$(curl -sS "$URL/api/v1/jobs/$jid" | jq -r .finished_at) &&
	echo "the job finished at $fin, recorded after $freed" &&
	test "$(printf "%s\n%s\n" "$fin" "$freed" | sort | head -n 1)" = "$fin" &&
	echo "$p" | jq -e ".finished_at == \"$fin\"" &&
	log_has "job $jid: its end is recorded now" &&
	test "$(metric cidre_jobs_unrecorded)" = 0 &&
	command curl -sS -H "Authorization: Bearer $TOKEN" "$URL/pipelines/$id" >page.html &&
	grep -q "<main>" page.html && ! grep "cannot record what jobs do" page.html
'

test_expect_success 'with room again, pipelines run as before' '
	rm -f "$MARK" &&
	(
		cd app &&
		printf "ok:\n  script: [\"echo fine\"]\n" >.gitlab-ci.yml &&
		git commit -q -am fine && git push -q origin HEAD:main
	) &&
	id=$(cidre trigger -q app main --server "$URL" --token "$TOKEN") &&
	p=$(wait_pipeline "$id") &&
	echo "$p" | jq -e ".status == \"success\""
'

test_expect_success 'the server stops cleanly' '
	stop_server
'

test_done
