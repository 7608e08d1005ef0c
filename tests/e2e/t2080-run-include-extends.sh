#!/bin/sh
# include, extends, !reference, anchors, hidden jobs, default.
. "$(dirname "$0")/lib.sh"

test_expect_success 'include local files and extends templates across them' '
	new_repo inc <<-\EOF &&
	include:
	  - local: ci/templates.yml
	  - ci/more/*.yml
	variables:
	  WHO: main
	build:
	  extends: [.base, .loud]
	  script: echo "build by $WHO with $TOOL level=$LEVEL"
	EOF
	mkdir -p inc/ci/more &&
	cat >inc/ci/templates.yml <<-\EOF &&
	.base:
	  stage: build
	  variables:
	    TOOL: make
	    LEVEL: base
	.loud:
	  variables:
	    LEVEL: loud
	EOF
	cat >inc/ci/more/extra.yml <<-\EOF &&
	extra:
	  script: echo extra-ran
	EOF
	(cd inc && git add . && git commit -qm ci && cidre run --color=never >../out 2>&1) &&
	expect_grep "^build +\| build by main with make level=loud" out &&
	expect_grep "^extra +\| extra-ran" out
'

test_expect_success '!reference reuses parts of other jobs' '
	new_repo ref <<-\EOF &&
	.setup:
	  script:
	    - echo setup-one
	    - echo setup-two
	j:
	  script:
	    - !reference [.setup, script]
	    - echo own
	EOF
	(cd ref && cidre run --color=never >../out 2>&1) &&
	expect_grep "\| setup-one" out && expect_grep "\| setup-two" out &&
	expect_grep "\| own" out
'

test_expect_success 'anchors, aliases and merge keys' '
	new_repo anc <<-\EOF &&
	.common: &common
	  stage: build
	  variables:
	    X: from-anchor
	j:
	  <<: *common
	  script: echo "x=$X stage=$CI_JOB_STAGE"
	EOF
	(cd anc && cidre run --color=never >../out 2>&1) &&
	expect_grep "\| x=from-anchor stage=build" out
'

test_expect_success 'hidden jobs do not run; default applies to jobs' '
	new_repo h <<-\EOF &&
	default:
	  after_script: [echo default-after]
	.hidden:
	  script: echo hidden
	visible:
	  script: echo visible
	EOF
	(cd h && cidre run --color=never >../out 2>&1) &&
	expect_no_grep "hidden" out &&
	expect_grep "^visible +\| default-after" out
'

test_expect_success 'a missing include and an extends loop are reported with positions' '
	new_repo bad <<-\EOF &&
	include: nope.yml
	a:
	  extends: b
	  script: "true"
	b:
	  extends: a
	  script: "true"
	EOF
	(cd bad && expect_exit 2 cidre run >../out 2>&1) &&
	expect_grep "^.gitlab-ci.yml:1:[0-9]+: error: .*nope.yml" out &&
	expect_grep "^.gitlab-ci.yml:[0-9]+:[0-9]+: error: .*(loop|circular|cycle)" out
'

test_done
