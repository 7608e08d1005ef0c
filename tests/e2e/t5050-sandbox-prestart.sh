#!/bin/sh
# Sandboxes started ahead (prestart): the jobs of the next wave get their
# sandbox while the current one runs; a job run in one sees exactly what
# a job whose sandbox was made on the spot sees (environment, cwd, ids,
# limits, accounting); a sandbox nobody takes (skipped job, cancel, end of
# the pipeline) is torn down with nothing left: no process, no cgroup.
# CIDRE_PRESTART_TRACE names a file where the scheduler says what it did.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-sandbox.sh"
need_sandbox

# nothing of a run is left: no process naming its workspaces (bwrap's
# command line binds them), no cgroup named after its pid
nothing_left() { # nothing_left DIR PID
	! ps -eo args | grep -F "$SCRATCH/$1/.cidre/builds" | grep -v grep &&
	test -z "$(find /sys/fs/cgroup -name "cidre-$2-*" 2>/dev/null | head -1)"
}

# until_used TRACE JOB cmd...: run cmd until the trace says JOB ran in a
# sandbox started ahead, at most 5 times. A prestarted sandbox is
# (rightly) not used when CI_JOB_STARTED_AT, whole seconds, changed
# between its start and the job's: now and then on a slow run.
until_used() {
	tr=$1 job=$2 n=0
	shift 2
	while [ $n -lt 5 ]; do
		rm -f "$tr"
		"$@" || return 1
		grep -q "^used $job " "$tr" && return 0
		n=$((n + 1))
	done
	echo "job $job never ran in a prestarted sandbox:" >&2
	cat "$tr" >&2
	return 1
}

# what a job can observe of its sandbox, minus what differs run to run
observe() {
	cat <<-\EOF
	    - env | sort | grep -v -E "^(CI_JOB_ID|CI_PIPELINE_ID|CI_PIPELINE_IID|CI_JOB_STARTED_AT|CI_PIPELINE_CREATED_AT|CI_JOB_URL|CI_PIPELINE_URL)="
	    - pwd; id; umask; hostname; ulimit -a
	    - grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/self/status
	    - ls /proc/self/fd; ls /; cat /proc/self/uid_map
	    - cat /proc/self/mountinfo | cut -d" " -f5,6 | sort
	EOF
}

test_expect_success 'a job of the second stage runs in a sandbox started ahead' '
	bb_image img &&
	new_repo a <<-EOF &&
	stages: [one, two]
	first:
	  stage: one
	  image: $SCRATCH/img
	  script: [echo one]
	second:
	  stage: two
	  image: $SCRATCH/img
	  cidre: {memory: 64M, pids: 50}
	  script:
	$(observe)
	EOF
	run1() {
		(cd a && CIDRE_PRESTART_TRACE=$SCRATCH/trace cidre run \
			--executor sandbox --color=never --json=../r1.json >../out1 2>&1)
	} &&
	until_used trace second run1 &&
	expect_grep "^ahead second " trace &&
	expect_grep "^handed second " trace &&
	expect_grep "^used second " trace &&
	expect_no_grep "discarded" trace &&
	expect_grep "^second +\| /builds/a$" out1 &&
	expect_grep "^second +\| Running in a sandbox: .*, memory 64 MiB, pids 50$" out1
'

test_expect_success 'it sees what a sandbox made on the spot shows, and is accounted the same' '
	(cd a && CIDRE_PRESTART=0 CIDRE_PRESTART_TRACE=$SCRATCH/trace0 cidre run \
		--executor sandbox --color=never --json=../r0.json >../out0 2>&1) &&
	test ! -s trace0 &&
	grep -E "^second +\|" out1 >s1 && grep -E "^second +\|" out0 >s0 &&
	test $(wc -l <s1) -gt 40 &&
	expect_grep "^second +\| CI_PROJECT_DIR=/builds/a$" s1 &&
	expect_grep "^second +\| uid=65534" s1 &&
	diff s0 s1 &&
	python3 - r0.json r1.json <<-\PY
	import json, sys
	for f in sys.argv[1:]:
	    j = {j["name"]: j for j in json.load(open(f))["jobs"]}["second"]
	    assert j["status"] == "success", j
	    assert j["peak_memory"] > 0, j
	    assert j["accounting"].startswith("cgroup"), j
	PY
