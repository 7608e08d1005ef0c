#!/bin/sh
# cidre lint: valid pipelines, file discovery, -C, --file and --json.
. "$(dirname "$0")/lib.sh"

test_expect_success 'a valid pipeline is reported valid with job and stage counts' '
	new_repo repo <<-\EOT &&
	stages: [build, test]
	build:
	  stage: build
	  script: make
	test:
	  script: make check
	  needs: [build]
	EOT
	(cd repo && cidre lint >../out 2>../err) &&
	expect_grep "^\.gitlab-ci\.yml: pipeline is valid \(2 jobs, 2 stages\)$" out &&
	test ! -s err
'

test_expect_success '-C runs in another directory' '
	cidre lint -C repo >out &&
	expect_grep "pipeline is valid" out
'

test_expect_success '.cidre.yml is preferred over .gitlab-ci.yml' '
	printf "only_cidre:\n  script: x\n" >repo/.cidre.yml &&
	cidre lint -C repo --json >out.json &&
	expect_grep "\"file\": \"\.cidre\.yml\"" out.json &&
	expect_grep "only_cidre" out.json &&
	rm repo/.cidre.yml
'

test_expect_success '--file picks another file' '
	mkdir -p repo/ci &&
	printf "other:\n  script: x\n" >repo/ci/other.yml &&
	cidre lint -C repo --file ci/other.yml >out &&
	expect_grep "^ci/other\.yml: pipeline is valid \(1 job, 3 stages\)" out
'

test_expect_success '--json describes jobs and stages' '
	cidre lint -C repo --json >out.json &&
	expect_grep "\"valid\": true" out.json &&
	expect_grep "\"name\": \"build\"" out.json &&
	expect_grep "\"stage\": \"build\"" out.json &&
	expect_grep "\"\.pre\"" out.json &&
	expect_grep "\"errors\": \[\]" out.json
'

test_expect_success 'include, extends, !reference and default resolve' '
	mkdir -p repo2/ci &&
	cat >repo2/ci/common.yml <<-\EOT &&
	.setup:
	  before_script: [echo setup]
	EOT
	cat >repo2/.gitlab-ci.yml <<-\EOT &&
	include:
	  - local: ci/common.yml
	default:
	  retry: 1
	.base:
	  script: [echo base]
	job:
	  extends: .base
	  before_script:
	    - !reference [.setup, before_script]
	EOT
	cidre lint -C repo2 >out &&
	expect_grep "pipeline is valid \(1 job, 3 stages\)" out
'

test_expect_failure_code 129 'an unknown option is a usage error' '
	cidre lint --bogus
'

test_expect_success 'lint -h shows the usage' '
	cidre lint -h >out &&
	expect_grep "usage: cidre lint" out
'

test_done
