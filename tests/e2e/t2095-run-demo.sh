#!/bin/sh
# make demo-run: examples/demo with cidre run — three stages, a failure
# that is allowed, artifacts between jobs, a JUnit report.
. "$(dirname "$0")/lib.sh"

test_expect_success 'the demo pipeline passes with one allowed failure' '
	cp -R "$ROOT/examples/demo" demo &&
	(cd demo && git init -q && git add . && git commit -q -m demo) &&
	(cd demo && cidre run --color=never --json=../r.json >../out 2>&1) &&
	expect_grep "^build +build +success" out &&
	expect_grep "^unit-tests +test +success .*4 passed, 0 failed" out &&
	expect_grep "^style +test +failed \(allowed\)" out &&
	expect_grep "^deploy-staging +\| Hello, staging!" out &&
	expect_grep "passed with warnings \(1 allowed failure\)" out &&
	test -x demo/.cidre/artifacts/deploy-staging/public/greet &&
	python3 -c "
import json; r = json.load(open(\"r.json\"))
d = [j for j in r[\"jobs\"] if j[\"name\"] == \"deploy-staging\"][0]
assert d[\"environment\"][\"name\"] == \"staging\", d
"
'

test_expect_success 'cidre lint accepts the demo and the project pipeline' '
	(cd demo && cidre lint) &&
	cidre lint --file "$ROOT/.cidre.yml" -C "$ROOT"
'

test_done
