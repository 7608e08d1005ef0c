#!/bin/sh
# Each job's supervisor plans its own job alone (plan_ctx.one_job): what
# the job runs with must be exactly what the whole pipeline's plan gave
# it. Variables from the trigger, globals, rules:variables, the dotenv
# report of a need, parallel:matrix instances, environment names; a
# retried job; a job of a pipeline whose file changed in a later commit.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

cat >v1.yml <<'YML'
variables:
  GLOBAL: "g-$WHO"
stages: [build, test]
build:
  stage: build
  script:
    - echo "BUILT=built-by-$CI_JOB_NAME" >build.env
  artifacts:
    reports:
      dotenv: build.env
use:
  stage: test
  needs: [build]
  variables:
    MINE: "m-$GLOBAL"
  rules:
    - if: '$WHO == "alice"'
      variables:
        RULED: "r-$MINE"
    - when: on_success
  script:
    - echo "use v1 $GLOBAL $MINE ${RULED:-none} $BUILT $CI_JOB_NAME $CI_JOB_STAGE"
par:
  stage: test
  parallel:
    matrix:
      - OS: [linux, bsd]
        ARCH: [amd64]
  script:
    - echo "par $OS-$ARCH $CI_JOB_NAME"
split:
  stage: test
  parallel: 3
  script:
    - echo "split $CI_NODE_INDEX/$CI_NODE_TOTAL"
only-bob:
  stage: test
  rules:
    - if: '$WHO == "bob"'
      variables:
        GLOBAL: "bob-only"
  script:
    - echo "only-bob $GLOBAL"
review:
  stage: test
  environment:
    name: review/$WHO
    url: https://$WHO.example.invalid
  script:
    - echo "env $CI_ENVIRONMENT_NAME $CI_ENVIRONMENT_URL $CI_ENVIRONMENT_SLUG"
flaky:
  stage: test
  variables:
    WHO: "job-level"   # the trigger's variables win over a job's
  script:
    - echo "flaky $WHO $GLOBAL"
    - test -f "$MARK"
YML

commit() {
	cp "$1" app/.gitlab-ci.yml && (cd app && git add . && git commit -qm "$1" &&
	git push -q origin HEAD:main && git rev-parse HEAD)
}

# job_log PIPELINE.json NAME: the log of the job called NAME
job_log() {
	api GET "/api/v1/jobs/$(jq -r ".jobs[] | select(.name == \"$2\") | .id" "$1")/log"
}

test_expect_success 'a server with two runner slots and a project' '
	mkdir -p data && printf "runner:\n  slots: 2\n" >data/config.yml &&
	start_server data &&
	bare_repo app <v1.yml &&
	add_project app "$SCRATCH/app.git"
'

test_expect_success 'variables from the trigger, globals, rules and a need'"'"'s dotenv' '
	api POST /api/v1/projects/app/pipelines \
		"{\"variables\":{\"WHO\":\"alice\",\"MARK\":\"$SCRATCH/mark\"}}" >a.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id a.json)" 60 >a-done.json &&
	jq -e ".status == \"failed\"" a-done.json &&
	jq -e "[.jobs[] | select(.status == \"failed\") | .name] == [\"flaky\"]" a-done.json &&
	jq -e "[.jobs[] | .name] | index(\"only-bob\") == null" a-done.json &&
	job_log a.json use >use.log &&
	expect_grep "^use v1 g-alice m-g-alice r-m-g-alice built-by-build use test" use.log &&
	job_log a.json "par: [linux, amd64]" >p1.log &&
	expect_grep "^par linux-amd64 par: \[linux, amd64\]" p1.log &&
	job_log a.json "par: [bsd, amd64]" >p2.log &&
	expect_grep "^par bsd-amd64 par: \[bsd, amd64\]" p2.log &&
	job_log a.json "split 2/3" >s2.log &&
	expect_grep "^split 2/3" s2.log &&
	job_log a.json review >r.log &&
	expect_grep "^env review/alice https://alice.example.invalid review-alice-vif5bz$" r.log &&
	job_log a.json flaky >f.log &&
	expect_grep "^flaky alice g-alice" f.log
'

test_expect_success 'another trigger'"'"'s variables select other rules' '
	api POST /api/v1/projects/app/pipelines \
		"{\"variables\":{\"WHO\":\"bob\",\"MARK\":\"$SCRATCH/mark\"}}" >b.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id b.json)" 60 >b-done.json &&
	job_log b.json use >use-b.log &&
	expect_grep "^use v1 g-bob m-g-bob none built-by-build use test" use-b.log &&
	job_log b.json only-bob >ob.log &&
	expect_grep "^only-bob bob-only" ob.log
