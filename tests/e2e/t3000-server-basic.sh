#!/bin/sh
# cidre server: start-up, configuration check, the API end to end
# (project, trigger, jobs, logs, tests, artifacts) and its errors.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

test_expect_success 'server -n checks the configuration and says so' '
	mkdir -p conf &&
	printf "listen: 127.0.0.1:0\nrunner:\n  slots: 3\nlimits:\n  log_size: 2MiB\n" >conf/good.yml &&
	cidre server -n --config conf/good.yml >out 2>&1 &&
	expect_grep "configuration OK" out &&
	printf "runner:\n  slots: many\nbogus: 1\n" >conf/bad.yml &&
	expect_exit 1 cidre server -n --config conf/bad.yml >out 2>&1 &&
	expect_grep "bad.yml:2:10: error: runner.slots: must be a whole number" out &&
	expect_grep "bad.yml:3:1: error: unknown setting bogus" out &&
	printf "limits:\n  connections_per_client: 0\n" >conf/bad2.yml &&
	expect_exit 1 cidre server -n --config conf/bad2.yml >out 2>&1 &&
	expect_grep "limits.connections_per_client" out
'

test_expect_success 'first start creates the data directory and a 0600 admin token' '
	start_server data &&
	test -f data/cidre.db && test -d data/repos && test -d data/logs &&
	test "$(stat -c %a data/admin-token)" = 600 &&
	expect_grep "admin API token in .*admin-token" data.log &&
	curl -sS "$URL/api/v1/version" | jq -e ".version" >/dev/null
'

test_expect_success 'a second server on the same data directory is refused' '
	expect_exit 1 cidre server --data data --listen 127.0.0.1:0 >out 2>&1 &&
	expect_grep "another server uses" out
'

cat >pipeline.yml <<'YML'
stages: [build, test]
build:
  stage: build
  script:
    - echo "building $CI_COMMIT_SHORT_SHA from $CI_PIPELINE_SOURCE"
    - mkdir -p out && printf "bin\n" >out/app && chmod +x out/app
  artifacts:
    paths: [out/]
test:
  stage: test
  script:
    - test -x out/app
    - printf "%s\n" "<testsuite name=\"s\"><testcase classname=\"c\" name=\"ok\"/><testcase classname=\"c\" name=\"bad\"><failure message=\"boom\">x</failure></testcase></testsuite>" >report.xml
  artifacts:
    reports:
      junit: report.xml
YML

test_expect_success 'a project and a triggered pipeline run to the end' '
	bare_repo app <pipeline.yml &&
	add_project app "$SCRATCH/app.git" &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"main\",\"variables\":{\"GREETING\":\"hi\"}}" >p.json &&
	expect_status 201 &&
	id=$(jq -r .id p.json) &&
	wait_pipeline "$id" >done.json &&
	jq -e ".status == \"success\" and .source == \"api\" and (.jobs | length) == 2" done.json &&
	jq -e ".jobs[0].name == \"build\" and .jobs[0].status == \"success\" and .jobs[0].exit_code == 0" done.json &&
	jq -e ".jobs[1].tests == {\"total\":2,\"failed\":1,\"skipped\":0,\"errors\":0}" done.json &&
	jq -e ".variables.GREETING == \"hi\"" done.json
'

test_expect_success 'logs, test cases and artifacts are served' '
	id=$(jq -r ".jobs[0].id" done.json) &&
	api GET "/api/v1/jobs/$id/log" >log &&
	expect_grep "building [0-9a-f]{8} from api" log &&
	api GET "/api/v1/jobs/$id/artifacts" >arts.json &&
	jq -e ".[0].path == \"out/app\" and .[0].mode == 493 and .[0].size == 4" arts.json &&
	api GET "/api/v1/jobs/$id/artifacts/out/app" >app.bin && test "$(cat app.bin)" = bin &&
	tid=$(jq -r ".jobs[1].id" done.json) &&
	api GET "/api/v1/jobs/$tid/tests" >tests.json &&
	jq -e "length == 2 and .[1].status == \"failed\" and (.[1].message | startswith(\"boom\"))" tests.json &&
	api GET "/api/v1/pipelines/$(jq -r .id done.json)/tests" >sum.json &&
	jq -e ".total == 2 and .failed == 1 and .failed_cases[0].name == \"bad\"" sum.json &&
	# all in the store now: the result file of the slot is wiped in place
	# (zero bytes, its length kept: no block freed), and no file per job
	# is made
	! slot_result_of "$tid" &&
	for f in data/work/slot-*.result.json; do
		test -s "$f" && test -z "$(tr -d "\000" <"$f")" || return 1
	done &&
	! test -e "data/results/$tid.json" &&
	! test -e "data/results/$tid.json.tmp"
