#!/bin/sh
# One hand-written pipeline using many GitLab keywords together, the way
# real .gitlab-ci.yml files mix them: cidre lint accepts it and cidre run
# --list plans it as GitLab would, for a branch, a tag and a merge request.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup: a pipeline with most keywords, and an included file' '
	mkdir -p ks/ci &&
	cat >ks/ci/rules.yml <<-\EOF &&
	.if-default: &if-default
	  if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
	.rules:main-or-mr:
	  rules:
	    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
	    - <<: *if-default
	.setup:
	  script:
	    - echo setup
	EOF
	cat >ks/ci/ks-extra.yml <<-\EOF &&
	extra:
	  stage: .post
	  script: echo extra
	EOF
	new_repo ks <<-\EOF
	---
	include:
	  - local: ci/rules.yml
	  - local: ci/${CI_PROJECT_NAME}-extra.yml
	stages: [build, test, deploy]
	variables:
	  PYTHON: 3.10
	  DEPLOY_ENV:
	    value: staging
	    description: "where to deploy"
	    options: [staging, production]
	  ASK_ME:
	    description: "set in the Run pipeline form"
	workflow:
	  name: "ks $CI_COMMIT_REF_NAME"
	  rules:
	    - if: $CI_COMMIT_TAG
	      variables: {DEPLOY_ENV: production}
	    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
	    - if: $CI_COMMIT_BRANCH
	default:
	  interruptible: true
	  retry:
	    max: 2
	    when: [runner_system_failure, stuck_or_timeout_failure]
	  before_script: [echo default-before]
	.tmpl: &tmpl
	  stage: build
	  tags: [linux]
	  cache:
	    key: {files: [ci/rules.yml], prefix: $CI_JOB_NAME}
	    paths: [.cache/]
	build:
	  stage: test
	  <<: *tmpl
	  parallel:
	    matrix:
	      - PY: [3.9, 3.10]
	  services: []
	  script:
	    - !reference [.setup, script]
	    - echo "build $PY"
	  artifacts:
	    paths: [dist/]
	    reports:
	      dotenv: build.env
	      junit: [report.xml]
	      coverage_report: {coverage_format: cobertura, path: cov.xml}
	    expire_in: 1 week
	lint:
	  extends: .rules:main-or-mr
	  stage: test
	  needs: []
	  inherit:
	    default: [retry]
	  script: echo lint
	  dependencies:
	unit:
	  stage: test
	  needs:
	    - job: build
	      parallel:
	        matrix:
	          - PY: "3.1"
	    - job: docs
	      optional: true
	  script: echo "unit python $PYTHON"
	  coverage: /TOTAL.*\s+(\d+%)$/
	docs:
	  stage: test
	  only: [tags]
	  script: echo docs
	deploy:
	  stage: deploy
	  rules:
	    - if: $CI_COMMIT_TAG
	      when: manual
	    - if: $CI_JOB_STAGE == "deploy" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
	      when: delayed
	      start_in: 10 minutes
	  environment:
	    name: $DEPLOY_ENV
	    url: https://$DEPLOY_ENV.example.com
	    deployment_tier: staging
	  resource_group: deploy
	  script: echo deploy
	  script: echo "deploy to $DEPLOY_ENV"
	release-notes:
	  stage: deploy
	  only:
	    - /^v\d+/@local/ks
	  except:
	    variables: [$SKIP_NOTES]
	  script: echo notes
	EOF
'

test_expect_success 'lint: valid, with a warning for the duplicate key' '
	(cd ks && cidre lint >../out 2>../err) &&
	expect_grep "^\.gitlab-ci\.yml: pipeline is valid \(6 jobs, 3 stages\)$" out &&
	expect_grep "^\.gitlab-ci\.yml:[0-9]+:3: warning: duplicate key \"script\"" err &&
	expect_grep "warning: include \"ci/\\$\{CI_PROJECT_NAME\}-extra\.yml\" not checked" err
'

test_expect_success 'plan of a push to main' '
	(cd ks && cidre run --list >../out 2>../err) &&
	expect_grep "^build: \[3\.9\] +build +on_success" out &&
	expect_grep "^build: \[3\.1\] +build +on_success" out &&
	expect_grep "^lint +test +on_success +no +\[\]$" out &&
	expect_grep "^unit +test +on_success +no +build: \[3\.1\]$" out &&
	expect_no_grep "^docs" out &&
	expect_grep "^deploy +deploy +delayed" out &&
	expect_no_grep "^release-notes" out &&
	expect_grep "^extra +\.post" out
'

test_expect_success 'plan of a tag' '
	(cd ks && git tag v1 && git checkout -q v1 && cidre run --list >../out 2>&1 &&
	 git checkout -q main) &&
	expect_grep "^docs +test" out &&
	expect_grep "^unit +test +on_success +no +build: \[3\.1\], docs$" out &&
	expect_grep "^deploy +deploy +manual +no" out &&
	expect_grep "^release-notes +deploy" out &&
	expect_no_grep "^lint" out
'

test_expect_success 'plan of a merge request from a branch' '
	(cd ks && git checkout -q -b topic &&
	 cidre run --list --source merge_request_event >../out 2>&1 &&
	 cidre run --list >../out.push 2>&1 && git checkout -q main) &&
	expect_grep "^lint +test" out &&
	expect_no_grep "^deploy" out &&
	expect_no_grep "^lint" out.push
'

test_expect_success 'the jobs get the variables GitLab gives them' '
	(cd ks && git checkout -q v1 &&
	 cidre run --color=never --manual deploy deploy unit >../out 2>&1 &&
	 git checkout -q main) &&
	expect_grep "^deploy +\| deploy to production$" out &&
	expect_grep "^unit +\| default-before$" out &&
	expect_grep "^unit +\| unit python 3\.1$" out
'

test_expect_success 'out-of-scope keywords are still refused by name' '
	new_repo oos <<-\EOF &&
	child:
	  trigger:
	    include: child.yml
	sign:
	  id_tokens:
	    TOKEN: {aud: https://example.com}
	  secrets:
	    DB: {vault: db/password@ops}
	  script: echo sign
	EOF
	(cd oos && expect_exit 2 cidre lint 2>../err) &&
	expect_grep "keyword \"trigger\" is not supported" err &&
	expect_grep "keyword \"id_tokens\" is not supported" err &&
	expect_grep "keyword \"secrets\" is not supported" err &&
	expect_no_grep "job \"child\" has no" err &&
	new_repo inputs <<-\EOF &&
	spec:
	  inputs:
	    stage: {default: test}
	---
	job:
	  stage: $[[ inputs.stage ]]
	  script: echo job
	EOF
	(cd inputs && cidre lint >../out 2>&1 && cidre run --list >../out 2>&1) &&
	expect_grep "^job +test " out
'

test_done
