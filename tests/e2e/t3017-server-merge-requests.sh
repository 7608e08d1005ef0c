#!/bin/sh
# Merge request pipelines from forge webhooks: GitHub's and Gitea's
# pull_request, GitLab's Merge Request Hook. The pipeline runs the source
# branch's head with CI_PIPELINE_SOURCE=merge_request_event and GitLab's
# CI_MERGE_REQUEST_* variables, no CI_COMMIT_BRANCH, rules:changes
# against the target branch, and never the protected variables.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

SECRET=s3cr3t-for-mrs

start_server data || { echo "Bail out! the server does not start"; exit 1; }
export CIDRE_SERVER="$URL" CIDRE_TOKEN="$TOKEN"

cat >pipeline.yml <<'YML'
workflow:
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH
mr:
  rules:
    - if: $CI_MERGE_REQUEST_IID
  script:
    - echo "mr=($CI_MERGE_REQUEST_IID) src=($CI_MERGE_REQUEST_SOURCE_BRANCH_NAME) tgt=($CI_MERGE_REQUEST_TARGET_BRANCH_NAME)"
    - echo "title=($CI_MERGE_REQUEST_TITLE) branch=($CI_COMMIT_BRANCH) ref=($CI_COMMIT_REF_NAME) key=(${DEPLOY_KEY:-none})"
branch-only:
  rules:
    - if: $CI_COMMIT_BRANCH
  script:
    - echo "open=($CI_OPEN_MERGE_REQUESTS)"
