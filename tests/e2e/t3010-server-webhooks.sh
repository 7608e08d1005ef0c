#!/bin/sh
# Inbound push webhooks of GitHub, GitLab, Gitea and Gogs (JSON or form): signed deliveries
# start pipelines (CI_PIPELINE_SOURCE=webhook); a missing or bad signature
# gets 401 and records nothing; other events are acknowledged and ignored.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

SECRET=s3cr3t-for-tests

hmac() {
	openssl dgst -sha256 -hmac "$SECRET" -r "$1" | cut -d" " -f1
}

# post_hook BODYFILE HEADER... : POST to the project's webhook, no API token
post_hook() {
	f=$1; shift
	set -- "$@"
	hdrs=
	for h in "$@"; do hdrs="$hdrs -H '$h'"; done
	eval curl -sS -o "$SCRATCH/.http-body" -w "%{http_code}" $hdrs \
		-H "'Content-Type: application/json'" --data-binary "@$f" \
		"$URL/api/v1/webhooks/app" >"$STATUS_FILE"
	cat "$SCRATCH/.http-body"
}

pipelines_count() {
	curl -sS "$URL/api/v1/pipelines?per_page=100" | jq length
}

test_expect_success 'a project with a webhook secret' '
	start_server data &&
	bare_repo app <<-YML &&
	build:
	  script: [echo "source=\$CI_PIPELINE_SOURCE ref=\$CI_COMMIT_REF_NAME"]
	YML
	api POST /api/v1/projects "{\"name\":\"app\",\"repo\":\"$SCRATCH/app.git\",\"webhook_secret\":\"$SECRET\"}" >/dev/null &&
	expect_status 201 &&
	(cd app && git rev-parse HEAD >../head && git rev-parse HEAD~0 >/dev/null)
'

test_expect_success 'GitHub: a signed push starts a pipeline' '
	printf "{\"ref\":\"refs/heads/main\",\"before\":\"0000000000000000000000000000000000000000\",\"after\":\"%s\",\"repository\":{\"full_name\":\"o/app\",\"clone_url\":\"https://example.invalid/o/app.git\"},\"pusher\":{\"name\":\"dev\"},\"head_commit\":{\"message\":\"m\"}}" "$(cat head)" >gh.json &&
	post_hook gh.json "X-GitHub-Event: push" "X-Hub-Signature-256: sha256=$(hmac gh.json)" >r.json &&
	expect_status 201 &&
	id=$(jq -r ".pipelines[0].id" r.json) &&
	wait_pipeline "$id" >d.json &&
	jq -e ".status == \"success\" and .source == \"webhook\" and .ref == \"main\"" d.json &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" d.json)/log" >log &&
	expect_grep "source=webhook ref=main" log
'

test_expect_success 'GitHub: bad, missing and stale signatures get 401 and record nothing' '
	n=$(pipelines_count) &&
	post_hook gh.json "X-GitHub-Event: push" "X-Hub-Signature-256: sha256=0000000000000000000000000000000000000000000000000000000000000000" >r.json &&
	expect_status 401 &&
	post_hook gh.json "X-GitHub-Event: push" >r.json &&
	expect_status 401 &&
	sed s/dev/mallory/ gh.json >tampered.json &&
	post_hook tampered.json "X-GitHub-Event: push" "X-Hub-Signature-256: sha256=$(hmac gh.json)" >r.json &&
	expect_status 401 &&
	test "$(pipelines_count)" = "$n"
'

test_expect_success 'GitLab: the X-Gitlab-Token is checked' '
	printf "{\"object_kind\":\"push\",\"ref\":\"refs/heads/main\",\"before\":\"0000000000000000000000000000000000000000\",\"after\":\"%s\",\"checkout_sha\":\"%s\",\"project\":{\"path_with_namespace\":\"o/app\",\"git_http_url\":\"https://example.invalid/o/app.git\"},\"user_username\":\"dev\",\"commits\":[]}" "$(cat head)" "$(cat head)" >gl.json &&
	n=$(pipelines_count) &&
	post_hook gl.json "X-Gitlab-Event: Push Hook" "X-Gitlab-Token: wrong" >r.json &&
	expect_status 401 &&
	test "$(pipelines_count)" = "$n" &&
	post_hook gl.json "X-Gitlab-Event: Push Hook" "X-Gitlab-Token: $SECRET" >r.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r ".pipelines[0].id" r.json)" | jq -e ".status == \"success\""
'

test_expect_success 'Gitea: X-Gitea-Signature is checked (before the GitHub headers it also sends)' '
	sed "s/o\\/app/o\\/gitea-app/" gh.json >gt.json &&
	n=$(pipelines_count) &&
	post_hook gt.json "X-Gitea-Event: push" "X-GitHub-Event: push" "X-Gitea-Signature: $(hmac gh.json)" >r.json &&
	expect_status 401 &&
	test "$(pipelines_count)" = "$n" &&
	post_hook gt.json "X-Gitea-Event: push" "X-GitHub-Event: push" "X-Gitea-Signature: $(hmac gt.json)" >r.json &&
	expect_status 201
'

test_expect_success 'form deliveries: GitHub signs the form, Gogs the JSON in it' '
	printf "payload=%s" "$(jq -sRr @uri gh.json)" >gh.form &&
	n=$(pipelines_count) &&
	code=$(curl -sS -o r.json -w "%{http_code}" -H "Content-Type: application/x-www-form-urlencoded" \
		-H "X-GitHub-Event: push" -H "X-Hub-Signature-256: sha256=$(hmac gh.form)" \
		--data-binary @gh.form "$URL/api/v1/webhooks/app") &&
	test "$code" = 201 &&
	wait_pipeline "$(jq -r ".pipelines[0].id" r.json)" | jq -e ".status == \"success\" and .source == \"webhook\"" &&
	code=$(curl -sS -o r.json -w "%{http_code}" -H "Content-Type: application/x-www-form-urlencoded" \
		-H "X-GitHub-Event: push" -H "X-Hub-Signature-256: sha256=$(hmac gh.json)" \
		--data-binary @gh.form "$URL/api/v1/webhooks/app") &&
	test "$code" = 401 &&
	code=$(curl -sS -o r.json -w "%{http_code}" -H "Content-Type: application/x-www-form-urlencoded" \
		-H "X-Gogs-Event: push" -H "X-Gogs-Signature: $(hmac gh.json)" \
		--data-binary @gh.form "$URL/api/v1/webhooks/app") &&
	test "$code" = 201 &&
	test "$(pipelines_count)" = "$((n + 2))"
'

test_expect_success 'other events are acknowledged and ignored; junk is a 400' '
	n=$(pipelines_count) &&
	printf "{\"zen\":\"hi\"}" >ping.json &&
	post_hook ping.json "X-GitHub-Event: ping" "X-Hub-Signature-256: sha256=$(hmac ping.json)" >r.json &&
	expect_status 202 &&
	printf "{not json" >junk.json &&
	post_hook junk.json "X-GitHub-Event: push" "X-Hub-Signature-256: sha256=$(hmac junk.json)" >r.json &&
	expect_status 400 &&
	post_hook junk.json >r.json &&
	expect_status 400 &&
	test "$(pipelines_count)" = "$n"
'

test_expect_success 'an unknown project gets the same 401 as a bad signature' '
	curl -sS -o /dev/null -w "%{http_code}" -H "X-GitHub-Event: push" --data-binary @gh.json \
		"$URL/api/v1/webhooks/nope" >code &&
	test "$(cat code)" = 401
'

test_done