'

test_expect_success 'a prestarted job keeps its limits: a memory hog is OOM-killed' '
	new_repo m <<-EOF &&
	stages: [one, two]
	first:
	  stage: one
	  image: $SCRATCH/img
	  script: [echo one]
	hog:
	  stage: two
	  image: $SCRATCH/img
	  cidre: {memory: 32M}
	  script:
	    - x=\$(head -c 200000000 /dev/zero | tr "\\\\0" a); echo \${#x}
	EOF
	runm() {
		(cd m && export CIDRE_PRESTART_TRACE=$SCRATCH/trace-m &&
			expect_exit 1 cidre run --executor sandbox --color=never >../out 2>&1)
	} &&
	until_used trace-m hog runm &&
	expect_grep "^used hog " trace-m &&
	expect_grep "^hog +\| ERROR: Job failed: out of memory \(exit code 137\)" out
'

test_expect_success 'a job whose variables changed since (a dotenv report) gets a fresh sandbox' '
	new_repo d <<-EOF &&
	stages: [one, two]
	first:
	  stage: one
	  image: $SCRATCH/img
	  script: [echo FROM_FIRST=hello >build.env]
	  artifacts:
	    reports:
	      dotenv: build.env
	second:
	  stage: two
	  image: $SCRATCH/img
	  script: [echo "got=\$FROM_FIRST"]
	EOF
	(cd d && CIDRE_PRESTART_TRACE=$SCRATCH/trace-d cidre run --executor sandbox \
		--color=never >../out 2>&1) &&
	expect_grep "^second +\| got=hello$" out &&
	expect_grep "^ahead second " trace-d &&
	expect_no_grep "^used second " trace-d
'

test_expect_success 'the sandbox of a job that will not run is torn down: nothing left' '
	new_repo s <<-EOF &&
	stages: [one, two]
	fails:
	  stage: one
	  image: $SCRATCH/img
	  script: [exit 1]
	skipped:
	  stage: two
	  image: $SCRATCH/img
	  script: [echo SHOULD-NOT-RUN]
	EOF
	(cd s && { CIDRE_PRESTART_TRACE=$SCRATCH/trace-s "$CIDRE_BIN" run \
		--executor sandbox --color=never >../out 2>&1 & echo $! >../pid;
		wait $!; echo $? >../rc; }) &&
	test "$(cat rc)" = 1 &&
	expect_grep "^ahead skipped " trace-s &&
	expect_grep "^discarded skipped " trace-s &&
	expect_no_grep "SHOULD-NOT-RUN" out &&
	expect_grep "^skipped +two +skipped" out &&
	nothing_left s "$(cat pid)"
'

test_expect_success 'cancel (SIGINT) with sandboxes waiting: all torn down, nothing runs' '
	new_repo c <<-EOF &&
	stages: [one, two]
	long:
	  stage: one
	  image: $SCRATCH/img
	  script: [sleep 60]
	next-a:
	  stage: two
	  image: $SCRATCH/img
	  script: [echo SHOULD-NOT-RUN]
	next-b:
	  stage: two
	  image: $SCRATCH/img
	  script: [echo SHOULD-NOT-RUN]
	EOF
	: >trace-c &&
	(cd c && exec env CIDRE_PRESTART_TRACE=$SCRATCH/trace-c "$CIDRE_BIN" run \
		--executor sandbox --color=never -j 2 >../out 2>&1) &
	pid=$! &&
	n=0 && while ! grep -q "^ahead next-b " trace-c && [ $n -lt 600 ]; do
		sleep 0.1; n=$((n + 1)); done &&
	expect_grep "^ahead next-a " trace-c &&
	kill -INT $pid && { wait $pid; true; } &&
	expect_grep "^discarded next-a " trace-c &&
	expect_no_grep "SHOULD-NOT-RUN" out &&
	expect_no_grep "^used next" trace-c &&
	nothing_left c $pid
'

test_done
