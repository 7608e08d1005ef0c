#!/bin/sh
# The README's main command (make demo): a server, the demo repository
# with the hook, a push, and the pipeline followed live to its end.
. "$(dirname "$0")/lib.sh"

test_expect_success 'the server demo pushes and runs the demo pipeline to success' '
	"$ROOT/scripts/demo-server.sh" "$(dirname "$CIDRE_BIN")" "$SCRATCH/demo" >out 2>&1 &&
	expect_grep "^cidre: pipeline 1 for main" out &&
	expect_grep "^== build \\(build\\), job 1" out &&
	expect_grep "^4 passed, 0 failed" out &&
	expect_grep "^Hello, staging!" out &&
	expect_grep "^== pipeline 1: success with warnings$" out &&
	expect_grep "^cidre: job 3 failed \\(allowed\\), exit code 3$" out &&
	expect_grep "^pipeline 1  demo  main  [0-9a-f]{8}  push  success with warnings  in " out &&
	expect_grep "style +test +failed \\(allowed\\)" out
'

test_expect_success 'the demo stops its server' '
	! pgrep -f "server --data data --listen 127.0.0.1:0" -a | grep -q "$SCRATCH" &&
	! test -e demo/data/server-url
'

test_done
