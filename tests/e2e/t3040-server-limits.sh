#!/bin/sh
# Every limit of the server is configurable and hit here: log size (with a
# visible marker, for gigabytes, a 100 MB line without newline and binary
# bytes), request body, queue length, pipelines per push.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

cat >pipeline.yml <<'YML'
stages: [one]
flood:
  stage: one
  script:
    - 'head -c 100000000 /dev/zero | tr "\0" "y"'
    - echo
    - 'while [ ! -f "$MARK" ]; do sleep 0.05; done'
    - echo flood done
YML

cat >binary.yml <<'YML'
b:
  script:
    - 'printf "bin: \377\376 ok \342\202\254\n"'
YML

cat >queue.yml <<'YML'
.w: &w
  script:
    - 'while [ ! -f "$MARK" ]; do sleep 0.05; done'
a: *w
b: *w
c: *w
YML

cat >big-artifacts.yml <<'YML'
big:
  script:
    - head -c 10000 /dev/zero >big.bin
  artifacts:
    paths: [big.bin]
YML

test_expect_success 'a server with small limits' '
	mkdir -p data &&
	cat >data/config.yml <<-CONF &&
	runner:
	  slots: 1
	limits:
	  log_size: 64KiB
	  request_body: 4KiB
	  queue_length: 2
	  pipelines_per_push: 2
	  artifacts_size: 4KiB
	  connections_per_client: 3
	CONF
	start_server data &&
	bare_repo app <pipeline.yml &&
	add_project app "$SCRATCH/app.git"
'

test_expect_success 'a 100 MB line without newline: the log is capped with a marker, the server answers meanwhile' '
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"MARK\":\"$SCRATCH/flooded\"}}" >p.json &&
	expect_status 201 &&
	jid=$(jq -r ".jobs[0].id" p.json) &&
	wait_for 60 job_status_is "$jid" running &&
	curl -sS --max-time 2 "$URL/healthz" >h && test "$(cat h)" = ok &&
	touch flooded &&
	wait_pipeline "$(jq -r .id p.json)" 60 >d.json &&
	jq -e ".jobs[0].status == \"success\"" d.json &&
	size=$(jq -r ".jobs[0].log_size" d.json) &&
	test "$size" -lt 70000 &&
	api GET "/api/v1/jobs/$jid/log" >log &&
	expect_grep "log truncated: job output exceeded the log size limit" log
'

test_expect_success 'binary bytes reach the live log as valid UTF-8' '
	cp binary.yml app/.gitlab-ci.yml &&
	(cd app && git commit -qam binary && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >d.json &&
	jid=$(jq -r ".jobs[0].id" d.json) &&
	curl -sS --max-time 5 "$URL/api/v1/jobs/$jid/log/stream" >sse &&
	grep "^data: {\"offset\"" sse | sed "s/^data: //" | jq -r .text >text &&
	expect_grep "bin: (�)+ ok €" text &&
	expect_grep "^event: end" sse
'

test_expect_success 'limits.connections_per_client: a client over it gets 503, and its room back when one closes' '
	hp=${URL#http://} &&
	for i in 1 2 3; do
		bash -c "exec 3<>/dev/tcp/${hp%:*}/${hp#*:} && exec sleep 60" &
		eval "holder$i=\$!"
	done &&
	over() { test "$(curl -sS -o over.json -w "%{http_code}" "$URL/healthz")" = 503; } &&
	wait_for 10 over &&
	jq -e ".error == \"too many connections from your address\"" over.json &&
	kill "$holder1" &&
	wait_for 10 sh -c "curl -sS \"$URL/healthz\" | grep -qx ok" &&
	kill "$holder2" "$holder3" &&
	{ wait "$holder1" "$holder2" "$holder3" || :; }
'

test_expect_success 'a request body over limits.request_body (4 KiB here) gets 413, nothing recorded' '
	n=$(curl -sS "$URL/api/v1/pipelines?per_page=100" | jq length) &&
	v=$(head -c 5000 /dev/zero | tr "\0" x) &&
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"V\":\"$v\"}}" >b.json;
	expect_status 413 &&
	test "$(curl -sS "$URL/api/v1/pipelines?per_page=100" | jq length)" = "$n"
'

test_expect_success 'limits.queue_length: a trigger beyond it gets 503' '
	cp queue.yml app/.gitlab-ci.yml &&
	(cd app && git commit -qam queue && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"MARK\":\"$SCRATCH/go\"}}" >p.json &&
	expect_status 201 &&
	id=$(jq -r .id p.json) &&
	wait_for 20 sh -c "curl -sS -H \"Authorization: Bearer $TOKEN\" $URL/api/v1/pipelines/$id | jq -e \"[.jobs[] | select(.status == \\\"pending\\\")] | length == 2\"" &&
	api POST /api/v1/projects/app/pipelines "{}" >q.json;
	expect_status 503 &&
	jq -e ".error | test(\"queue_length\")" q.json &&
	touch go &&
	wait_pipeline "$id" | jq -e ".status == \"success\""
'

test_expect_success 'limits.pipelines_per_push: a push of three branches builds two' '
	printf "a:\n  script: [echo a]\n" >app/.gitlab-ci.yml &&
	(cd app && git commit -qam simple && git branch b1 && git branch b2 && git branch b3 &&
	 git push -q origin HEAD:main b1 b2 b3) &&
	secret=$(api GET /api/v1/projects/app | jq -r .hook_secret) &&
	sha=$(cd app && git rev-parse HEAD) &&
	z=0000000000000000000000000000000000000000 &&
	printf "{\"project\":\"app\",\"refs\":[{\"old\":\"$z\",\"new\":\"$sha\",\"ref\":\"refs/heads/b1\"},{\"old\":\"$z\",\"new\":\"$sha\",\"ref\":\"refs/heads/b2\"},{\"old\":\"$z\",\"new\":\"$sha\",\"ref\":\"refs/heads/b3\"}]}" >hook.json &&
	curl -sS -H "X-Cidre-Hook-Token: $secret" --data-binary @hook.json "$URL/api/v1/hook" >r.json &&
	jq -e ".pipelines | length == 2" r.json &&
	jq -e ".dropped[0].ref == \"refs/heads/b3\" and (.dropped[0].reason | test(\"pipelines_per_push\"))" r.json
'

test_expect_success 'limits.artifacts_size: artifacts over it fail the job, nothing is stored' '
	cp big-artifacts.yml app/.gitlab-ci.yml &&
	(cd app && git commit -qam big && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"main\"}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >d.json &&
	jq -e ".jobs[0].status == \"failed\" and .jobs[0].failure_reason == \"api_failure\"" d.json &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" d.json)/artifacts" | jq -e "length == 0" &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" d.json)/log" >alog &&
	expect_grep "over the server.s limits.artifacts_size" alog
'

test_expect_success 'the hook endpoint refuses a bad token and records nothing' '
	n=$(curl -sS "$URL/api/v1/pipelines?per_page=100" | jq length) &&
	curl -sS -o /dev/null -w "%{http_code}" -H "X-Cidre-Hook-Token: nope" --data-binary @hook.json "$URL/api/v1/hook" >code &&
	test "$(cat code)" = 401 &&
	test "$(curl -sS "$URL/api/v1/pipelines?per_page=100" | jq length)" = "$n"
'

test_done
