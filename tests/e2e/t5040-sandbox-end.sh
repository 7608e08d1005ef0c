#!/bin/sh
# The end of a sandboxed job: it is finished only once every process of
# it is dead (its cgroup is the proof, with or without a process group
# to search), whatever is left of its namespaces is not waited for, and
# nothing of how we watch the sandbox (bwrap's info pipe) reaches it.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-sandbox.sh"
need_sandbox

# A job whose leftovers would write into the workspace 2 s after it
# ended if they were still alive: one ignores SIGTERM, one left the
# process group.
late_repo() {
	new_repo "$1" <<-EOF
	j:
	  image: $SCRATCH/img
	  script:
	    - (trap "" TERM; sleep 2; echo late >late-a.txt) >/dev/null 2>&1 &
	    - setsid sh -c "sleep 2; echo late >late-b.txt" >/dev/null 2>&1 &
	    - echo started
	EOF
}

test_expect_success 'what a sandboxed job leaves running is dead when cidre run returns' '
	bb_image img &&
	late_repo a &&
	(cd a && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^j +\| started$" out &&
	expect_grep "^j +test +success" out &&
	sleep 3 &&
	test -z "$(find a/.cidre -name "late-*.txt")"
'

test_expect_success 'the same without any cgroup (the sandbox'"'"'s pid namespace ends with it)' '
	late_repo b &&
	(cd b && CIDRE_CGROUP=none cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^j +\| started$" out &&
	expect_grep "^j +test +success" out &&
	sleep 3 &&
	test -z "$(find b/.cidre -name "late-*.txt")"
'

test_expect_success 'a sandboxed job has only stdin, stdout and stderr open' '
	new_repo f <<-EOF &&
	j:
	  image: $SCRATCH/img
	  script:
	    - for n in 0 1 2 3 4 5 6 7 8 9 10 11 12; do ! [ -e /proc/\$\$/fd/\$n ] || printf "%s " \$n; done; echo
	EOF
	(cd f && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^j +\| 0 1 2 $" out
'

test_expect_success 'exit codes and output come through, job after job' '
	new_repo e <<-EOF &&
	stages: [one, two]
	a:
	  stage: one
	  image: $SCRATCH/img
	  script: [echo from-a, "sleep 0.2 &"]
	b:
	  stage: two
	  image: $SCRATCH/img
	  script: [echo from-b, "exit 3"]
	EOF
	(cd e && ! cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^a +\| from-a$" out &&
	expect_grep "^b +\| from-b$" out &&
	expect_grep "^a +one +success" out &&
	expect_grep "^b +two +failed" out
'

test_done
