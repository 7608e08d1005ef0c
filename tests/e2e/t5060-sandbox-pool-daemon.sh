#!/bin/sh
# Sandbox pools that outlive `cidre run` (exec/pool.h, docs/sandbox.md
# "Pools"): a run leaves its pool listening in .cidre/pools; the next
# runs' jobs come from it without a bwrap of their own, each as isolated
# as before; a run that dies takes its jobs with it, not the pool; the
# pool ends when stopped, idle for CIDRE_SANDBOX_POOL_IDLE seconds, or
# when its workspaces' directory is gone; `cidre pool ls|stop`.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-sandbox.sh"
need_sandbox
if ! file_is_static "$CIDRE_BIN"; then
	skip_all "a dynamic cidre (sanitizer build) has no pool"
fi

# a bwrap that counts the pools it starts (their environment is empty:
# the log's path is written in)
BW=$(command -v bwrap)
{
	echo "#!/bin/sh"
	echo "case \"\$*\" in *\"sandbox-init pool\") echo pool >>$SCRATCH/pools-started;; esac"
	echo "exec $BW \"\$@\""
} >bwrap-count
chmod +x bwrap-count
export CIDRE_BWRAP="$SCRATCH/bwrap-count"
export CIDRE_SANDBOX_POOL_IDLE=60
started() { cat "$SCRATCH/pools-started" 2>/dev/null | wc -l; }
pool_pid() { (cd "$SCRATCH/$1" && cidre pool ls) | awk 'NR == 2 { print $2 }'; }
# gone PID: the process ends within 6 s
gone() {
	n=0
	while kill -0 "$1" 2>/dev/null && [ $n -lt 60 ]; do
		sleep 0.1; n=$((n + 1)); done
	! kill -0 "$1" 2>/dev/null
}
# stop what a failed test left (our own pools, by their sockets)
TEST_CLEANUP='for d in "$SCRATCH"/*/; do (cd "$d" && "$CIDRE_BIN" pool stop) >/dev/null 2>&1; done'

test_expect_success 'a run leaves its pool; the next run uses it, starting no bwrap' '
	new_repo d <<-\EOF &&
	one:
	  script:
	    - echo mine >/tmp/mine; sleep 30 & echo started
	    - tr "\\0" " " </proc/1/cmdline; echo
	EOF
	(cd d && cidre run --executor sandbox --color=never >../out1 2>&1) &&
	expect_grep "^one +\| started$" out1 &&
	test $(started) = 1 &&
	(cd d && cidre pool ls) >ls1 &&
	test $(wc -l <ls1) = 2 &&
	pid=$(pool_pid d) &&
	tr "\0" " " </proc/$pid/cmdline | grep "sandbox-init pool" &&
	(cd d && cidre run --executor sandbox --color=never >../out2 2>&1) &&
	expect_grep "^one +\| /proc/self/fd/5 sandbox-init pool $" out2 &&
	test $(started) = 1 &&
	test "$(pool_pid d)" = "$pid"
'

