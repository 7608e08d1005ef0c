#!/bin/sh
# Ctrl-C cancels running jobs' whole process trees and still summarises.
. "$(dirname "$0")/lib.sh"

test_expect_success 'SIGINT cancels the pipeline: exit 130, tree killed, summary' '
	new_repo c <<-\EOF &&
	stages: [build, test]
	long:
	  stage: build
	  script:
	    - (sleep 300; echo survived) &
	    - echo $! > "$CI_BUILDS_DIR/../bg.pid"
	    - echo started
	    - sleep 300
	later:
	  stage: test
	  script: echo later
	EOF
	(cd c && exec "$CIDRE_BIN" run --color=never >../out 2>&1) &
	pid=$!
	n=0
	while ! grep -q "| started" out 2>/dev/null; do
		n=$((n + 1))
		if [ $n -ge 600 ]; then kill $pid; break; fi
		sleep 0.05
	done
	kill -INT $pid
	wait $pid
	rc=$?
	test "$rc" = 130 &&
	expect_grep "^long +build +canceled" out &&
	expect_grep "^later +test +canceled" out &&
	! process_alive "$(cat c/.cidre/bg.pid)"
'

test_done