'

test_expect_success 'a pipeline whose file changed later still runs its own commit'"'"'s jobs' '
	sed "s/use v1/use v2/" v1.yml >v2.yml &&
	commit v2.yml >/dev/null &&
	api POST /api/v1/projects/app/pipelines \
		"{\"variables\":{\"WHO\":\"carol\",\"MARK\":\"$SCRATCH/mark\"}}" >c.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id c.json)" 60 >/dev/null &&
	job_log c.json use >use-c.log &&
	expect_grep "^use v2 g-carol m-g-carol none built-by-build" use-c.log &&
	use=$(jq -r ".jobs[] | select(.name == \"use\") | .id" a.json) &&
	api POST "/api/v1/jobs/$use/retry" >ru.json && expect_status 201 &&
	wait_for 30 job_status_is "$(jq -r .id ru.json)" success &&
	api GET "/api/v1/jobs/$(jq -r .id ru.json)/log" >use-retry.log &&
	expect_grep "^use v1 g-alice m-g-alice r-m-g-alice built-by-build use test" use-retry.log
'

test_expect_success 'a retried job runs with its first attempt'"'"'s plan' '
	touch mark &&
	flaky=$(jq -r ".jobs[] | select(.name == \"flaky\") | .id" a.json) &&
	api POST "/api/v1/jobs/$flaky/retry" >rf.json && expect_status 201 &&
	jq -e ".attempt == 2" rf.json &&
	wait_for 30 job_status_is "$(jq -r .id rf.json)" success &&
	api GET "/api/v1/jobs/$(jq -r .id rf.json)/log" >f2.log &&
	expect_grep "^flaky alice g-alice" f2.log &&
	wait_pipeline "$(jq -r .id a.json)" 30 | jq -e ".status == \"success\""
'

test_expect_success 'each job is planned again from its resolved definition, not the file' '
	pa=$(jq -r .id a.json) &&
	test "$(sqlite3 data/cidre.db "SELECT count(*) FROM job_defs WHERE pipeline_id = $pa")" = \
		"$(( $(sqlite3 data/cidre.db "SELECT count(DISTINCT plan_idx) FROM jobs WHERE pipeline_id = $pa") + 1 ))" &&
	use=$(jq -r ".jobs[] | select(.name == \"use\") | .id" a.json) &&
	idx=$(sqlite3 data/cidre.db "SELECT plan_idx FROM jobs WHERE id = $use") &&
	sqlite3 data/cidre.db "UPDATE job_defs SET def = '"'"'M1:3:useM2:5:stageP4:test6:scriptS1:Q15:echo from-a-cut'"'"' WHERE pipeline_id = $pa AND plan_idx = $idx" &&
	api POST "/api/v1/jobs/$(jq -r .id ru.json)/retry" >rc.json && expect_status 201 &&
	wait_for 30 job_status_is "$(jq -r .id rc.json)" success &&
	api GET "/api/v1/jobs/$(jq -r .id rc.json)/log" >use-cut.log &&
	expect_grep "^from-a-cut" use-cut.log &&
	sqlite3 data/cidre.db "UPDATE job_defs SET def = '"'"'M1:3:use'"'"' WHERE pipeline_id = $pa AND plan_idx = $idx" &&
	api POST "/api/v1/jobs/$(jq -r .id rc.json)/retry" >rd.json && expect_status 201 &&
	wait_for 30 job_status_is "$(jq -r .id rd.json)" failed &&
	api GET "/api/v1/jobs/$(jq -r .id rd.json)/log" >use-damaged.log &&
	expect_grep "cannot be planned again: .*resolved pipeline text: truncated" use-damaged.log
'

test_expect_success 'a pipeline planned by an older server: its jobs are planned from the file' '
	sqlite3 data/cidre.db "DELETE FROM job_defs WHERE pipeline_id = $(jq -r .id a.json)" &&
	api POST "/api/v1/jobs/$(jq -r .id rd.json)/retry" >re.json && expect_status 201 &&
	wait_for 30 job_status_is "$(jq -r .id re.json)" success &&
	api GET "/api/v1/jobs/$(jq -r .id re.json)/log" >use-file.log &&
	expect_grep "^use v1 g-alice m-g-alice r-m-g-alice built-by-build use test" use-file.log
'