docs:
  rules:
    - changes: [docs/*]
  script: [echo docs]
YML

hmac() {
	openssl dgst -sha256 -hmac "$SECRET" -r "$1" | cut -d" " -f1
}

# deliver FILE HEADER...: POST a webhook; the status in code, the body in r.json
deliver() {
	f=$1; shift
	set -- "$@"
	hdrs=
	for h in "$@"; do hdrs="$hdrs -H '$h'"; done
	eval curl -sS -o r.json -w "%{http_code}" $hdrs -H "'Content-Type: application/json'" \
		--data-binary "@$f" "$URL/api/v1/webhooks/app" >code
}

test_expect_success 'a project that builds main, with a protected variable, and a topic branch' '
	bare_repo app <pipeline.yml &&
	api POST /api/v1/projects "{\"name\":\"app\",\"repo\":\"$SCRATCH/app.git\",\"branches\":\"main\",\"webhook_secret\":\"$SECRET\"}" >/dev/null &&
	expect_status 201 &&
	api PUT /api/v1/projects/app/variables/DEPLOY_KEY "{\"value\":\"secret\",\"protected\":true}" >/dev/null &&
	(cd app && git rev-parse HEAD >../base &&
	 git checkout -q -b feature/x && mkdir docs && echo x >docs/a.md && git add docs &&
	 git commit -q -m "docs: a" && git push -q origin feature/x && git rev-parse HEAD >../head)
'

test_expect_success 'GitHub: an opened pull request runs a merge request pipeline' '
	printf "{\"action\":\"opened\",\"number\":42,\"pull_request\":{\"title\":\"Add docs\",\"html_url\":\"https://example.invalid/o/app/pull/42\",\"head\":{\"ref\":\"feature/x\",\"sha\":\"%s\"},\"base\":{\"ref\":\"main\",\"sha\":\"%s\"}},\"repository\":{\"full_name\":\"o/app\",\"clone_url\":\"https://example.invalid/o/app.git\"},\"sender\":{\"login\":\"dev\"}}" "$(cat head)" "$(cat base)" >pr.json &&
	deliver pr.json "X-GitHub-Event: pull_request" "X-Hub-Signature-256: sha256=$(hmac pr.json)" &&
	test "$(cat code)" = 201 &&
	jq -e ".pipelines[0].merge_request == 42 and .pipelines[0].ref == \"feature/x\"" r.json &&
	id=$(jq -r ".pipelines[0].id" r.json) &&
	wait_pipeline "$id" >p.json &&
	jq -e ".status == \"success\" and .source == \"merge_request_event\" and .sha == \"$(cat head)\" and .protected == false" p.json &&
	jq -e "[.jobs[].name] | sort == [\"docs\", \"mr\"]" p.json &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[] | select(.name == \"mr\") | .id" p.json)/log" >log &&
	expect_grep "mr=\(42\) src=\(feature/x\) tgt=\(main\)" log &&
	expect_grep "title=\(Add docs\) branch=\(\) ref=\(feature/x\) key=\(none\)" log
'

test_expect_success 'closed pull requests and edits without commits start nothing' '
	n=$(api GET "/api/v1/pipelines?per_page=100" | jq length) &&
	sed "s/\"opened\"/\"closed\"/" pr.json >closed.json &&
	deliver closed.json "X-GitHub-Event: pull_request" "X-Hub-Signature-256: sha256=$(hmac closed.json)" &&
	test "$(cat code)" = 202 &&
	expect_grep "action ..closed.. ignored" r.json &&
	printf "{\"object_kind\":\"merge_request\",\"user\":{\"username\":\"dev\"},\"project\":{\"path_with_namespace\":\"o/app\",\"git_http_url\":\"https://example.invalid/o/app.git\"},\"object_attributes\":{\"iid\":5,\"title\":\"t\",\"source_branch\":\"feature/x\",\"target_branch\":\"main\",\"action\":\"update\",\"last_commit\":{\"id\":\"%s\"}}}" "$(cat head)" >gl.json &&
	deliver gl.json "X-Gitlab-Event: Merge Request Hook" "X-Gitlab-Token: $SECRET" &&
	test "$(cat code)" = 202 &&
	test "$(api GET "/api/v1/pipelines?per_page=100" | jq length)" = "$n"
'

test_expect_success 'GitLab: new commits in a merge request run it again' '
	(cd app && echo y >y && git add y && git commit -q -m "code: y" && git push -q origin feature/x &&
	 git rev-parse HEAD >../head2) &&
	printf "{\"object_kind\":\"merge_request\",\"user\":{\"username\":\"dev\"},\"project\":{\"path_with_namespace\":\"o/app\",\"git_http_url\":\"https://example.invalid/o/app.git\"},\"object_attributes\":{\"iid\":5,\"title\":\"Two\",\"source_branch\":\"feature/x\",\"target_branch\":\"main\",\"action\":\"update\",\"oldrev\":\"%s\",\"last_commit\":{\"id\":\"%s\"}}}" "$(cat head)" "$(cat head2)" >gl2.json &&
	deliver gl2.json "X-Gitlab-Event: Merge Request Hook" "X-Gitlab-Token: $SECRET" &&
	test "$(cat code)" = 201 &&
	wait_pipeline "$(jq -r ".pipelines[0].id" r.json)" >p2.json &&
	jq -e ".source == \"merge_request_event\" and .sha == \"$(cat head2)\"" p2.json &&
	jq -e "[.jobs[].name] | sort == [\"docs\", \"mr\"]" p2.json
'

test_expect_success 'a push of the topic branch itself is not built (branches: main)' '
	printf "{\"ref\":\"refs/heads/feature/x\",\"before\":\"%s\",\"after\":\"%s\",\"repository\":{\"full_name\":\"o/app\",\"clone_url\":\"https://example.invalid/o/app.git\"},\"pusher\":{\"name\":\"dev\"}}" "$(cat head)" "$(cat head2)" >push.json &&
	deliver push.json "X-GitHub-Event: push" "X-Hub-Signature-256: sha256=$(hmac push.json)" &&
	test "$(cat code)" = 202
'

test_expect_success 'CI_OPEN_MERGE_REQUESTS lists the open requests of a branch; closing one takes it out' '
	id=$(cidre trigger app feature/x -q) &&
	wait_pipeline "$id" >t.json &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[] | select(.name == \"branch-only\") | .id" t.json)/log" >log &&
	expect_grep "open=\(cidre/app!5,cidre/app!42\)" log &&
	printf "{\"action\":\"closed\",\"number\":42,\"pull_request\":{\"state\":\"closed\",\"merged\":false,\"title\":\"Add docs\",\"head\":{\"ref\":\"feature/x\",\"sha\":\"%s\"},\"base\":{\"ref\":\"main\",\"sha\":\"%s\"}},\"repository\":{\"full_name\":\"o/app\",\"clone_url\":\"https://example.invalid/o/app.git\"},\"sender\":{\"login\":\"dev\"}}" "$(cat head2)" "$(cat base)" >closed2.json &&
	deliver closed2.json "X-GitHub-Event: pull_request" "X-Hub-Signature-256: sha256=$(hmac closed2.json)" &&
	test "$(cat code)" = 202 &&
	jq -e ".merge_request.iid == 42 and .merge_request.state == \"closed\"" r.json &&
	id=$(cidre trigger app feature/x -q) &&
	wait_pipeline "$id" >t.json &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[] | select(.name == \"branch-only\") | .id" t.json)/log" >log &&
	expect_grep "open=\(cidre/app!5\)" log &&
	id=$(cidre trigger app main -q) &&
	wait_pipeline "$id" >t.json &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[] | select(.name == \"branch-only\") | .id" t.json)/log" >log &&
	expect_grep "open=\(\)" log
'

test_done
