#!/bin/sh
# Variables: precedence, expansion, value/description form, inherit.
. "$(dirname "$0")/lib.sh"

test_expect_success 'precedence: --variable > job > global > predefined' '
	new_repo v <<-\EOF &&
	variables:
	  A: global-a
	  B: global-b
	  C: global-c
	  CI_COMMIT_REF_NAME: overridden-ref
	j:
	  variables:
	    B: job-b
	    C: job-c
	  script:
	    - echo "A=$A B=$B C=$C REF=$CI_COMMIT_REF_NAME"
	EOF
	(cd v && cidre run --color=never -v C=cli-c >../out 2>&1) &&
	expect_grep "\| A=global-a B=job-b C=cli-c REF=overridden-ref" out
'

test_expect_success 'variables reference other variables; $$ is a literal dollar' '
	new_repo x <<-\EOF &&
	variables:
	  BASE: /opt/app
	  BIN: ${BASE}/bin
	  RAW:
	    value: "$BASE/raw"
	    expand: false
	  DESCRIBED:
	    value: "shown"
	    description: "a variable with a description"
	j:
	  variables:
	    TOOL: $BIN/tool
	  script:
	    - echo "tool=$TOOL described=$DESCRIBED"
	    - echo "raw=$RAW"
	EOF
	(cd x && cidre run --color=never >../out 2>&1) &&
	expect_grep "\| tool=/opt/app/bin/tool described=shown" out &&
	expect_grep "\| raw=[$]BASE/raw" out
'

test_expect_success 'inherit:variables limits which globals a job gets' '
	new_repo i <<-\EOF &&
	variables:
	  KEEP: kept
	  DROP: dropped
	none:
	  inherit:
	    variables: false
	  script: echo "none keep=${KEEP:-unset} drop=${DROP:-unset}"
	some:
	  inherit:
	    variables: [KEEP]
	  script: echo "some keep=${KEEP:-unset} drop=${DROP:-unset}"
	EOF
	(cd i && cidre run --color=never >../out 2>&1) &&
	expect_grep "\| none keep=unset drop=unset" out &&
	expect_grep "\| some keep=kept drop=unset" out
'

test_expect_success 'inherit:default: false ignores default:' '
	new_repo d <<-\EOF &&
	default:
	  before_script: [echo from-default]
	a:
	  script: echo a
	b:
	  inherit:
	    default: false
	  script: echo b
	EOF
	(cd d && cidre run --color=never >../out 2>&1) &&
	expect_grep "^a +\| from-default" out &&
	expect_no_grep "^b +\| from-default" out
'

test_expect_success 'environment is exposed as CI_ENVIRONMENT_* variables' '
	new_repo e <<-\EOF &&
	deploy:
	  stage: deploy
	  environment:
	    name: review/$CI_COMMIT_REF_SLUG
	    url: https://$CI_COMMIT_REF_SLUG.example.test
	    deployment_tier: development
	  script: echo "env=$CI_ENVIRONMENT_NAME url=$CI_ENVIRONMENT_URL tier=$CI_ENVIRONMENT_TIER"
	EOF
	(cd e && cidre run --color=never --json=../r.json >../out 2>&1) &&
	expect_grep "\| env=review/main url=https://main.example.test tier=development" out &&
	expect_grep "\"environment\"" r.json
'

test_expect_success 'image is recorded and the shell executor says it runs on the host' '
	new_repo img <<-\EOF &&
	j:
	  image: alpine:3.19
	  script: "true"
	EOF
	(cd img && cidre run --color=never >../out 2>&1) &&
	test $(grep -cE "image \"alpine:3.19\" is not used" out) = 1
'

test_done
