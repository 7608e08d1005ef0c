#!/bin/sh
# needs (DAG), dependencies and artifacts passed between jobs.
. "$(dirname "$0")/lib.sh"

test_expect_success 'a job with needs: [] starts without waiting for earlier stages' '
	new_repo dag <<-\EOF &&
	stages: [build, test]
	slow-build:
	  stage: build
	  script:
	    - while [ ! -e "$CI_BUILDS_DIR/../early.done" ]; do sleep 0.05; done
	    - echo build-finished
	early:
	  stage: test
	  needs: []
	  script:
	    - touch "$CI_BUILDS_DIR/../early.done"
	    - echo early-ran
	EOF
	(cd dag && timeout 60 "$CIDRE_BIN" run -j 2 --color=never >../out 2>&1) &&
	expect_grep "\| early-ran" out && expect_grep "\| build-finished" out
'

test_expect_success 'needs pass artifacts; a job without needs gets all earlier stages' '
	new_repo art <<-\EOF &&
	stages: [build, test, deploy]
	make-a:
	  stage: build
	  script: mkdir -p out && echo A > out/a.txt
	  artifacts:
	    paths: [out/a.txt]
	make-b:
	  stage: build
	  script: mkdir -p out && echo B > out/b.txt
	  artifacts:
	    paths: [out/]
	use-a:
	  stage: test
	  needs: [make-a]
	  script:
	    - cat out/a.txt
	    - test ! -e out/b.txt && echo "no b"
	use-all:
	  stage: deploy
	  script: cat out/a.txt out/b.txt
	no-artifacts:
	  stage: test
	  needs:
	    - job: make-a
	      artifacts: false
	  script: test ! -e out/a.txt && echo "nothing downloaded"
	EOF
	(cd art && cidre run --color=never >../out 2>&1) &&
	expect_grep "^use-a +\| A" out &&
	expect_grep "^use-a +\| no b" out &&
	expect_grep "^use-all +\| B" out &&
	expect_grep "^no-artifacts +\| nothing downloaded" out &&
	test -f art/.cidre/artifacts/make-a/out/a.txt
'

test_expect_success 'a job starts only after its needs have uploaded their artifacts' '
	new_repo slow <<-\EOF &&
	t:
	  stage: build
	  parallel:
	    matrix:
	      - V: [a, b, c, d]
	  script: head -c 20000000 /dev/zero > $V.bin
	  artifacts: {paths: ["*.bin"]}
	all:
	  stage: test
	  needs: [t]
	  script:
	    - for v in a b c d; do test "$(stat -c %s $v.bin)" = 20000000; done
	EOF
	(cd slow && cidre run -q >../out 2>&1 && cidre run -q >../out 2>&1 &&
	 cidre run -q >../out 2>&1)
'

test_expect_success 'dependencies: [] downloads nothing; a list picks jobs' '
	new_repo deps <<-\EOF &&
	stages: [build, test]
	one:
	  stage: build
	  script: echo 1 > one.txt
	  artifacts: {paths: [one.txt]}
	two:
	  stage: build
	  script: echo 2 > two.txt
	  artifacts: {paths: [two.txt]}
	none:
	  stage: test
	  dependencies: []
	  script: test ! -e one.txt && test ! -e two.txt && echo got-none
	only-two:
	  stage: test
	  dependencies: [two]
	  script: test ! -e one.txt && cat two.txt
	EOF
	(cd deps && cidre run --color=never >../out 2>&1) &&
	expect_grep "\| got-none" out &&
	expect_grep "^only-two +\| 2" out
'

test_expect_success 'a DAG job is skipped when its need fails, others go on' '
	new_repo df <<-\EOF &&
	stages: [build, test]
	bad:
	  stage: build
	  script: exit 1
	good:
	  stage: build
	  script: "true"
	after-bad:
	  stage: test
	  needs: [bad]
	  script: echo nope
	after-good:
	  stage: test
	  needs: [good]
	  script: echo after-good-ran
	EOF
	(cd df && expect_exit 1 cidre run --color=never >../out 2>&1) &&
	expect_grep "^after-bad +test +skipped" out &&
	expect_grep "\| after-good-ran" out
'

test_expect_success 'needs on a job that does not exist is a configuration error' '
	new_repo nm <<-\EOF &&
	a:
	  needs: [ghost]
	  script: "true"
	EOF
	(cd nm && expect_exit 2 cidre run >../out 2>&1) &&
	expect_grep "^.gitlab-ci.yml:2:[0-9]+: error: .*ghost" out
'

test_expect_success 'optional needs on a missing job are dropped' '
	new_repo opt <<-\EOF &&
	maybe:
	  stage: build
	  rules:
	    - if: $NEVER_SET
	  script: "true"
	a:
	  needs:
	    - job: maybe
	      optional: true
	  script: echo a-ran
	EOF
	(cd opt && cidre run --color=never >../out 2>&1) &&
	expect_grep "\| a-ran" out
'

test_expect_success 'needs cycles are reported' '
	new_repo cyc <<-\EOF &&
	a:
	  needs: [b]
	  script: "true"
	b:
	  needs: [a]
	  script: "true"
	EOF
	(cd cyc && expect_exit 2 cidre run >../out 2>&1) &&
	expect_grep "error: .*cycle" out
'

test_expect_success '--needs adds what the selected job needs' '
	(cd art && cidre run --color=never --needs use-a >../out 2>&1) &&
	expect_grep "^make-a +build +success" out &&
	expect_grep "^use-a +\| A" out &&
	expect_no_grep "^make-b" out
'

test_expect_success 'resource_group runs one job of the group at a time' '
	new_repo rg <<-\EOF &&
	d1:
	  resource_group: prod
	  script:
	    - mkdir "$CI_BUILDS_DIR/../lock"
	    - sleep 0.3
	    - rmdir "$CI_BUILDS_DIR/../lock"
	d2:
	  resource_group: prod
	  script:
	    - mkdir "$CI_BUILDS_DIR/../lock"
	    - sleep 0.3
	    - rmdir "$CI_BUILDS_DIR/../lock"
	EOF
	(cd rg && cidre run -j 2 --color=never >../out 2>&1)
'

test_expect_success 'jobs run in parallel up to -j' '
	new_repo par <<-\EOF &&
	p1:
	  script:
	    - touch "$CI_BUILDS_DIR/../p1"
	    - while [ ! -e "$CI_BUILDS_DIR/../p2" ]; do sleep 0.05; done
	p2:
	  script:
	    - touch "$CI_BUILDS_DIR/../p2"
	    - while [ ! -e "$CI_BUILDS_DIR/../p1" ]; do sleep 0.05; done
	EOF
	(cd par && timeout 60 "$CIDRE_BIN" run -j 2 >../out 2>&1)
'

test_done