test_expect_success 'a dotenv report is kept in the store; no result file stays' '
	build=$(jq -r ".jobs[] | select(.name == \"build\") | .id" a.json) &&
	test "$(sqlite3 data/cidre.db "SELECT dotenv FROM jobs WHERE id = $build")" = \
		"{\"BUILT\":\"built-by-build\"}" &&
	ls data/results >left &&
	test ! -s left
'

test_expect_success 'a result file of an older server: its dotenv moves to the store at start' '
	stop_server &&
	build=$(jq -r ".jobs[] | select(.name == \"build\") | .id" a.json) &&
	sqlite3 data/cidre.db "UPDATE jobs SET dotenv = NULL WHERE id = $build" &&
	echo "{\"status\":\"success\",\"dotenv\":{\"BUILT\":\"from-an-old-file\"}}" \
		>"data/results/$build.json" &&
	echo "{\"status\":\"succ" >"data/results/$build.json.tmp" &&
	echo "{}" >data/results/999999.json &&
	start_server data &&
	# the runner moves them in its recovery, after the server listens
	wait_for 10 grep -q "recovery: 3 result files of recorded jobs removed" data.log &&
	test ! -e "data/results/$build.json" &&
	test ! -e "data/results/$build.json.tmp" && test ! -e data/results/999999.json &&
	test "$(sqlite3 data/cidre.db "SELECT dotenv FROM jobs WHERE id = $build")" = \
		"{\"BUILT\":\"from-an-old-file\"}" &&
	api POST "/api/v1/jobs/$(jq -r .id re.json)/retry" >ru2.json && expect_status 201 &&
	wait_for 30 job_status_is "$(jq -r .id ru2.json)" success &&
	api GET "/api/v1/jobs/$(jq -r .id ru2.json)/log" >use-retry2.log &&
	expect_grep "^use v1 g-alice m-g-alice r-m-g-alice from-an-old-file use test" use-retry2.log
'

test_expect_success 'include:rules:changes on the server: the files of the push decide' '
	printf "include:\n  - local: ci/docs.yml\n    rules:\n      - changes: [\"docs/**/*\"]\n  - local: ci/app.yml\n    rules:\n      - changes: [\"src/*\"]\nbase:\n  script: [echo base]\n" |
		bare_repo inc &&
	(cd inc && mkdir -p ci docs src &&
	 printf "docs-job:\n  script: [echo docs]\n" >ci/docs.yml &&
	 printf "app-job:\n  script: [echo app]\n" >ci/app.yml &&
	 echo x >docs/a.md && echo x >src/a.c && git add . && git commit -qm files &&
	 git push -q origin HEAD:main) &&
	add_project inc "$SCRATCH/inc.git" &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre hook install inc.git >/dev/null &&
	(cd inc && echo y >>docs/a.md && git commit -qam docs && git push -q origin HEAD:main) &&
	api GET "/api/v1/projects/inc/pipelines?per_page=1" >ip.json &&
	jq -e ".[0].source == \"push\"" ip.json &&
	wait_pipeline "$(jq -r ".[0].id" ip.json)" >ipd.json &&
	jq -e "[.jobs[].name] | sort == [\"base\", \"docs-job\"]" ipd.json
'

test_expect_success 'rules:changes:compare_to on the server: planned and run alike' '
	printf "docs-since-base:\n  rules:\n    - changes:\n        paths: [\"docs/*\"]\n        compare_to: refs/heads/base\n  script: [echo docs]\nsrc-since-base:\n  rules:\n    - changes:\n        paths: [\"src/*\"]\n        compare_to: base\n  script: [echo src]\n" |
		bare_repo ct &&
	(cd ct && git push -q origin HEAD:base && mkdir -p src && echo x >src/a.c &&
	 git add . && git commit -qm src && git push -q origin HEAD:main) &&
	add_project ct "$SCRATCH/ct.git" &&
	api POST /api/v1/projects/ct/pipelines "{}" >ct.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id ct.json)" >ctd.json &&
	jq -e ".status == \"success\" and ([.jobs[].name] == [\"src-since-base\"])" ctd.json &&
	printf "bad:\n  rules:\n    - changes:\n        paths: [x]\n        compare_to: nowhere\n  script: [x]\n" >ct/.gitlab-ci.yml &&
	(cd ct && git commit -qam bad && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/ct/pipelines "{}" >ctb.json && expect_status 201 &&
	jq -e ".status == \"failed\" and (.error | test(\"compare_to is not a valid ref: nowhere\"))" ctb.json
'

test_expect_success 'the server stops cleanly' '
	stop_server
'

test_done