'

test_expect_success 'a ranged log read returns 206 and the bytes asked for' '
	id=$(jq -r ".jobs[0].id" done.json) &&
	curl -sS -H "Range: bytes=0-6" -o part -w "%{http_code}" "$URL/api/v1/jobs/$id/log" >code &&
	test "$(cat code)" = 206 && test "$(cat part)" = "Running"
'

test_expect_success 'listings filter and page' '
	api POST /api/v1/projects/app/pipelines "{}" >/dev/null && expect_status 201 &&
	api GET "/api/v1/pipelines?per_page=1" >l1.json &&
	jq -e "length == 1" l1.json &&
	curl -sS -D hdr -o /dev/null "$URL/api/v1/pipelines?per_page=1" &&
	expect_grep "X-Next-Page: 2" hdr &&
	api GET "/api/v1/projects/app/pipelines?status=success&source=api" >l2.json &&
	jq -e "length >= 1 and all(.status == \"success\")" l2.json
'

test_expect_success 'listings carry GitLab paging headers and a total' '
	curl -sS -D hdr -o /dev/null "$URL/api/v1/pipelines?per_page=1&page=2" &&
	tr -d "\r" <hdr >h &&
	grep -x "X-Page: 2" h && grep -x "X-Per-Page: 1" h && grep -x "X-Prev-Page: 1" h &&
	grep -x "X-Total: 2" h && grep -x "X-Total-Pages: 2" h &&
	! grep -i "^X-Next-Page" h &&
	curl -sS -D hdr -o /dev/null "$URL/api/v1/pipelines?per_page=100" &&
	tr -d "\r" <hdr >h &&
	grep -x "X-Total: 2" h && grep -x "X-Total-Pages: 1" h && ! grep -i "^X-Prev-Page" h &&
	first=$(jq -r ".[0].id" l1.json) &&
	curl -sS -D hdr -o /dev/null "$URL/api/v1/pipelines?per_page=1&before=$first" &&
	tr -d "\r" <hdr >h &&
	! grep -i "^X-Total" h && ! grep -i "^X-Page" h
'

test_expect_success 'listings filter by a commit, whole or a prefix' '
	sha=$(jq -r ".[0].sha" l1.json) &&
	api GET "/api/v1/pipelines?sha=$sha" >s1.json &&
	jq -e --arg s "$sha" "length == 2 and all(.sha == \$s)" s1.json &&
	short=$(printf %s "$sha" | cut -c1-7 | tr a-f A-F) &&
	api GET "/api/v1/projects/app/pipelines?sha=$short&status=success" >s2.json &&
	jq -e --arg s "$sha" "length >= 1 and all(.sha == \$s and .status == \"success\")" s2.json &&
	other=$(printf %s "$sha" | cut -c1-6 | tr 0-9a-f 1-9a-f0) &&
	curl -sS -D hdr -o s3.json "$URL/api/v1/pipelines?sha=$other" &&
	jq -e "length == 0" s3.json && tr -d "\r" <hdr | grep -x "X-Total: 0" &&
	api GET "/api/v1/pipelines?sha=abc" >body; expect_status 400 &&
	jq -e ".error | test(\"sha must be\")" body &&
	api GET "/api/v1/pipelines?sha=$sha,x" >body; expect_status 400
'

test_expect_success 'state changes need a token; bad requests get clear 4xx JSON' '
	curl -sS -o body -w "%{http_code}" -X POST -d "{}" "$URL/api/v1/projects/app/pipelines" >code &&
	test "$(cat code)" = 401 && jq -e ".status == 401" body &&
	api POST /api/v1/projects/app/pipelines "{\"ref\": " >body; expect_status 400 &&
	jq -e ".error | test(\"malformed JSON\")" body &&
	api POST /api/v1/projects/app/pipelines "[1]" >body; expect_status 400 &&
	api GET /api/v1/nothing-here >body; expect_status 404 &&
	api DELETE /api/v1/pipelines/1 >body; expect_status 405 &&
	api GET /api/v1/pipelines/999999 >body; expect_status 404 &&
	api GET /api/v1/jobs/abc >body; expect_status 400 &&
	api POST /api/v1/projects/nope/pipelines "{}" >body; expect_status 404 &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"no-such-branch\"}" >body; expect_status 404 &&
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"1BAD\":\"x\"}}" >body; expect_status 400
'

