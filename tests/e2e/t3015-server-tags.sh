#!/bin/sh
# Tag pipelines: a pushed tag (lightweight or annotated) gets a pipeline
# whatever the project's --branches, with CI_COMMIT_TAG and
# CI_COMMIT_TAG_MESSAGE and without CI_COMMIT_BRANCH; a deleted tag gets
# none; a trigger names a tag by its name or refs/tags/NAME; forge
# webhooks of tag pushes start one too.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

SECRET=s3cr3t-for-tags

start_server data || { echo "Bail out! the server does not start"; exit 1; }
export CIDRE_SERVER="$URL" CIDRE_TOKEN="$TOKEN"

cat >pipeline.yml <<'YML'
build:
  script:
    - echo "tag=[$CI_COMMIT_TAG] branch=[$CI_COMMIT_BRANCH] ref=[$CI_COMMIT_REF_NAME] sha=[$CI_COMMIT_SHA]"
    - printf "message=[%s]\n" "$CI_COMMIT_TAG_MESSAGE"
    - echo "key=${DEPLOY_KEY:-none} protected=$CI_COMMIT_REF_PROTECTED"
release:
  rules:
    - if: $CI_COMMIT_TAG
  script: [echo "releasing $CI_COMMIT_TAG"]
YML

# job_log PIPELINE JOBNAME: the log of that job of the finished pipeline
job_log() {
	wait_pipeline "$1" >"p$1.json" &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[] | select(.name == \"$2\") | .id" "p$1.json")/log"
}

# the pipeline id a push printed ("remote: cidre: pipeline N for ...")
pushed_id() {
	sed -n "s/^remote: cidre: pipeline \([0-9]*\) for .*/\1/p" "$1" | head -n 1
}

test_expect_success 'a hooked repository of a project that builds main only' '
	bare_repo app <pipeline.yml &&
	api POST /api/v1/projects "{\"name\":\"app\",\"repo\":\"$SCRATCH/app.git\",\"branches\":\"main\",\"webhook_secret\":\"$SECRET\"}" >/dev/null &&
	expect_status 201 &&
	cidre hook install app.git >/dev/null &&
	(cd app && git rev-parse HEAD) >head
'

test_expect_success 'a lightweight tag push gets a tag pipeline, release included' '
	(cd app && git tag v1 && git push origin v1) >out 2>&1 &&
	expect_grep "^remote: cidre: pipeline [0-9]+ for tag v1: $URL/api/v1/pipelines/[0-9]+" out &&
	id=$(pushed_id out) &&
	job_log "$id" build >log &&
	jq -e ".status == \"success\" and .ref == \"v1\" and .tag == true and .source == \"push\" and .sha == \"$(cat head)\"" "p$id.json" &&
	jq -e "[.jobs[].name] | sort == [\"build\", \"release\"]" "p$id.json" &&
	expect_grep "tag=\[v1\] branch=\[\] ref=\[v1\] sha=\[$(cat head)\]" log &&
	expect_grep "^message=\[\]$" log &&
	api PATCH /api/v1/projects/app "{\"public\":true}" >/dev/null &&
	test "$(page - "/pipelines/$id")" = 200 &&
	expect_grep "<p class=\"crumbs\"><a href=\"/p/app\">app</a> › tag v1</p>" page.html
'

test_expect_success 'an annotated tag: its commit is built, its message is CI_COMMIT_TAG_MESSAGE' '
	(cd app && git tag -a v2 -m "Release two" -m "With notes." && git push origin v2) >out 2>&1 &&
	id=$(pushed_id out) &&
	job_log "$id" build >log &&
	jq -e ".tag == true and .ref == \"v2\" and .sha == \"$(cat head)\"" "p$id.json" &&
	expect_grep "sha=\[$(cat head)\]" log &&
	expect_grep "^message=\[Release two$" log &&
	expect_grep "^With notes.\]$" log
'

test_expect_success 'a branch pipeline has no release job and no tag' '
	(cd app && echo 1 >f && git add f && git commit -q -m one && git push origin HEAD:main) >out 2>&1 &&
	id=$(pushed_id out) &&
	job_log "$id" build >log &&
	jq -e ".tag == false and .ref == \"main\" and ([.jobs[].name] == [\"build\"])" "p$id.json" &&
	expect_grep "tag=\[\] branch=\[main\] ref=\[main\]" log
'

test_expect_success 'deleting a tag starts nothing' '
	n=$(api GET "/api/v1/pipelines?per_page=100" | jq length) &&
	(cd app && git push origin :refs/tags/v1) >out 2>&1 &&
	expect_grep "remote: cidre: no pipeline for this push" out &&
	test "$(api GET "/api/v1/pipelines?per_page=100" | jq length)" = "$n"
'

test_expect_success 'a trigger names a tag by its name or refs/tags/NAME' '
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"v2\"}" >t.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id t.json)" | jq -e ".tag == true and .ref == \"v2\" and .source == \"api\" and .status == \"success\"" &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"refs/tags/v2\"}" >t.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id t.json)" | jq -e ".tag == true and .ref == \"v2\"" &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"main\"}" >t.json &&
	wait_pipeline "$(jq -r .id t.json)" | jq -e ".tag == false and .ref == \"main\"" &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"nope\"}" >t.json &&
	expect_status 404 &&
	jq -e ".error | test(\"no branch or tag .nope.\")" t.json &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"refs/tags/nope\"}" >t.json &&
	expect_status 404 &&
	jq -e ".error | test(\"no tag .nope.\")" t.json
