#!/bin/sh
# artifacts (globs, exclude, untracked, when), reports (junit, dotenv),
# coverage, caches between runs.
. "$(dirname "$0")/lib.sh"

test_expect_success 'artifacts: globs, directories, exclude' '
	new_repo a <<-\EOF &&
	stages: [build, test]
	make:
	  stage: build
	  script:
	    - mkdir -p dist/sub logs
	    - echo 1 > dist/app.bin && echo 2 > dist/sub/lib.so && echo 3 > dist/sub/debug.log
	    - echo 4 > logs/x.log && echo 5 > top.txt
	  artifacts:
	    paths: ["dist/", "**/*.log", "top.*"]
	    exclude: ["dist/**/*.log"]
	check:
	  stage: test
	  script:
	    - cat dist/app.bin dist/sub/lib.so logs/x.log top.txt
	    - test ! -e dist/sub/debug.log && echo excluded
	EOF
	(cd a && cidre run --color=never >../out 2>&1) &&
	expect_grep "^check +\| excluded" out &&
	expect_grep "^check +\| 4" out
'

test_expect_success 'artifacts:untracked takes files git does not know' '
	new_repo u <<-\EOF &&
	stages: [build, test]
	make:
	  stage: build
	  script: echo new > generated.txt
	  artifacts:
	    untracked: true
	check:
	  stage: test
	  script: cat generated.txt
	EOF
	(cd u && cidre run --color=never >../out 2>&1) &&
	expect_grep "^check +\| new" out
'

test_expect_success 'artifacts:when decides on failure' '
	new_repo w <<-\EOF &&
	on-fail:
	  script: echo x > f.txt && exit 1
	  artifacts:
	    when: on_failure
	    paths: [f.txt]
	default-when:
	  script: echo x > g.txt && exit 1
	  artifacts:
	    paths: [g.txt]
	EOF
	(cd w && expect_exit 1 cidre run >../out 2>&1) &&
	test -f w/.cidre/artifacts/on-fail/f.txt &&
	test ! -e w/.cidre/artifacts/default-when/g.txt
'

test_expect_success 'a JUnit report is counted in the summary and the JSON report' '
	new_repo j <<-\EOF &&
	tests:
	  script:
	    - printf "<testsuite><testcase name=\"a\"/><testcase name=\"b\"><failure message=\"no\"/></testcase><testcase name=\"c\"><skipped/></testcase></testsuite>" > junit.xml
	  artifacts:
	    when: always
	    reports:
	      junit: junit.xml
	EOF
	(cd j && cidre run --color=never --json=../r.json >../out 2>&1) &&
	expect_grep "^tests +test +success .*1 passed, 1 failed, 1 skipped" out &&
	python3 -c "
import json; r = json.load(open(\"r.json\"))
t = r[\"jobs\"][0][\"tests\"]
assert (t[\"total\"], t[\"passed\"], t[\"failed\"], t[\"skipped\"]) == (3, 1, 1, 1), t
"
'

test_expect_success 'dotenv reports pass variables to later jobs' '
	new_repo de <<-\EOF &&
	stages: [build, deploy]
	version:
	  stage: build
	  script: echo "VERSION=1.2.3" > build.env
	  artifacts:
	    reports:
	      dotenv: build.env
	use:
	  stage: deploy
	  script: echo "version=$VERSION"
	EOF
	(cd de && cidre run --color=never >../out 2>&1) &&
	expect_grep "^use +\| version=1.2.3" out
'

test_expect_success 'coverage is read from the log' '
	new_repo cov <<-\EOF &&
	c:
	  script: echo "TOTAL lines 87.5%"
	  coverage: /TOTAL.*\s(\d+\.\d+)%/
	EOF
	(cd cov && cidre run --color=never >../out 2>&1) &&
	expect_grep "coverage 87.50%" out
'

test_expect_success 'a cache persists between runs; policy pull does not save' '
	new_repo ca <<-\EOF &&
	fill:
	  cache:
	    key: deps-$CI_COMMIT_REF_SLUG
	    paths: [vendor/]
	  script:
	    - test -f vendor/dep && echo "cache hit" || echo "cache miss"
	    - mkdir -p vendor && echo v > vendor/dep
	readonly:
	  cache:
	    key: ro
	    paths: [ro/]
	    policy: pull
	  script:
	    - test -f ro/x && echo "ro hit" || echo "ro miss"
	    - mkdir -p ro && touch ro/x
	EOF
	(cd ca && cidre run --color=never >../out1 2>&1 && cidre run --color=never >../out2 2>&1) &&
	expect_grep "\| cache miss" out1 &&
	expect_grep "\| cache hit" out2 &&
	expect_grep "\| ro miss" out2
'

test_expect_success 'cache:key:files changes the key when the file changes' '
	new_repo kf <<-\EOF &&
	j:
	  cache:
	    key:
	      files: [lock.txt]
	    paths: [c/]
	  script:
	    - test -f c/x && echo hit || echo miss
	    - mkdir -p c && touch c/x
	EOF
	(cd kf && echo 1 >lock.txt && git add . && git commit -qm lock &&
	 cidre run --color=never >../o1 2>&1 && cidre run --color=never >../o2 2>&1 &&
	 echo 2 >lock.txt && cidre run --color=never >../o3 2>&1) &&
	expect_grep "\| miss" o1 && expect_grep "\| hit" o2 && expect_grep "\| miss" o3
'

test_expect_success 'artifact paths escaping the workspace are refused' '
	new_repo esc <<-\EOF &&
	j:
	  script: "true"
	  artifacts:
	    paths: ["../../../etc/passwd", "/etc/hostname"]
	EOF
	(cd esc && cidre run --color=never >../out 2>&1) &&
	test ! -e esc/.cidre/artifacts/j/etc
'

test_done