test_expect_success 'it makes sandboxes ahead while idle; its jobs are isolated as before: fresh /tmp and /dev, own processes, no privileges' '
	new_repo iso <<-\EOF &&
	stages: [one, two]
	a:
	  stage: one
	  script:
	    - ls /tmp /dev/shm | grep -c mine || true
	    - echo a >/tmp/mine; echo a >/dev/shm/mine; sleep 30 & echo started
	    - sleep 0.5; ps -e -o pid= | wc -l
	b:
	  stage: two
	  script:
	    - ls /tmp /dev/shm | grep -c mine || true
	    - cat /proc/self/uid_map; id -u; hostname
	    - grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status
	EOF
	(cd iso && cidre run --executor sandbox --color=never >../out 2>&1) &&
	n=0 && until (cd iso && cidre pool ls) | awk "NR == 2 && \$5 == 8 { ok = 1 } END { exit !ok }" &&
		[ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done &&
	jobs=$( (cd iso && cidre pool ls) | awk "NR == 2 { print \$4 }") &&
	test "$jobs" -ge 2 &&
	(cd iso && cidre run --executor sandbox --color=never >../out 2>&1) &&
	(cd iso && cidre pool ls) >ls &&
	awk -v j=$jobs "NR == 2 { exit !(\$4 >= j + 2) }" ls &&
	test $(started) = 2 &&
	expect_grep "^a +\| 0$" out &&
	expect_grep "^a +\| 5$" out &&
	expect_grep "^b +\| 0$" out &&
	expect_grep "^b +\| +65534 +0 +1$" out &&
	expect_grep "^b +\| cidre-job$" out &&
	expect_grep "^b +\| CapEff:	0000000000000000$" out &&
	expect_grep "^b +\| CapBnd:	0000000000000000$" out &&
	expect_grep "^b +\| NoNewPrivs:	1$" out
'

test_expect_success 'a network namespace serves a later job only if its job left nothing in it' '
	cat >tw.py <<-\EOF &&
	import socket
	s = socket.socket()
	s.bind(("127.0.0.1", 0))
	s.listen()
	c = socket.create_connection(s.getsockname())
	a, _ = s.accept()
	a.close()
	c.close()
	s.close()
	EOF
	new_repo net <<-\EOF &&
	stages: [one, two, three]
	clean:
	  stage: one
	  script: [readlink /proc/self/ns/net]
	dirty:
	  stage: two
	  script:
	    - readlink /proc/self/ns/net
	    - python3 tw.py
	    - grep "^TCP:" /proc/net/sockstat
	after:
	  stage: three
	  script:
	    - readlink /proc/self/ns/net
	    - grep "^TCP:" /proc/net/sockstat
	    - grep "^sockets:" /proc/net/sockstat
	EOF
	cp tw.py net/ && (cd net && git add tw.py && git commit -qm tw) &&
	for i in 1 2 3; do
		(cd net && cidre run --executor sandbox --color=never >../out 2>&1) &&
		expect_grep "^dirty +\| TCP: inuse 0 orphan [0-9]+ tw 1 " out &&
		expect_grep "^after +\| TCP: inuse 0 orphan [0-9]+ tw 0 " out &&
		expect_grep "^after +\| sockets: used 0$" out &&
		d=$(sed -n "s/^dirty *| \(net:.*\)/\1/p" out) &&
		a=$(sed -n "s/^after *| \(net:.*\)/\1/p" out) &&
		test -n "$d" && test "$d" != "$a" &&
		sed -n "s/^[a-z]* *| \(net:.*\)/\1/p" out >>seen || return 1
	done &&
	# and clean ones do serve again (what makes the above a test)
	test -n "$(sort seen | uniq -d)"
'

test_expect_success 'an init serves job after job; each finds nothing of the last: processes, /tmp, /dev/shm, /dev, IPC' '
	new_repo re <<-\EOF &&
	j:
	  script:
	    - echo "pid $$"
	    - echo "procs $(ps -e -o pid= | wc -l)"
	    - echo "left $(ls -A /tmp /dev/shm | grep -c left)"
	    - echo "ipc $(ipcs -m | grep -c "^0x")"
	    - touch /dev/left 2>/dev/null || echo "dev read-only"
	    - echo left >/tmp/left; echo left >/dev/shm/left; ipcmk -M 4096 >/dev/null
	    - (sleep 3607 &); echo leaves
	EOF
	for i in 1 2 3 4; do
		(cd re && cidre run --executor sandbox --color=never >../out 2>&1) &&
		expect_grep "^j +\| leaves$" out &&
		cat out >>outs || return 1
	done &&
	test "$(grep -c "^j *| procs 5$" outs)" = 4 &&
	test "$(grep -c "^j *| left 0$" outs)" = 4 &&
	test "$(grep -c "^j *| ipc 0$" outs)" = 4 &&
	test "$(grep -c "^j *| dev read-only$" outs)" = 4 &&
	# the later runs had inits that served before: their job is not
	# the first process of its namespace
	grep -E "^j +\| pid [0-9]+$" outs | grep -v " pid 2$" &&
	! pgrep -f "^sleep 3607$" &&
	(cd re && cidre pool ls) >ls &&
	head -1 ls | grep -q "	WAITING$" &&
	awk "NR == 2 { exit !(\$8 >= 1 && \$8 <= 8) }" ls
'

test_expect_success 'what a job leaves in /tmp, /dev/shm, their modes and attributes, or IPC is gone for the next; a workspace made again is bound again' '
	mkdir lo && cp "$(dirname "$CIDRE_BIN")/tests/tools/leftover" lo/ &&
	new_repo lo <<-\EOF &&
	stages: [a, b, c, d, e]
	.check: &check
	  - test -x leftover && echo "workspace ok"
	  - echo "modes $(stat -c %a /tmp /dev/shm | tr "\n" " ")"
	  - echo "entries $(find /tmp /dev/shm -mindepth 1 | wc -l)"
	  - echo "xattrs $(./leftover xattrs /tmp) $(./leftover xattrs /dev/shm)"
	  - echo "sysv $(ipcs -m -s -q | grep -c "^0x")"
	  - if ./leftover mq-has /left; then echo "mq left"; else echo "mq none"; fi
	check1: { stage: a, script: *check }
	leave:
	  stage: b
	  script:
	    - chmod 700 /tmp && chmod 1777 /dev/shm
	    - ./leftover xattr-set /tmp && ./leftover xattr-set /dev/shm
	    - ./leftover mq-make /left && ipcmk -S 1 >/dev/null && ipcmk -Q >/dev/null
	    - echo left >/dev/shm/left && mkdir /tmp/dir
	check2: { stage: c, script: *check }
	tidy:
	  stage: d
	  script:
	    - mkdir /tmp/d && echo x >/tmp/d/f && rm -r /tmp/d && echo tidy
	check3: { stage: e, script: *check }
	EOF
	for i in 1 2 3; do
		if [ $i = 3 ]; then rm -rf lo/.cidre/builds/* || return 1; fi &&
		(cd lo && cidre run --executor sandbox --color=never >../out 2>&1) &&
		cat out >>outs || { cat out; return 1; }
	done &&
	test "$(grep -c "^check[123] *| workspace ok$" outs)" = 9 &&
	test "$(grep -c "^check[123] *| modes 755 755 $" outs)" = 9 &&
	test "$(grep -c "^check[123] *| entries 0$" outs)" = 9 &&
	test "$(grep -c "^check[123] *| xattrs 0 0$" outs)" = 9 &&
	test "$(grep -c "^check[123] *| sysv 0$" outs)" = 9 &&
	test "$(grep -c "^check[123] *| mq none$" outs)" = 9 &&
	test "$(grep -c "^tidy *| tidy$" outs)" = 3
'

v2=
for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
	if [ "$(stat -f -c %T "$d" 2>/dev/null)" = cgroup2fs ] && [ -w "$d" ]; then
		v2=$d; break
	fi
done
if [ -n "$v2" ]; then
test_expect_success 'cgroup v2: jobs from the pool are born in their own cgroups (CLONE_INTO_CGROUP with the shared memory)' '
	parent="$v2/cidre-test-pool-$$" && mkdir "$parent" &&
	new_repo cg2 <<-\EOF &&
	a:
	  script:
	    - cat /proc/self/cgroup
	    - head -c 3000000 /dev/zero | tail -c 1 >/dev/null; echo big
	b:
	  script: [echo small]
	EOF
	for i in 1 2; do
		(cd cg2 && CIDRE_CGROUP="$parent" cidre run --executor sandbox --color=never \
			>../out 2>&1) || { cat out; rmdir "$parent" 2>/dev/null; return 1; }
		cat out >>outs
	done
	(cd cg2 && cidre pool stop >/dev/null)
	n=0; while ! rmdir "$parent" 2>/dev/null && [ $n -lt 50 ]; do
		sleep 0.1; n=$((n + 1)); done
	test "$(grep -c "^a *| 0::/$" outs)" = 2 &&
	test "$(grep -c "^a *| big$" outs)" = 2 &&
	test "$(grep -cE "^a +test +success +[0-9.]+s +[0-9.]+ [KM]B" outs)" = 2 &&
	! test -d "$parent"
'
fi

test_expect_success 'a run killed in the middle of a job: the job and what it started end, the pool stays' '
	new_repo k <<-\EOF &&
	long:
	  script:
	    - sleep 3017 & sleep 3018
	EOF
	(cd k && exec "$CIDRE_BIN" run --executor sandbox --color=never >/dev/null 2>&1) &
	runpid=$! &&
	n=0 && while ! pgrep -f "^sleep 3018" >/dev/null && [ $n -lt 100 ]; do
		sleep 0.1; n=$((n + 1)); done &&
	pgrep -f "^sleep 3017" &&
	pid=$(pool_pid k) && test -n "$pid" &&
	kill -9 $runpid && { wait $runpid; true; } &&
	n=0 && while pgrep -f "^sleep 301[78]" >/dev/null && [ $n -lt 50 ]; do
		sleep 0.1; n=$((n + 1)); done &&
	! pgrep -f "^sleep 301[78]" &&
	kill -0 $pid &&
	test "$(pool_pid k)" = "$pid"
'

test_expect_success 'cidre pool stop ends it: no process of it is left, and its files go' '
	pid=$(pool_pid d) && test -n "$pid" &&
	before=$(started) &&
	(cd d && cidre pool stop) >out &&
	expect_grep "^1 pool stopped$" out &&
	! kill -0 $pid 2>/dev/null &&
	! ps -eo args | grep -F "$SCRATCH/d/.cidre/builds" | grep -v grep &&
	(cd d && cidre pool ls) >out && test ! -s out &&
	(cd d && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^one +\| started$" out &&
	test $(started) = $((before + 1)) &&
	# what the stopped one left is swept when the next one starts
	test $(ls d/.cidre/pools | wc -l) = 3
'

test_expect_success 'an idle pool ends by itself after CIDRE_SANDBOX_POOL_IDLE seconds' '
	new_repo idle <<-\EOF &&
	one:
	  script: [echo hi]
	EOF
	(cd idle && CIDRE_SANDBOX_POOL_IDLE=1 cidre run --executor sandbox \
		--color=never >../out 2>&1) &&
	pid=$(pool_pid idle) && test -n "$pid" &&
	gone $pid
'

test_expect_success 'a pool whose workspaces directory is removed ends' '
	pid=$(pool_pid iso) && test -n "$pid" &&
	rm -rf iso/.cidre/builds &&
	gone $pid
'

test_expect_success 'without an idle time, in a CI job, or with a pools directory others may enter, the pool ends with the run' '
	new_repo p0 <<-\EOF &&
	one:
	  script: [echo hi]
	EOF
	(cd p0 && CIDRE_SANDBOX_POOL_IDLE=0 cidre run --executor sandbox \
		--color=never >../out 2>&1) &&
	expect_grep "^one +\| hi$" out &&
	test ! -e p0/.cidre/pools &&
	(cd p0 && env -u CIDRE_SANDBOX_POOL_IDLE CI=true "$CIDRE_BIN" run \
		--executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^one +\| hi$" out &&
	test ! -e p0/.cidre/pools &&
	(cd p0 && CIDRE_SANDBOX_POOL_IDLE=soon cidre run --executor sandbox \
		--color=never >../out 2>&1) &&
	expect_grep "CIDRE_SANDBOX_POOL_IDLE=soon is not a number of seconds" out &&
	test ! -e p0/.cidre/pools &&
	mkdir -m 755 p0/.cidre/pools &&
	before=$(started) &&
	(cd p0 && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^one +\| hi$" out &&
	test $(started) = $((before + 1)) &&
	test -z "$(ls p0/.cidre/pools)" &&
	! (cd p0 && cidre pool ls) 2>err &&
	expect_grep "not this user.s alone" err &&
	! ps -eo args | grep -F "$SCRATCH/p0/.cidre/builds" | grep -v grep
'

test_expect_success 'its socket is not in what a job sees' '
	new_repo s <<-EOF &&
	one:
	  script:
	    - ls $SCRATCH/s/.cidre 2>&1 || echo no state dir
	EOF
	(cd s && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^one +\| no state dir$" out &&
	ls s/.cidre/pools | grep -E "^[0-9a-f]{32}$" >sock &&
	test -S "s/.cidre/pools/$(cat sock)"
'

test_expect_success 'without a cgroup the jobs still come from the pool: its init signals, kills and reaps all of a job (SIGTERM, then SIGKILL)' '
	new_repo ncg <<-\EOF &&
	stages: [one, two]
	left:
	  stage: one
	  script:
	    - (sleep 3061 &); echo left
	slow:
	  stage: two
	  timeout: 2s
	  script:
	    - trap "echo got TERM; exit 3" TERM
	    - (sleep 3062; echo survived) &
	    - sleep 3063
	deaf:
	  stage: two
	  timeout: 1s
	  script:
	    - trap "" TERM
	    - sleep 3064
	EOF
	(cd ncg && CIDRE_CGROUP=none expect_exit 1 \
		cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^left +\| left$" out &&
	expect_grep "^slow +\| got TERM$" out &&
	expect_grep "execution took longer than 2s" out &&
	expect_grep "^slow +two +failed" out &&
	expect_grep "^deaf +two +failed" out &&
	! grep "| survived$" out &&
	! pgrep -f "^sleep 306[1234]$" &&
	(cd ncg && cidre pool ls) >ls &&
	awk "NR == 2 { exit !(\$4 == 3) }" ls
'

eval "$TEST_CLEANUP"
test_done