'

test_expect_success 'the list filters by a tag name; status says (tag)' '
	api GET "/api/v1/pipelines?ref=v2" >l.json &&
	jq -e "length >= 3 and all(.[]; .tag == true and .ref == \"v2\")" l.json &&
	cidre status app --ref v2 -n 1 >out &&
	expect_grep "^ *[0-9]+ +app +v2 \(tag\) +[0-9a-f]{8} +api +success " out &&
	cidre status "$(jq -r ".[0].id" l.json)" >out &&
	expect_grep "^pipeline [0-9]+  app  v2 \(tag\)  [0-9a-f]{8}  api  success" out
'

test_expect_success 'protected tags: their pipelines get protected variables, others not' '
	api PUT /api/v1/projects/app/variables/DEPLOY_KEY "{\"value\":\"tag-secret\",\"protected\":true}" >/dev/null &&
	expect_status 201 &&
	api GET /api/v1/projects/app >proj.json &&
	jq -e ".protected_tags == []" proj.json &&
	cidre project protect app --tags "v*" "rel-*,stable" >out &&
	expect_grep "^protected tags of app: \[\"v\*\",\"rel-\*\",\"stable\"\]$" out &&
	(cd app && git tag v9 && git tag other9 && git push origin v9 other9) >out 2>&1 &&
	grep "^remote: cidre: pipeline [0-9]* for tag v9:" out | sed "s/^remote: cidre: pipeline \([0-9]*\) .*/\1/" >v9.id &&
	grep "^remote: cidre: pipeline [0-9]* for tag other9:" out | sed "s/^remote: cidre: pipeline \([0-9]*\) .*/\1/" >o9.id &&
	job_log "$(cat v9.id)" build >log &&
	jq -e ".protected == true" "p$(cat v9.id).json" &&
	expect_grep "key=tag-secret protected=true" log &&
	job_log "$(cat o9.id)" build >log &&
	jq -e ".protected == false" "p$(cat o9.id).json" &&
	expect_grep "key=none protected=false" log &&
	expect_exit 2 cidre project protect app --tags --default 2>err &&
	cidre project protect app --tags --none >out &&
	expect_grep "^protected tags of app: none$" out &&
	api PATCH /api/v1/projects/app "{\"protected_tags\":[\"a,b\"]}" >/dev/null &&
	expect_status 400 &&
	expect_grep "protected_tags must be null" "$SCRATCH/.http-body"
'

hmac() {
	openssl dgst -sha256 -hmac "$SECRET" -r "$1" | cut -d" " -f1
}

test_expect_success 'GitHub and GitLab tag push webhooks start tag pipelines' '
	(cd app && git tag -a v3 -m three && git push -q origin v3 2>/dev/null &&
	 git rev-parse v3 >../tagobj && git rev-parse HEAD >../head2) &&
	printf "{\"ref\":\"refs/tags/v3\",\"before\":\"0000000000000000000000000000000000000000\",\"after\":\"%s\",\"repository\":{\"full_name\":\"o/app\",\"clone_url\":\"https://example.invalid/o/app.git\"},\"pusher\":{\"name\":\"dev\"}}" "$(cat tagobj)" >gh.json &&
	curl -sS -o r.json -w "%{http_code}" -H "Content-Type: application/json" \
		-H "X-GitHub-Event: push" -H "X-Hub-Signature-256: sha256=$(hmac gh.json)" \
		--data-binary @gh.json "$URL/api/v1/webhooks/app" >code &&
	test "$(cat code)" = 201 &&
	jq -e ".pipelines[0].tag == true and .pipelines[0].ref == \"v3\"" r.json &&
	wait_pipeline "$(jq -r ".pipelines[0].id" r.json)" >w.json &&
	jq -e ".tag == true and .source == \"webhook\" and .sha == \"$(cat head2)\" and .status == \"success\"" w.json &&
	printf "{\"object_kind\":\"tag_push\",\"ref\":\"refs/tags/v3\",\"before\":\"0000000000000000000000000000000000000000\",\"after\":\"%s\",\"checkout_sha\":\"%s\",\"project\":{\"path_with_namespace\":\"o/app\",\"git_http_url\":\"https://example.invalid/o/app.git\"},\"user_username\":\"dev\",\"commits\":[]}" "$(cat tagobj)" "$(cat head2)" >gl.json &&
	curl -sS -o r.json -w "%{http_code}" -H "Content-Type: application/json" \
		-H "X-Gitlab-Event: Tag Push Hook" -H "X-Gitlab-Token: $SECRET" \
		--data-binary @gl.json "$URL/api/v1/webhooks/app" >code &&
	test "$(cat code)" = 201 &&
	wait_pipeline "$(jq -r ".pipelines[0].id" r.json)" | jq -e ".tag == true and .ref == \"v3\""
'

test_done
