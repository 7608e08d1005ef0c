#!/bin/sh
# Sandboxes started ahead (prestart): the jobs of the next wave get their
# sandbox while the current one runs; a job run in one sees exactly what
# a job whose sandbox was made on the spot sees (environment, cwd, ids,
# limits, accounting); a sandbox nobody takes (skipped job, cancel, end of
# the pipeline) is torn down with nothing left: no process, no cgroup.
# CIDRE_PRESTART_TRACE names a file where the scheduler says what it did.
# A static cidre prestarts through its trampoline (cidre sandbox-init),
# which takes the job's command, environment and directory at the
# release; a sanitizer build (dynamic) cannot run inside an image and
# prestarts the older way, the job's whole spec fixed at the start.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-sandbox.sh"
need_sandbox
if file_is_static "$CIDRE_BIN"; then TRAMPOLINE=1; else TRAMPOLINE=; fi

# nothing of a run is left: no process naming its workspaces (bwrap's
# command line binds them), no cgroup named after its pid
# A pool daemon tears a discarded sandbox down on its own time, after
# the run may have ended: on a loaded machine a moment later. So the
# checks wait for it (up to 10 s) rather than look once.
nothing_left_now() { # nothing_left_now DIR PID
	! ps -eo args | grep -F "$SCRATCH/$1/.cidre/builds" | grep -v grep &&
	test -z "$(find /sys/fs/cgroup -name "cidre-$2-*" 2>/dev/null | head -1)"
}
nothing_left() { # nothing_left DIR PID (a loaded CI machine: up to 30 s)
	n=0
	until nothing_left_now "$1" "$2" >/dev/null; do
		n=$((n + 1))
		[ "$n" -lt 300 ] || { nothing_left_now "$1" "$2";
			echo "left after 30 s: $(find /sys/fs/cgroup -name "cidre-$2-*" 2>/dev/null)"
			return 1; }
		sleep 0.1
	done
}

# until_used TRACE JOB cmd...: run cmd until the trace says JOB ran in a
# sandbox started ahead, at most 5 times. Without the trampoline, a
# prestarted sandbox is (rightly) not used when CI_JOB_STARTED_AT, whole
# seconds, changed between its start and the job's: now and then.
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

# a job's pid: 2 in a sandbox of its own, the Nth child of its init in a
# pool's, whose inits serve job after job
pidnorm() {
	sed -e "s/| pid [0-9]* ppid 1$/| pid N ppid 1/" -e "s/NSpid:	[0-9]*$/NSpid:	N/"
}

# what a job can observe of its sandbox, minus what differs run to run
# (the shell's signal state is read by the shell itself: while it waits
# for a child, a child sees it in flux)
observe() {
	cat <<-\EOF
	    - env | sort | grep -v -E "^(CI_JOB_ID|CI_PIPELINE_ID|CI_PIPELINE_IID|CI_JOB_STARTED_AT|CI_PIPELINE_CREATED_AT|CI_JOB_URL|CI_PIPELINE_URL)="
	    - pwd; id; umask; hostname; ulimit -a; echo "pid $$ ppid $PPID"
	    - grep -E "^(Cap|NoNewPrivs|Seccomp|NSpid|NSsid|Umask)" /proc/$$/status
	    - while read -r l; do case $l in Sig*) echo "$l";; esac; done </proc/$$/status
	    - tr "\\0" " " </proc/$$/cmdline; echo; readlink /proc/$$/exe; ls /proc/$$/fd
	    - cat /proc/$$/oom_score_adj /proc/$$/loginuid /proc/$$/personality 2>&1
	    - ls /proc/self/fd; ls /; cat /proc/self/uid_map
	    - cat /proc/self/mountinfo | cut -d" " -f5,6 | sort -u
	EOF
}

test_expect_success 'the jobs of both stages run in sandboxes started ahead' '
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
	  after_script:
	$(observe)
	EOF
	run1() {
		(cd a && CIDRE_PRESTART_TRACE=$SCRATCH/trace cidre run \
			--executor sandbox --color=never --json=../r1.json >../out1 2>&1)
	} &&
	until_used trace second run1 &&
	expect_grep "^ahead first " trace &&
	expect_grep "^handed first " trace &&
	expect_grep "^used first " trace &&
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
	! grep -q "^\(ahead\|handed\|used\) " trace0 &&
	grep -q "^joined second " trace0 &&
	grep -E "^second +\|" out1 | pidnorm >s1 &&
	grep -E "^second +\|" out0 | pidnorm >s0 &&
	expect_grep "^second +\| pid 2 ppid 1$" out0 &&
	test $(wc -l <s1) -gt 80 &&
	expect_grep "^second +\| Running after_script$" s1 &&
	expect_grep "^second +\| CI_JOB_STATUS=success$" s1 &&
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

