#!/bin/sh
# when, allow_failure, retry, timeout: decided as GitLab does.
. "$(dirname "$0")/lib.sh"

test_expect_success 'on_failure and always run after a failure; on_success is skipped' '
	new_repo w <<-\EOF &&
	stages: [build, test, cleanup]
	broken:
	  stage: build
	  script: exit 1
	after-ok:
	  stage: test
	  script: echo should-not-run
	rescue:
	  stage: test
	  when: on_failure
	  script: echo rescue-ran
	tidy:
	  stage: cleanup
	  when: always
	  script: echo tidy-ran
	EOF
	(cd w && expect_exit 1 cidre run --color=never >../out 2>&1) &&
	expect_grep "^after-ok +test +skipped" out &&
	expect_grep "\| rescue-ran" out &&
	expect_grep "\| tidy-ran" out &&
	expect_no_grep "\| should-not-run" out
'

test_expect_success 'on_failure jobs are skipped when all went well' '
	new_repo ok <<-\EOF &&
	good:
	  stage: build
	  script: "true"
	rescue:
	  stage: test
	  when: on_failure
	  script: echo rescue-ran
	EOF
	(cd ok && cidre run --color=never >../out 2>&1) &&
	expect_grep "^rescue +test +skipped" out
'

test_expect_success 'allow_failure: true lets the pipeline pass with a warning' '
	new_repo af <<-\EOF &&
	flaky:
	  stage: build
	  script: exit 1
	  allow_failure: true
	next:
	  stage: test
	  script: echo next-ran
	EOF
	(cd af && cidre run --color=never >../out 2>&1) &&
	expect_grep "^flaky +build +failed \(allowed\)" out &&
	expect_grep "\| next-ran" out &&
	expect_grep "passed with warnings \(1 allowed failure\)" out
'

test_expect_success 'allow_failure: exit_codes allows only those codes' '
	new_repo ec <<-\EOF &&
	three:
	  script: exit 3
	  allow_failure:
	    exit_codes: [2, 3]
	four:
	  script: exit 4
	  allow_failure:
	    exit_codes: 3
	EOF
	(cd ec && expect_exit 1 cidre run --color=never >../out 2>&1) &&
	expect_grep "^three +test +failed \(allowed\)" out &&
	expect_grep "^four +test +failed +[0-9]" out
'

test_expect_success 'manual jobs wait unless asked for; --manual runs them' '
	new_repo m <<-\EOF &&
	build:
	  stage: build
	  script: echo built
	release:
	  stage: deploy
	  when: manual
	  script: echo released
	EOF
	(cd m && cidre run --color=never >../out 2>&1) &&
	expect_grep "^release +deploy +manual" out &&
	expect_no_grep "\| released" out &&
	(cd m && cidre run --color=never --manual release >../out 2>&1) &&
	expect_grep "\| released" out &&
	expect_grep "^release +deploy +success" out
'

test_expect_success 'a blocking manual job holds back later stages' '
	new_repo mb <<-\EOF &&
	stages: [build, gate, deploy]
	approve:
	  stage: gate
	  when: manual
	  allow_failure: false
	  script: echo approved
	ship:
	  stage: deploy
	  script: echo shipped
	EOF
	(cd mb && cidre run --color=never >../out 2>&1) &&
	expect_grep "^approve +gate +manual" out &&
	expect_grep "^ship +deploy +skipped" out &&
	expect_no_grep "\| shipped" out
'

test_expect_success 'when: delayed waits start_in before running' '
	new_repo d <<-\EOF &&
	later:
	  when: delayed
	  start_in: 1 second
	  script: echo delayed-ran
	EOF
	start=$(date +%s%N) &&
	(cd d && cidre run --color=never >../out 2>&1) &&
	end=$(date +%s%N) &&
	expect_grep "\| delayed-ran" out &&
	test $(( (end - start) / 1000000 )) -ge 1000
'

test_expect_success 'when: never is for rules; a rule with when: never removes the job' '
	new_repo n <<-\EOF &&
	gone:
	  rules:
	    - when: never
	  script: echo gone
	here:
	  script: echo here
	EOF
	(cd n && cidre run --list >../out 2>&1) &&
	expect_no_grep "^gone" out && expect_grep "^here" out &&
	printf "j:\n  when: never\n  script: echo x\n" >n/.gitlab-ci.yml &&
	(cd n && expect_exit 2 cidre run >../out 2>&1) &&
	expect_grep "^.gitlab-ci.yml:2:[0-9]+: error: .*never" out
'

test_expect_success 'retry re-runs a failing job up to max' '
	new_repo r <<-\EOF &&
	flaky:
	  retry: 2
	  script:
	    - n=$(cat "$CI_BUILDS_DIR/../count" 2>/dev/null || echo 0)
	    - echo $((n + 1)) > "$CI_BUILDS_DIR/../count"
	    - echo "attempt $((n + 1))"
	    - test $n -ge 2
	EOF
	(cd r && cidre run --color=never >../out 2>&1) &&
	expect_grep "\| attempt 3" out &&
	expect_grep "^flaky +test +success x3" out
'

test_expect_success 'retry:when limits which failures are retried' '
	new_repo rw <<-\EOF &&
	j:
	  retry:
	    max: 2
	    when: runner_system_failure
	  script: exit 1
	k:
	  retry:
	    max: 1
	    exit_codes: 7
	  script: exit 7
	EOF
	(cd rw && expect_exit 1 cidre run --color=never >../out 2>&1) &&
	expect_grep "^j +test +failed +[0-9]" out &&
	expect_grep "^k +test +failed x2" out
'

test_expect_success 'timeout kills the whole process tree' '
	new_repo t <<-\EOF &&
	slow:
	  timeout: 2s
	  script:
	    - (sleep 300; echo child-survived) &
	    - echo $! > "$CI_BUILDS_DIR/../child.pid"
	    - sleep 300
	EOF
	(cd t && expect_exit 1 cidre run --color=never >../out 2>&1) &&
	expect_grep "execution took longer than 2s" out &&
	expect_grep "^slow +test +failed" out &&
	! process_alive "$(cat t/.cidre/child.pid)"
'

test_expect_success 'after_script runs after a failure with CI_JOB_STATUS' '
	new_repo as <<-\EOF &&
	j:
	  script: exit 1
	  after_script:
	    - echo "status=$CI_JOB_STATUS"
	ok:
	  script: "true"
	  after_script: echo "status=$CI_JOB_STATUS"
	EOF
	(cd as && expect_exit 1 cidre run --color=never >../out 2>&1) &&
	expect_grep "^j +\| status=failed" out &&
	expect_grep "^ok +\| status=success" out
'

test_expect_success 'before_script and script share one shell; after_script does not' '
	new_repo sh <<-\EOF &&
	j:
	  before_script:
	    - export FROM_BEFORE=yes
	    - cd /tmp
	  script:
	    - echo "before=$FROM_BEFORE"
	  after_script:
	    - echo "after=${FROM_BEFORE:-unset} pwd=$(pwd)"
	EOF
	(cd sh && cidre run --color=never >../out 2>&1) &&
	expect_grep "\| before=yes" out &&
	expect_grep "\| after=unset pwd=.*/builds/j" out
'

test_done
