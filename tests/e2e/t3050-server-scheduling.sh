#!/bin/sh
# The server's scheduling, GitLab's way: redundant interruptible pipelines
# auto-canceled by a newer push, resource_group one job at a time,
# delayed jobs, manual jobs and retries, cancel killing the whole tree,
# polling a repository, and SIGHUP reloading the configuration.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

cat >wait.yml <<'YML'
stages: [one, two]
a:
  stage: one
  interruptible: true
  script:
    - echo "a of $CI_COMMIT_SHORT_SHA"
    - 'while [ ! -f "$MARK" ]; do sleep 0.05; done'
b:
  stage: two
  script: [echo b]
YML

# not interruptible but for a rule on main (GitLab's rules:interruptible)
cat >rulewait.yml <<'YML'
a:
  interruptible: false
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      interruptible: true
    - when: on_success
  script:
    - 'while [ ! -f "$MARK" ]; do sleep 0.05; done'
YML

cat >group.yml <<'YML'
.d: &d
  resource_group: production
  script:
    - 'echo start >>"$LOG"; sleep 0.3; echo end >>"$LOG"'
d1: *d
d2: *d
d3: *d
YML

cat >manual.yml <<'YML'
stages: [build, deploy]
build:
  stage: build
  script: [echo built]
later:
  stage: build
  when: delayed
  start_in: 3 seconds
  script: [echo later]
deploy:
  stage: deploy
  when: manual
  script: [echo deployed]
YML

cat >tree.yml <<'YML'
spin:
  script:
    - 'sleep 300 & echo $! >"$PIDFILE"; wait'
YML

commit() {
	cp "$1" app/.gitlab-ci.yml && (cd app && git add . && git commit -qm "$1" &&
	git push -q origin HEAD:main && git rev-parse HEAD)
}

trigger() {
	api POST /api/v1/projects/app/pipelines "{\"variables\":{$1}}" >"$2" && expect_status 201
}

test_expect_success 'a server with three runner slots' '
	mkdir -p data && printf "runner:\n  slots: 3\n" >data/config.yml &&
	start_server data &&
	bare_repo app <wait.yml &&
	add_project app "$SCRATCH/app.git"
'

test_expect_success 'a newer pipeline on the ref cancels an older interruptible one' '
	trigger "\"MARK\":\"$SCRATCH/never\"" old.json &&
	old=$(jq -r .id old.json) &&
	wait_for 20 job_status_is "$(jq -r ".jobs[0].id" old.json)" running &&
	trigger "\"MARK\":\"$SCRATCH/go1\"" new.json &&
	wait_pipeline "$old" >o.json &&
	jq -e ".status == \"canceled\" and .jobs[0].status == \"canceled\" and .jobs[1].status == \"canceled\"" o.json &&
	touch go1 &&
	wait_pipeline "$(jq -r .id new.json)" | jq -e ".status == \"success\""
'

test_expect_success 'rules:interruptible makes a job of an older pipeline cancelable' '
	commit rulewait.yml >/dev/null &&
	trigger "\"MARK\":\"$SCRATCH/never\"" rold.json &&
	wait_for 20 job_status_is "$(jq -r ".jobs[0].id" rold.json)" running &&
	trigger "\"MARK\":\"$SCRATCH/go2\"" rnew.json &&
	wait_pipeline "$(jq -r .id rold.json)" | jq -e ".status == \"canceled\"" &&
	touch go2 &&
	wait_pipeline "$(jq -r .id rnew.json)" | jq -e ".status == \"success\""
'

test_expect_success 'resource_group runs one job at a time' '
	commit group.yml >/dev/null &&
	trigger "\"LOG\":\"$SCRATCH/group.log\"" g.json &&
	wait_pipeline "$(jq -r .id g.json)" | jq -e ".status == \"success\"" &&
	test "$(tr "\n" " " <group.log)" = "start end start end start end "
'

test_expect_success 'delayed jobs wait; manual jobs wait for play; retry makes a new attempt' '
	commit manual.yml >/dev/null &&
	trigger "" m.json &&
	id=$(jq -r .id m.json) &&
	later=$(jq -r ".jobs[] | select(.name == \"later\") | .id" m.json) &&
	deploy=$(jq -r ".jobs[] | select(.name == \"deploy\") | .id" m.json) &&
	wait_for 10 job_status_is "$later" scheduled &&
	wait_for 20 job_status_is "$later" success &&
	wait_for 20 job_status_is "$deploy" manual &&
	api GET "/api/v1/pipelines/$id" | jq -e ".status == \"success\"" &&
	api POST "/api/v1/jobs/$deploy/play" >/dev/null && expect_status 200 &&
	wait_for 20 job_status_is "$deploy" success &&
	api POST "/api/v1/jobs/$deploy/play" >err.json; expect_status 409 &&
	api POST "/api/v1/jobs/$deploy/retry" >r.json && expect_status 201 &&
	jq -e ".attempt == 2" r.json &&
	wait_for 20 job_status_is "$(jq -r .id r.json)" success &&
	api GET "/api/v1/jobs/$deploy" | jq -e ".retried == true"
