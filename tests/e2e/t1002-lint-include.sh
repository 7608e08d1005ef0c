#!/bin/sh
# cidre lint: errors inside included files carry their own file name.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup' '
	mkdir -p repo/ci &&
	cat >repo/ci/jobs.yml <<-\EOT &&
	included_job:
	  script: x
	  when: sometimes
	EOT
	cat >repo/.gitlab-ci.yml <<-\EOT
	include:
	  - local: ci/jobs.yml
	  - local: ci/missing.yml
	  - template: Auto-DevOps.gitlab-ci.yml
	main_job:
	  script: x
	EOT
'

test_expect_success 'errors point into the included file and the includer' '
	expect_exit 2 cidre lint -C repo 2>err &&
	expect_grep "^\.gitlab-ci\.yml:3:12: error: included file \"ci/missing\.yml\" does not exist" err &&
	expect_grep "^\.gitlab-ci\.yml:4:5: error: keyword \"include:template\" is not supported" err &&
	expect_grep "^ci/jobs\.yml:3:9: error: job \"included_job\": \"when\" must be one of" err
'

test_expect_success 'errors are sorted by file, then position' '
	expect_exit 2 cidre lint -C repo 2>err &&
	sed "s/:.*//" err >files &&
	printf ".gitlab-ci.yml\n.gitlab-ci.yml\nci/jobs.yml\n" >expect &&
	diff -u expect files
'

test_expect_success 'wildcard includes: * stays in its directory' '
	rm repo/.gitlab-ci.yml &&
	mkdir -p repo/ci/more &&
	printf "more_job:\n  script: x\n" >repo/ci/more/a.yml &&
	printf "include: \"ci/*.yml\"\n" >repo/.gitlab-ci.yml &&
	sed -i "s/sometimes/manual/" repo/ci/jobs.yml &&
	cidre lint -C repo --json >out.json &&
	expect_grep "\"name\": \"included_job\"" out.json &&
	expect_no_grep "\"name\": \"more_job\"" out.json
'

test_expect_success 'wildcard includes: **/ spans any directories, or none' '
	printf "include: \"ci/**/*.yml\"\n" >repo/.gitlab-ci.yml &&
	cidre lint -C repo --json >out.json &&
	expect_grep "\"name\": \"included_job\"" out.json &&
	expect_grep "\"name\": \"more_job\"" out.json
'

test_done
