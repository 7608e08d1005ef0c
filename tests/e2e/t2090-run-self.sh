#!/bin/sh
# cidre's own .cidre.yml builds and tests cidre with `cidre run`.
. "$(dirname "$0")/lib.sh"

if [ -n "${CIDRE_NESTED:-}" ]; then
	skip_all "inside cidre's own pipeline"
fi

test_expect_success 'the project pipeline passes on a copy of the source tree' '
	mkdir self && (cd "$ROOT" && git ls-files -z | xargs -0 cp --parents -t "$SCRATCH/self") &&
	(cd self && git init -q && git add . && git commit -q -m self) &&
	# one unit test and one e2e script, compiled without optimizing:
	# the pipeline as it is, at a fraction of its CPU; not the make of
	# this run (make test-asan passes BUILD, CFLAGS and LDFLAGS down)
	(cd self && unset MAKEFLAGS MFLAGS MAKELEVEL BUILD CFLAGS LDFLAGS &&
	 cidre run --color=never -v CFLAGS="-O0 -g" \
		-v UNIT_TESTS=tests/unit/t-load.c -v E2E_TESTS=tests/e2e/t2000-run-basic.sh >../out 2>&1) &&
	expect_grep "^unit +\| build/tests/unit/t-load \.+ ok" out &&
	! grep -q "t-strbuf \.* ok" out &&
	expect_grep "^unit +\| Files=1, " out &&
	expect_grep "^build +build +success" out &&
	expect_grep "^unit +test +success" out &&
	expect_grep "^e2e +test +success" out &&
	expect_grep "^pipeline-lint +test +success" out &&
	expect_grep "pipeline #1 passed" out
'

test_done