test_expect_success 'nothing was recorded for the refused requests' '
	api GET "/api/v1/pipelines?per_page=100" >all.json &&
	jq -e "length == 2" all.json
'

test_expect_success 'a request body over limits.request_body gets 413' '
	head -c 1100000 /dev/zero | tr "\0" a >big &&
	curl -sS -o body -w "%{http_code}" -H "Authorization: Bearer $TOKEN" \
		--data-binary @big "$URL/api/v1/projects/app/pipelines" >code &&
	test "$(cat code)" = 413
'

test_expect_success 'a broken pipeline file records a failed pipeline that says where' '
	printf "build:\n  scirpt: [true]\n" >app/.gitlab-ci.yml &&
	(cd app && git commit -qam broken && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{}" >p.json && expect_status 201 &&
	jq -e ".status == \"failed\"" p.json &&
	jq -e ".error | test(\".gitlab-ci.yml:2:3: error: unknown keyword .scirpt.\")" p.json
'

test_expect_success '/metrics speaks Prometheus text' '
	curl -sS "$URL/metrics" >m &&
	expect_grep "^cidre_jobs\\{status=\"success\"\\} [0-9]+" m &&
	expect_grep "^cidre_queue_length 0" m &&
	expect_grep "^cidre_job_duration_seconds_count [1-9]" m
'

test_expect_success 'cidre project add --branch, repeated: only those branches build' '
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre project add two --repo "$SCRATCH/app.git" \
		--branch main --branch "release/*" >out &&
	api GET /api/v1/projects/two | jq -e ".branches == \"main,release/*\""
'

test_expect_success 'a live log followed at any moment of its job ends with the job' '
	{ echo "stages: [t]"; for i in $(seq 1 30); do printf "j%d:\n  stage: t\n  script: [echo %d]\n" $i $i; done; } >app/.gitlab-ci.yml &&
	(cd app && git commit -qam thirty && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{}" >p30.json && expect_status 201 &&
	for j in $(jq -r ".jobs[].id" p30.json); do
		curl -sS -N --max-time 20 "$URL/api/v1/jobs/$j/log/stream" >"s$j" || return 1
		grep -q "^event: end" "s$j" || { echo "job $j: no end event"; return 1; }
	done
'

# the watches of the server's inotify descriptor (one per watched directory)
log_watches() {
	refresh &&
	cat /proc/"$SERVER_PID"/fdinfo/* 2>/dev/null | grep -c "^inotify wd:"
}

log_has() { api GET "/api/v1/jobs/$1/log" | grep -q "$2"; }

test_expect_success 'the logs are watched only while a running job is followed' '
	printf "slow:\n  script:\n    - echo one\n    - sleep 1\n    - echo two\n    - sleep 1\n    - echo three\n" >app/.gitlab-ci.yml &&
	(cd app && git commit -qam slow && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{}" >ps.json && expect_status 201 &&
	j=$(jq -r ".jobs[0].id" ps.json) &&
	wait_for 20 log_has "$j" one &&
	test "$(log_watches)" = 0 &&
	{ curl -sS -N --max-time 20 "$URL/api/v1/jobs/$j/log/stream" >slow.s & follower=$!; } &&
	wait_for 20 grep -q "one" slow.s &&
	test "$(log_watches)" = 1 &&
	! grep -q "three" slow.s &&
	wait "$follower" &&
	grep -q "^event: end" slow.s &&
	grep "^data:.*text" slow.s | tr -d "\n" | grep -q "one.*two.*three" &&
	test "$(log_watches)" = 0
'

test_expect_success 'when a live log ends, its pipeline already shows what followed the job' '
	# the status of the job, the decisions it allowed and the status of
	# the pipeline are recorded before a follower gets its end event
	printf "stages: [a, b]\nfirst:\n  stage: a\n  script: [echo first]\nlast:\n  stage: b\n  script: [echo last]\n" >app/.gitlab-ci.yml &&
	(cd app && git commit -qam two-stages && git push -q origin HEAD:main) &&
	for k in 1 2 3; do
		api POST /api/v1/projects/app/pipelines "{}" >pe.json && expect_status 201 &&
		pid=$(jq -r .id pe.json) &&
		first=$(jq -r ".jobs[] | select(.name == \"first\") | .id" pe.json) &&
		last=$(jq -r ".jobs[] | select(.name == \"last\") | .id" pe.json) &&
		curl -sS -N --max-time 20 "$URL/api/v1/jobs/$first/log/stream" >se1 &&
		grep -q "^event: end" se1 &&
		curl -sS "$URL/api/v1/pipelines/$pid" >pf.json &&
		jq -e ".jobs[] | select(.name == \"last\") | .status != \"created\"" pf.json &&
		jq -e ".status != \"created\" and .status != \"pending\"" pf.json &&
		curl -sS -N --max-time 20 "$URL/api/v1/jobs/$last/log/stream" >se2 &&
		grep -q "^event: end" se2 &&
		curl -sS "$URL/api/v1/pipelines/$pid" | jq -e ".status == \"success\"" || return 1
	done
'

test_expect_success 'a new API token is shown once and works; a made-up one does not' '
	api POST /api/v1/tokens "{\"name\":\"ci bot\"}" >t.json && expect_status 201 &&
	tok=$(jq -r .token t.json) && test -n "$tok" &&
	! sqlite3 data/cidre.db "select hash from tokens" | grep -q "$tok" &&
	curl -sS -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $tok" -X POST \
		--data-binary "{}" "$URL/api/v1/projects/app/pipelines" >code &&
	test "$(cat code)" = 201 &&
	curl -sS -o /dev/null -w "%{http_code}" -H "PRIVATE-TOKEN: ${tok}x" -X POST \
		--data-binary "{}" "$URL/api/v1/projects/app/pipelines" >code &&
	test "$(cat code)" = 401 &&
	api POST /api/v1/tokens "{}" >/dev/null; expect_status 400 &&
	curl -sS -o /dev/null -w "%{http_code}" -X POST --data-binary "{\"name\":\"x\"}" \
		"$URL/api/v1/tokens" >code && test "$(cat code)" = 401
'

test_expect_success 'another process reading the database leaves the server its WAL' '
	# the store once closed a descriptor of cidre.db at every new
	# connection, which dropped the server locks: the sqlite3 shell
	# then took the WAL for its own and deleted it under the server
	api POST /api/v1/projects/app/pipelines "{}" >p1.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p1.json)" >/dev/null &&
	sqlite3 data/cidre.db "select count(*) from pipelines" >/dev/null &&
	test -e data/cidre.db-wal &&
	! ls -l /proc/$SERVER_PID/fd | grep -q "cidre.db.*(deleted)" &&
	api POST /api/v1/projects/app/pipelines "{}" >p2.json && expect_status 201 &&
	id=$(jq -r .id p2.json) && wait_pipeline "$id" >/dev/null &&
	test "$(sqlite3 data/cidre.db "select count(*) from pipelines where id = $id")" = 1 &&
	! grep -E "disk I/O error|not a database" data.log
'

test_expect_success 'a trigger without a sha builds the head the source has now' '
	# the mirror is read in-process when it has the head already (no
	# fetch), and fetched when it lacks it: both must build what the
	# source repository says, loose or packed refs, moved back or ahead
	old=$(git -C app rev-parse HEAD) &&
	(cd app && echo one >f && git add f && git commit -qm ahead && git push -q origin HEAD:main) &&
	new=$(git -C app rev-parse HEAD) &&
	api POST /api/v1/projects/app/pipelines "{}" >a.json && expect_status 201 &&
	jq -e ".sha == \"$new\"" a.json &&
	git --git-dir=app.git update-ref refs/heads/main "$old" &&
	api POST /api/v1/projects/app/pipelines "{}" >b.json && expect_status 201 &&
	jq -e ".sha == \"$old\"" b.json &&
	git --git-dir=app.git pack-refs --all && test ! -e app.git/refs/heads/main &&
	api POST /api/v1/projects/app/pipelines "{}" >c.json && expect_status 201 &&
	jq -e ".sha == \"$old\"" c.json &&
	git --git-dir=app.git update-ref refs/heads/main "$new" &&
	api POST /api/v1/projects/app/pipelines "{}" >d.json && expect_status 201 &&
	jq -e ".sha == \"$new\"" d.json &&
	(cd app && echo two >f && git commit -qam again && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{}" >e.json && expect_status 201 &&
	jq -e ".sha == \"$(git -C app rev-parse HEAD)\"" e.json &&
	git --git-dir=app.git update-ref -d refs/heads/main &&
	api POST /api/v1/projects/app/pipelines "{}" >body; expect_status 404 &&
	git --git-dir=app.git update-ref refs/heads/main "$new" &&
	for f in a b c d e; do wait_pipeline "$(jq -r .id $f.json)" >/dev/null || return 1; done
'

test_expect_success 'SIGTERM stops the server and removes server-url' '
	stop_server &&
	test ! -e data/server-url
'

test_done
