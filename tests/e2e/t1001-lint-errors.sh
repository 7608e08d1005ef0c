#!/bin/sh
# cidre lint: every error reported, sorted, as file:line:col, exit 2.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup a pipeline with many mistakes' '
	new_repo repo <<-\EOT
	stages: [build, test]
	build:
	  stage: build
	  scirpt: make
	test:
	  stage: tset
	  script: make check
	  needs: [biuld]
	deploy:
	  script: x
	  retry: 7
	  hooks: {pre_get_sources_script: x}
	EOT
'

test_expect_failure_code 2 'lint exits 2' '
	cidre lint -C repo
'

test_expect_success 'every error is printed with its position, in order' '
	expect_exit 2 cidre lint -C repo >out 2>err &&
	test ! -s out &&
	cat >expect <<-\EOT &&
	.gitlab-ci.yml:2:1: error: job "build" has no "script"
	.gitlab-ci.yml:4:3: error: unknown keyword "scirpt" in job "build"; did you mean "script"?
	.gitlab-ci.yml:6:10: error: job "test": stage "tset" is not defined in stages; did you mean "test"?
	.gitlab-ci.yml:8:11: error: job "test" needs job "biuld", which does not exist; did you mean "build"?
	.gitlab-ci.yml:11:10: error: job "deploy": "retry" must be between 0 and 2
	.gitlab-ci.yml:12:3: error: keyword "hooks" is not supported by cidre (runner hooks)
	EOT
	diff -u expect err
'

test_expect_success '--json lists the errors' '
	expect_exit 2 cidre lint -C repo --json >out.json &&
	expect_grep "\"valid\": false" out.json &&
	expect_grep "\"line\": 4" out.json &&
	expect_grep "\"column\": 3" out.json &&
	expect_grep "unknown keyword \\\\\"scirpt\\\\\"" out.json
'

test_expect_success 'a YAML syntax error has a position' '
	mkdir bad && printf "job:\n  script: [a, b\n  x: y\n" >bad/.gitlab-ci.yml &&
	expect_exit 2 cidre lint -C bad 2>err &&
	expect_grep "^\.gitlab-ci\.yml:[0-9]+:[0-9]+: error: YAML syntax error" err
'

test_expect_success 'a missing pipeline file is an error' '
	mkdir empty &&
	expect_exit 2 cidre lint -C empty 2>err &&
	expect_grep "no pipeline file" err
'

test_expect_success 'needs cycles and extends loops are reported' '
	mkdir loops && cat >loops/.gitlab-ci.yml <<-\EOT &&
	a: {script: x, needs: [b]}
	b: {script: x, needs: [a]}
	c: {script: x, extends: d}
	d: {script: x, extends: c}
	EOT
	expect_exit 2 cidre lint -C loops 2>err &&
	expect_grep "needs cycle: a -> b -> a" err &&
	expect_grep "circular dependency in extends \(c -> d -> c\)" err
'

test_done
