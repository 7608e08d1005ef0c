#!/bin/sh
# A runner slot's cgroups are kept from job to job: its jobs run one after
# the other in the same cgroup (v1 memory hierarchy), each with its own
# accounting (peak memory, CPU); the cgroups go when the server stops, and
# what a killed server left is removed by the next one. Where the memory
# hierarchy is v2 (or absent) every job has a cgroup of its own, as before.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

# the v1 memory cgroup the jobs of this machine would run under, if any
v1_mem() {
	own=$(sed -n 's/^[0-9]*:\([^:]*,\)\{0,1\}memory\(,[^:]*\)\{0,1\}:\(.*\)$/\3/p' /proc/self/cgroup)
	mnt=$(awk '$9 == "cgroup" && $NF ~ /(^|,)memory(,|$)/ { print $5; exit }' /proc/self/mountinfo)
	[ -n "$own" ] && [ -n "$mnt" ] && [ -w "$mnt$own" ] && echo "$mnt${own%/}"
}
V1=$(v1_mem)

test_expect_success 'two jobs of one slot: one cgroup, each its own accounting' '
	mkdir -p data && printf "runner:\n  slots: 1\n" >data/config.yml &&
	start_server data &&
	bare_repo app <<-\YML &&
	stages: [a, b]
	first:
	  stage: a
	  script:
	    - cat /proc/self/cgroup
	    - head -c 3000000 /dev/zero | tail -c 1 >/dev/null
	second:
	  stage: b
	  script: [cat /proc/self/cgroup]
	YML
	add_project app "$SCRATCH/app.git" &&
	api POST /api/v1/projects/app/pipelines "{}" >p.json && expect_status 201 &&
	id=$(jq -r .id p.json) &&
	wait_pipeline "$id" >p.json &&
	test "$(jq -r .status p.json)" = success &&
	j1=$(jq -r ".jobs[] | select(.name == \"first\") | .id" p.json) &&
	j2=$(jq -r ".jobs[] | select(.name == \"second\") | .id" p.json) &&
	curl -sS "$URL/api/v1/jobs/$j1" >j1.json && curl -sS "$URL/api/v1/jobs/$j2" >j2.json &&
	if [ -n "$V1" ]; then
		c1=$(job_cgroup "$j1") && c2=$(job_cgroup "$j2") &&
		echo "first in $c1, second in $c2" &&
		test "$c1" = "$c2" &&
		echo "server $SERVER_PID, V1 $V1" &&
		case $c1 in */cidre-"$SERVER_PID"-slot-1) ;; *) false ;; esac &&
		{ test -d "$V1/cidre-$SERVER_PID-slot-1" || { ls "$V1" | grep cidre; false; }; } &&
		p1=$(jq -r .peak_memory j1.json) && p2=$(jq -r .peak_memory j2.json) &&
		echo "peaks $p1 $p2" &&
		test "$p1" -gt 0 && test "$p2" -gt 0
	else
		echo "no writable v1 memory hierarchy here: a cgroup per job"
	fi
'

test_expect_success 'the slot cgroups go when the server stops' '
	pid=$SERVER_PID &&
	stop_server &&
	if [ -n "$V1" ]; then
		! test -d "$V1/cidre-$pid-slot-1"
	fi
'

test_expect_success 'a killed server leaves them; the next server removes them' '
	start_server data &&
	api POST /api/v1/projects/app/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >/dev/null &&
	pid=$SERVER_PID &&
	kill_server &&
	if [ -n "$V1" ]; then
		test -d "$V1/cidre-$pid-slot-1"
	fi &&
	# all its threads gone (its lock free), not only its main one
	wait_for 10 flock -n data/server.lock true &&
	start_server data &&
	if [ -n "$V1" ]; then
		wait_for 10 sh -c "! test -d \"$V1/cidre-$pid-slot-1\""
	fi
'

check_sanitizers
test_done