test_expect_success 'with the host as image too' '
	new_repo h <<-EOF &&
	stages: [one, two]
	first:
	  stage: one
	  script: [echo one]
	second:
	  stage: two
	  script:
	$(observe)
	EOF
	runh() {
		(cd h && CIDRE_PRESTART_TRACE=$SCRATCH/trace-h cidre run \
			--executor sandbox --color=never >../outh1 2>&1)
	} &&
	until_used trace-h second runh &&
	(cd h && CIDRE_PRESTART=0 cidre run --executor sandbox --color=never \
		>../outh0 2>&1) &&
	grep -E "^second +\|" outh1 | pidnorm >h1 &&
	grep -E "^second +\|" outh0 | pidnorm >h0 &&
	test $(wc -l <h1) -gt 40 &&
	diff h0 h1
'

# sandboxes waiting for their job whose bwrap names DIR: trampolines
# (a bwrap's command), and in a pool (cidre run: one bwrap whose command
# is "sandbox-init pool", the zygote), each job's init the zygote cloned,
# while it has no child (no job) yet
cmdline() { tr "\0" " " </proc/$1/cmdline 2>/dev/null; }
ppid_of() { cut -d" " -f4 /proc/$1/stat 2>/dev/null; }
waiting_trampolines() {
	for p in $(pgrep -x -f "/proc/self/fd/5 sandbox-init( pool)?"); do
		pp=$(ppid_of $p) &&
		case $(cmdline $pp) in
		"/proc/self/fd/5 sandbox-init pool ")
			# a pool's job process before its exec: under its init,
			# under the zygote, under bwrap
			ppp=$(ppid_of $pp) &&
			test "$(cmdline $ppp)" = "/proc/self/fd/5 sandbox-init pool " &&
			test -z "$(cat /proc/$p/task/$p/children 2>/dev/null)" &&
			cmdline "$(ppid_of $ppp)" | grep -qF "$1" && echo $p;;
		*)
			test "$(cmdline $p)" = "/proc/self/fd/5 sandbox-init " &&
			cmdline $pp | grep -qF "$1" && echo $p;;
		esac
	done | wc -l
}

