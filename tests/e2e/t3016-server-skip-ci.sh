#!/bin/sh
# Skipping CI, as GitLab: "[skip ci]" or "[ci skip]" in a pushed commit's
# message, or `git push -o ci.skip`, records a skipped pipeline with no
# job; `git push -o ci.variable=KEY=VALUE` sets pipeline variables. A
# trigger through the API is never skipped.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

SECRET=s3cr3t-for-skips

start_server data || { echo "Bail out! the server does not start"; exit 1; }
export CIDRE_SERVER="$URL" CIDRE_TOKEN="$TOKEN"

# the pipeline id a push printed ("remote: cidre: pipeline N for ...")
pushed_id() {
	sed -n "s/^remote: cidre: pipeline \([0-9]*\) for .*/\1/p" "$1" | head -n 1
}

test_expect_success 'a hooked repository' '
	bare_repo app <<-\YML &&
	build:
	  script:
	    - echo "greeting=($GREETING)"
	YML
	api POST /api/v1/projects "{\"name\":\"app\",\"repo\":\"$SCRATCH/app.git\",\"webhook_secret\":\"$SECRET\"}" >/dev/null &&
	expect_status 201 &&
	cidre hook install app.git >/dev/null &&
	test "$(git --git-dir app.git config receive.advertisePushOptions)" = true
'

test_expect_success '[skip ci] in the message: a skipped pipeline without jobs' '
	(cd app && echo 1 >f && git add f && git commit -q -m "docs: typo [skip ci]" &&
	 git push origin HEAD:main) >out 2>&1 &&
	id=$(pushed_id out) &&
	expect_grep "^remote: cidre: pipeline $id for main: $URL/api/v1/pipelines/$id \(skipped by \[skip ci\] in the commit message\)" out &&
	api GET "/api/v1/pipelines/$id" >p.json &&
	jq -e ".status == \"skipped\" and (.jobs | length) == 0 and .error == \"skipped by [skip ci] in the commit message\"" p.json
'

test_expect_success '[CI SKIP] in any case, anywhere in the message' '
	(cd app && echo 2 >f && git commit -q -am "one" -m "Body. [CI Skip] please" &&
	 git push origin HEAD:main) >out 2>&1 &&
	api GET "/api/v1/pipelines/$(pushed_id out)" | jq -e ".status == \"skipped\""
'

test_expect_success 'git push -o ci.skip skips; -o ci.variable sets a variable' '
	(cd app && echo 3 >f && git commit -q -am three &&
	 git push -o ci.skip origin HEAD:main) >out 2>&1 &&
	api GET "/api/v1/pipelines/$(pushed_id out)" >p.json &&
	jq -e ".status == \"skipped\" and .error == \"skipped by the push option ci.skip\"" p.json &&
	(cd app && echo 4 >f && git commit -q -am four &&
	 git push -o "ci.variable=GREETING=hello there" -o other.option origin HEAD:main) >out 2>&1 &&
	id=$(pushed_id out) &&
	wait_pipeline "$id" >p.json &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" p.json)/log" >log &&
	{ jq -e ".status == \"success\"" p.json || { cat p.json log; false; }; } &&
	expect_grep "greeting=\(hello there\)" log
'

test_expect_success 'a bad ci.variable starts nothing and says why; the push is kept' '
	(cd app && echo 5 >f && git commit -q -am five &&
	 git push -o "ci.variable=NOVALUE" origin HEAD:main) >out 2>&1 &&
	expect_grep "remote: cidre: no pipeline started: .*ci.variable wants KEY=VALUE" out &&
	test "$(git --git-dir app.git rev-parse main)" = "$(git -C app rev-parse HEAD)" &&
	(cd app && echo 5b >f && git commit -q -am five-b &&
	 git push -o "ci.variable=1BAD=x" origin HEAD:main) >out 2>&1 &&
	expect_grep "remote: cidre: no pipeline started: push option ci.variable: " out
'

test_expect_success 'a trigger of a [skip ci] commit runs it' '
	(cd app && echo 6 >f && git commit -q -am "six [skip ci]" && git push -q origin HEAD:main) 2>/dev/null &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"main\"}" >t.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id t.json)" | jq -e ".status == \"success\""
'

test_expect_success 'a webhook of a [skip ci] commit is skipped too' '
	printf "{\"ref\":\"refs/heads/main\",\"before\":\"0000000000000000000000000000000000000000\",\"after\":\"%s\",\"repository\":{\"full_name\":\"o/app\",\"clone_url\":\"https://example.invalid/o/app.git\"},\"pusher\":{\"name\":\"dev\"}}" "$(git -C app rev-parse HEAD)" >gh.json &&
	curl -sS -o r.json -w "%{http_code}" -H "Content-Type: application/json" -H "X-GitHub-Event: push" \
		-H "X-Hub-Signature-256: sha256=$(openssl dgst -sha256 -hmac "$SECRET" -r gh.json | cut -d" " -f1)" \
		--data-binary @gh.json "$URL/api/v1/webhooks/app" >code &&
	test "$(cat code)" = 201 &&
	api GET "/api/v1/pipelines/$(jq -r ".pipelines[0].id" r.json)" | jq -e ".status == \"skipped\""
'

test_done
