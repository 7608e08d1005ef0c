#!/bin/sh
# Limits and accounting through the job's cgroup: a fork bomb stopped by
# cidre:pids, a memory hog OOM-killed at cidre:memory (and said so), CPU
# quota, the same for the shell executor; lint of the cidre: keys.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-sandbox.sh"
need_sandbox

test_expect_success 'lint accepts cidre: keys at the top and in jobs' '
	mkdir l && git -C l init -q && cat >l/.cidre.yml <<-\EOF &&
	cidre:
	  memory: 256M
	  pids: 100
	j:
	  cidre: {cpus: 0.5, network: false, memory: 1G, host_fallback: true}
	  script: [echo ok]
	EOF
	(cd l && cidre lint >../out 2>&1 && cidre run --color=never >../out 2>&1) &&
	expect_grep "^j +\| Limits: memory 1 GiB, pids 100, cpus 0.5$" out
'

test_expect_success 'lint reports unknown and bad cidre: keys with their position' '
	mkdir lb && git -C lb init -q && cat >lb/.cidre.yml <<-\EOF &&
	cidre:
	  memroy: 1G
	j:
	  cidre: {memory: lots, pids: 0, cpus: 9999, network: maybe}
	  script: [echo ok]
	EOF
	(cd lb && expect_exit 2 cidre lint >../out 2>&1) &&
	expect_grep ":2:3: error: unknown keyword \"memroy\" in cidre" out &&
	expect_grep ":4:19: error: job \"j\": \"cidre:memory\" must be a size" out &&
	expect_grep "\"cidre:pids\" must be between 1 and" out &&
	expect_grep "\"cidre:cpus\" must be a number of CPUs" out &&
	expect_grep "\"cidre:network\" must be a boolean" out
'

test_expect_success 'in a .gitlab-ci.yml a top-level cidre: is a job, as GitLab reads it' '
	new_repo gl <<-\EOF &&
	cidre:
	  script: [echo a job named cidre]
	EOF
	(cd gl && cidre run --color=never >../out 2>&1) &&
	expect_grep "^cidre +\| a job named cidre$" out
'

test_expect_success 'a fork bomb is stopped by the pids limit; the host stays usable' '
	bb_image img &&
	new_repo fb <<-EOF &&
	bomb:
	  image: $SCRATCH/img
	  cidre: {pids: 32}
	  timeout: 60s
	  script:
	    - sh bomb.sh || true
	    - echo survived
	EOF
	cat >fb/bomb.sh <<-\EOF &&
	b() { b | b & }
	b
	sleep 1
	EOF
	(cd fb && git add . && git commit -q -m bomb) &&
	(cd fb && cidre run --executor sandbox --color=never --json=../r.json >../out 2>&1) &&
	expect_grep "^bomb +\| survived$" out &&
	expect_grep "process(es)? could not be started: the job reached its limit of 32 processes" out &&
	sh -c "true" && ! pgrep -f bomb.sh
'

test_expect_success 'a memory hog is OOM-killed in its cgroup only, and the job says so' '
	new_repo mh <<-EOF &&
	hog:
	  image: $SCRATCH/img
	  cidre: {memory: 32M}
	  script:
	    - x=\$(head -c 200000000 /dev/zero | tr "\\\\0" a); echo \${#x}
	small:
	  image: $SCRATCH/img
	  cidre: {memory: 32M}
	  script:
	    - echo fine
	EOF
	(cd mh && expect_exit 1 cidre run --executor sandbox --color=never --json=../r.json >../out 2>&1) &&
	expect_grep "^hog +\| ERROR: out of memory: the kernel.s OOM killer ended [0-9]+ process(es)? of this job at its memory limit of 32 MiB" out &&
	expect_grep "^hog +\| ERROR: Job failed: out of memory \(exit code 137\)" out &&
	expect_grep "^small +\| fine$" out &&
	python3 - r.json <<-\PY
	import json, sys
	jobs = {j["name"]: j for j in json.load(open(sys.argv[1]))["jobs"]}
	assert jobs["hog"]["status"] == "failed", jobs["hog"]
	assert jobs["hog"]["failure_reason"] == "out_of_memory", jobs["hog"]
	assert jobs["hog"]["peak_memory"] <= 34 * 2**20, jobs["hog"]
	assert jobs["small"]["status"] == "success", jobs["small"]
	PY
'

test_expect_success 'the shell executor applies the same limits and accounting' '
	new_repo sh <<-\EOF &&
	hog:
	  cidre: {memory: 32M, pids: 64}
	  script:
	    - x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo ${#x}
	EOF
	(cd sh && expect_exit 1 cidre run --color=never --json=../r.json >../out 2>&1) &&
	expect_grep "^hog +\| Limits: memory 32 MiB, pids 64$" out &&
	expect_grep "^hog +\| ERROR: Job failed: out of memory" out &&
	expect_grep "\"failure_reason\": \"out_of_memory\"" r.json
'

test_expect_success 'cidre:cpus caps CPU time: a busy loop of 1 s gets about half at 0.5' '
	new_repo cpu <<-EOF &&
	busy:
	  image: $SCRATCH/img
	  cidre: {cpus: 0.5}
	  script:
	    - timeout 1 sh -c "while :; do :; done" || true
	EOF
	(cd cpu && cidre run --executor sandbox --color=never --json=../r.json >../out 2>&1) &&
	python3 - r.json <<-\PY
	import json, sys
	j = json.load(open(sys.argv[1]))["jobs"][0]
	assert j["accounting"] in ("cgroup1", "cgroup2"), j
	assert 0.2 <= j["cpu_seconds"] <= 0.75, j
	PY
'

test_expect_success 'a job with limits where no cgroup can be made fails before it starts, saying why and how to get one' '
	new_repo nocg <<-\EOF &&
	j:
	  cidre: {memory: 64M}
	  script: [echo ran]
	EOF
	for ex in shell sandbox; do
		(cd nocg && CIDRE_CGROUP=none expect_exit 1 \
			cidre run --executor $ex --color=never >../out 2>&1) &&
		expect_grep "^j +\| ERROR: cannot start the job: cannot apply the job.s limits: CIDRE_CGROUP=none: no cgroup to apply them in$" out &&
		! grep "| ran$" out || return 1
	done &&
	(cd nocg && CIDRE_CGROUP=$SCRATCH/no-such-cgroup expect_exit 1 \
		cidre run --color=never >../out 2>&1) &&
	expect_grep "cannot apply the job.s limits: no cgroup could be made for the job: run cidre in a cgroup delegated to you \(systemd-run --user --scope -p Delegate=yes" out
'

test_expect_success 'command-line defaults apply where the job sets none; bad ones are refused' '
	(cd cpu && expect_exit 2 cidre run --executor sandbox --memory 1K >../out 2>&1) &&
	expect_grep "memory wants a size" out &&
	(cd cpu && expect_exit 2 cidre run --pids 0 >../out 2>&1) &&
	(cd sh && cidre run --color=never --pids 50 --job hog -v X=1 >../out 2>&1; true) &&
	expect_grep "Limits: memory 32 MiB, pids 64$" out
'

test_done
