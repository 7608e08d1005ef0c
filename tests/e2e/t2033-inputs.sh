#!/bin/sh
# A pipeline's own inputs (its file's spec:inputs header): given with
# `cidre run --input`, `cidre trigger --input` or the API's "inputs",
# else their defaults; a required one missing, or a bad value, is an
# error with its position.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

cat >pipeline.yml <<'YML'
spec:
  inputs:
    target:
      options: [staging, production]
    replicas:
      type: number
      default: 1
    regions:
      type: array
      default: [eu]
---
deploy-$[[ inputs.target ]]:
  parallel: $[[ inputs.replicas ]]
  script:
    - echo "deploy to $[[ inputs.target ]]"
    - echo $[[ inputs.regions ]]
YML

test_expect_success 'cidre run --input: the values, typed; a required one missing' '
	new_repo r <pipeline.yml &&
	(cd r && cidre run --color=never --input target=production --input replicas=2 \
		--input "regions=[eu, us]" >../out 2>&1) &&
	expect_grep "^deploy-production 1/2 +\| deploy to production$" out &&
	expect_grep "^deploy-production 2/2 +\| deploy to production$" out &&
	(cd r && expect_exit 2 cidre run --list >../out 2>&1) &&
	expect_grep "^.gitlab-ci.yml:3:5: error: input target is required: .gitlab-ci.yml gives it no default$" out &&
	(cd r && expect_exit 2 cidre run --list --input target=moon --input replicas=many >../out 2>&1) &&
	expect_grep "input target: \"moon\" is not one of its options" out &&
	expect_grep "input replicas must be a number" out &&
	(cd r && expect_exit 2 cidre run --list --input nope=1 --input target=staging >../out 2>&1) &&
	expect_grep ".gitlab-ci.yml declares no input nope" out
'

test_expect_success 'the server: inputs of cidre trigger and of the API' '
	start_server data &&
	bare_repo app <pipeline.yml &&
	add_project app "$SCRATCH/app.git" &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre trigger app --input target=staging -q >id &&
	wait_pipeline "$(cat id)" >p.json &&
	jq -e ".status == \"success\" and ([.jobs[].name] == [\"deploy-staging 1/1\"])" p.json &&
	api POST /api/v1/projects/app/pipelines "{\"inputs\": {\"target\": \"production\", \"replicas\": 2, \"regions\": [\"us\"]}}" >t.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id t.json)" >p.json &&
	jq -e ".status == \"success\" and ([.jobs[].name] | sort == [\"deploy-production 1/2\", \"deploy-production 2/2\"])" p.json &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" p.json)/log" >log &&
	expect_grep "^\[us\]$" log &&
	api POST /api/v1/projects/app/pipelines "{}" >t.json &&
	wait_pipeline "$(jq -r .id t.json)" >p.json &&
	jq -e ".status == \"failed\" and (.error | test(\"input target is required\"))" p.json &&
	api POST /api/v1/projects/app/pipelines "{\"inputs\": {\"bad name\": 1}}" >t.json &&
	expect_status 400
'

test_done