'

test_expect_success 'cancel kills the job and every process it started' '
	commit tree.yml >/dev/null &&
	trigger "\"PIDFILE\":\"$SCRATCH/spin.pid\"" t.json &&
	jid=$(jq -r ".jobs[0].id" t.json) &&
	wait_for 20 test -s spin.pid &&
	child=$(cat spin.pid) && process_alive "$child" &&
	api POST "/api/v1/jobs/$jid/cancel" >/dev/null && expect_status 202 &&
	wait_for 20 job_status_is "$jid" canceled &&
	wait_for 10 sh -c "! kill -0 $child 2>/dev/null" &&
	api GET "/api/v1/jobs/$jid/log" | grep -q "Job canceled"
'

test_expect_success 'SIGHUP: an invalid configuration is refused and the old one kept' '
	printf "runner:\n  slots: zero\n" >data/config.yml &&
	kill -HUP "$SERVER_PID" &&
	wait_for 10 grep -q "configuration is invalid, keeping the one in use" data.log &&
	curl -sS "$URL/healthz" | grep -q ok
'

test_expect_success 'SIGHUP: a valid configuration is used at once' '
	printf "runner:\n  slots: 1\nlimits:\n  queue_length: 50\n" >data/config.yml &&
	kill -HUP "$SERVER_PID" &&
	wait_for 10 grep -q "reload: .* is in use (runner slots 1" data.log
'

test_expect_success 'a polled repository builds new commits by itself' '
	git init -q --bare polled.git &&
	git clone -q polled.git polled 2>/dev/null &&
	printf "p:\n  script: [echo polled \$CI_PIPELINE_SOURCE]\n" >polled/.gitlab-ci.yml &&
	(cd polled && git add . && git commit -qm p1 && git push -q origin HEAD:main &&
	 git tag v1 && git push -q origin HEAD:old-a HEAD:old-b v1) &&
	git --git-dir=polled.git symbolic-ref HEAD refs/heads/main &&
	printf "poll:\n  min_interval: 1\n" >>data/config.yml &&
	kill -HUP "$SERVER_PID" &&
	wait_for 10 grep -q "runner slots 1" data.log &&
	api POST /api/v1/projects "{\"name\":\"polled\",\"repo\":\"$SCRATCH/polled.git\",\"poll_interval\":1}" >/dev/null &&
	expect_status 201 &&
	wait_for 20 sh -c "curl -sS -H \"Authorization: Bearer $TOKEN\" \"$URL/api/v1/pipelines?project=polled\" | jq -e \"length == 1\"" &&
	(cd polled && echo x >x && git add x && git commit -qm p2 && git push -q origin HEAD:main) &&
	wait_for 20 sh -c "curl -sS -H \"Authorization: Bearer $TOKEN\" \"$URL/api/v1/pipelines?project=polled\" | jq -e \"length == 2\"" &&
	api GET "/api/v1/pipelines?project=polled" >pl.json &&
	jq -e ".[0].source == \"poll\" and .[0].before_sha == .[1].sha" pl.json
'

test_expect_success 'the first poll builds the default branch only and records the others' '
	api GET "/api/v1/pipelines?project=polled" >pl.json &&
	jq -e "[.[].ref] == [\"main\", \"main\"]" pl.json &&
	grep -q "poll polled: first poll: 2 other branch heads recorded, not built" data.log &&
	old=$(git --git-dir=polled.git rev-parse old-a) &&
	(cd polled && git push -q origin HEAD:old-a) &&
	wait_for 20 sh -c "curl -sS -H \"Authorization: Bearer $TOKEN\" \"$URL/api/v1/pipelines?project=polled\" | jq -e \"length == 3\"" &&
	api GET "/api/v1/pipelines?project=polled" >pl.json &&
	jq -e --arg old "$old" ".[0].ref == \"old-a\" and .[0].before_sha == \$old" pl.json &&
	sleep 2 &&
	api GET "/api/v1/pipelines?project=polled" >pl.json &&
	jq -e "length == 3" pl.json
'

test_expect_success 'a polled repository builds new tags; the first poll recorded the old ones' '
	grep -q "poll polled: first poll: 1 tag recorded, not built" data.log &&
	(cd polled && git tag -a v2 -m "two" && git push -q origin v2) &&
	wait_for 20 sh -c "curl -sS -H \"Authorization: Bearer $TOKEN\" \"$URL/api/v1/pipelines?project=polled\" | jq -e \"length == 4\"" &&
	api GET "/api/v1/pipelines?project=polled" >pl.json &&
	jq -e --arg head "$(git -C polled rev-parse HEAD)" ".[0].ref == \"v2\" and .[0].tag == true and .[0].source == \"poll\" and .[0].sha == \$head" pl.json &&
	sleep 2 &&
	api GET "/api/v1/pipelines?project=polled" | jq -e "length == 4"
'

test_done