if test -n "$TRAMPOLINE"; then
test_expect_success 'after_script gets a sandbox set up while the script runs' '
	new_repo as <<-EOF &&
	j:
	  image: $SCRATCH/img
	  script:
	    - while [ ! -e go ]; do sleep 0.05; done; echo script done
	  after_script:
	    - echo "after \$CI_JOB_STATUS in \$PWD"
	EOF
	(cd as && exec "$CIDRE_BIN" run --executor sandbox --color=never >../out 2>&1) &
	pid=$! &&
	n=0 && while [ "$(waiting_trampolines "$SCRATCH/as/.cidre/builds")" != 1 ] &&
		[ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
	seen=$(waiting_trampolines "$SCRATCH/as/.cidre/builds")
	# the script ends in any case: nothing is left running
	for d in as/.cidre/builds/*/; do touch "$d/go"; done
	wait $pid &&
	test "$seen" = 1 &&
	expect_grep "^j +\| script done$" out &&
	expect_grep "^j +\| after success in /builds/as$" out &&
	test "$(waiting_trampolines "$SCRATCH/as/.cidre/builds")" = 0
'
else
	test_count=$((test_count + 1))
	echo "ok $test_count # skip a dynamic cidre does not prestart after_script"
fi

# job_msg CWD ARGV ENV...: a job description as cidre sends it
job_msg() {
	python3 -c "if 1:
	import struct, sys
	cwd, argv, env = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
	p = b\"\".join(s.encode() + b\"\\0\" for s in [cwd, str(len(argv))] + argv + env)
	sys.stdout.buffer.write(b\"CSJ1\" + struct.pack(\"<I\", len(p)) + p)
	" "$@"
}

test_expect_success 'the trampoline runs the job it is sent, with nothing of its own' '
	job_msg "$SCRATCH" "/usr/bin/env" A=1 PWD=/job B==2 >msg &&
	env -i X=9 PWD=/bwrap "$CIDRE_BIN" sandbox-init 4<msg >out 2>err &&
	test ! -s err &&
	printf "A=1\nPWD=/bwrap\nB==2\nX=9\n" >expect &&
	diff expect out &&
	job_msg /tmp "/bin/sh -c pwd;ls\${IFS}/proc/self/fd" >msg &&
	"$CIDRE_BIN" sandbox-init 4<msg 7</dev/null 9</dev/null >out &&
	printf "/tmp\n0\n1\n2\n3\n" >expect &&
	diff expect out
'

test_expect_success 'the trampoline refuses what is not a whole job, saying why' '
	bad() { # bad "what it says" < message
		expect_exit 127 "$CIDRE_BIN" sandbox-init 4<&0 >out 2>err &&
		test ! -s out && expect_grep "^cidre sandbox-init: $1" err
	} &&
	bad "the sandbox was let go of without a job" </dev/null &&
	printf "CSJ" | bad "not a job description \(3 bytes\)" &&
	printf "XXXX\001\000\000\000/" | bad "not a job description" &&
	printf "CSJ1\377\377\377\377" | bad "a job description of 4294967295 bytes" &&
	job_msg / /bin/true >msg && head -c 15 msg | bad "the job description ended early \(7 of 14 bytes\)" &&
	job_msg / bin/true | bad "malformed job description: the command is not an absolute" &&
	job_msg / /bin/true NOEQ | bad "malformed job description: environment entry 0" &&
	job_msg /nonexistent /bin/true | bad "cannot enter /nonexistent" &&
	job_msg / /nonexistent/x | bad "cannot run /nonexistent/x: No such file"
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

test_expect_success 'a job whose variables changed since it was prestarted (a dotenv report) gets them' '
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
	if test -n "$TRAMPOLINE"; then
		expect_grep "^used second " trace-d
	else
		expect_no_grep "^used second " trace-d
	fi
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
		--executor sandbox --color=never -j 3 >../out 2>&1) &
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

# A static cidre run makes its sandboxes in a pool: one bwrap for the run
# (per image and network), whose command is our "sandbox-init pool";
# each job's own namespaces, /tmp, /dev and /proc are made inside it.
if test -n "$TRAMPOLINE"; then
test_expect_success 'the jobs of a run come from one pool, each with its own /tmp, /dev/shm and processes' '
	new_repo pl <<-EOF &&
	stages: [one, two]
	a:
	  stage: one
	  script:
	    - tr "\\0" " " </proc/1/cmdline; echo
	    - echo a >/tmp/mine; echo a >/dev/shm/mine; sleep 30 & echo started
	    - sleep 1; cat /tmp/mine /dev/shm/mine
	b:
	  stage: one
	  script:
	    - sleep 0.3; ps -e -o pid= | wc -l
	    - test ! -e /tmp/mine && test ! -e /dev/shm/mine && echo b sees nothing of a
	c:
	  stage: two
	  script:
	    - ls /tmp /dev/shm | grep -c mine || true
	    - cat /proc/self/uid_map; id -u; hostname
	    - grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status
	EOF
	(cd pl && cidre run --executor sandbox --color=never -j 2 >../out 2>&1) &&
	expect_grep "^a +\| /proc/self/fd/5 sandbox-init pool $" out &&
	expect_grep "^b +\| b sees nothing of a$" out &&
	expect_grep "^a +\| a$" out &&
	expect_grep "^b +\| 4$" out &&
	test $(grep -cE "^a +\| a$" out) = 2 &&
	expect_grep "^c +\| 0$" out &&
	expect_grep "^c +\| +65534 +0 +1$" out &&
	expect_grep "^c +\| 65534$" out &&
	expect_grep "^c +\| cidre-job$" out &&
	expect_grep "^c +\| CapEff:	0000000000000000$" out &&
	expect_grep "^c +\| CapBnd:	0000000000000000$" out &&
	expect_grep "^c +\| NoNewPrivs:	1$" out &&
	test -s pl/.cidre/pool-line &&
	(cd pl && CIDRE_SANDBOX_POOL=0 cidre run --executor sandbox --color=never \
		-j 2 >../outp0 2>&1) &&
	expect_grep "^a +\| /[^ ]*bwrap --unshare-user " outp0
'

test_expect_success 'a pool line kept from an earlier run that is not ours is not started' '
	printf "/bin/sh\0-c\0touch $SCRATCH/ran-it\0--\0/proc/self/fd/5\0sandbox-init\0pool\0" \
		>pl/.cidre/pool-line &&
	(cd pl && cidre run --executor sandbox --color=never -j 2 >../out 2>&1) &&
	test ! -e ran-it &&
	expect_grep "^a +\| /proc/self/fd/5 sandbox-init pool $" out &&
	head -c 64 /dev/urandom >pl/.cidre/pool-line &&
	(cd pl && cidre run --executor sandbox --color=never -j 2 >../out 2>&1) &&
	expect_grep "^c +\| cidre-job$" out
'
else
	test_count=$((test_count + 2))
	echo "ok $((test_count - 1)) # skip a dynamic cidre has no pool"
	echo "ok $test_count # skip a dynamic cidre has no pool"
fi

test_done
