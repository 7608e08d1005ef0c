#!/bin/sh
# The command-line client against a real server: trigger (variables,
# --wait, exit codes), status --wait, retry, cancel, play, artifacts list/get, and the
# corner cases of hook install and hook run.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

start_server data || { echo "Bail out! the server does not start"; exit 1; }
unset CIDRE_CONFIG XDG_CONFIG_HOME
export CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN

cat >pipeline.yml <<'YML'
stages: [build, test, deploy]
build:
  stage: build
  script:
    - echo "greeting is $GREETING"
    - mkdir -p out/sub
    - printf "data\n" >out/a.txt
    - printf "#!/bin/sh\necho tool\n" >out/sub/tool && chmod 755 out/sub/tool
  artifacts:
    paths: [out/]
test:
  stage: test
  script:
    - test "$MUST_PASS" = yes
deploy:
  stage: deploy
  when: manual
  script: echo "deploying"
YML

test_expect_success 'set-up: a project with a pipeline file' '
	bare_repo app <pipeline.yml &&
	cidre project add app --repo app.git >/dev/null
'

test_expect_success 'trigger prints the pipeline id and URL; -v sets variables' '
	cidre trigger app main -v GREETING=hello -v "MUST_PASS=yes" >out &&
	expect_grep "^pipeline [0-9]+ \(app main [0-9a-f]{8}\): $URL/api/v1/pipelines/[0-9]+$" out &&
	id=$(sed -n "s/^pipeline \([0-9]*\) .*/\1/p" out) &&
	wait_pipeline "$id" >done.json &&
	jq -e ".source == \"api\" and .variables.GREETING == \"hello\"" done.json &&
	build=$(jq -r ".jobs[] | select(.name == \"build\") | .id" done.json) &&
	cidre log "$build" >log.out &&
	expect_grep "^greeting is hello$" log.out
'

test_expect_success 'trigger --wait: exit 0 when the pipeline passes, job changes on stderr' '
	cidre trigger app -v MUST_PASS=yes --wait >out 2>err &&
	expect_grep "^job [0-9]+ build: (pending|running|success)" err &&
	expect_grep "^job [0-9]+ test: success$" err &&
	expect_grep "^pipeline [0-9]+  app  main  [0-9a-f]{8}  api  success" out &&
	expect_grep "^ *[0-9]+ +deploy +deploy +manual" out
'

test_expect_success 'trigger --wait: exit 1 when it fails; -q prints only the id' '
	expect_exit 1 cidre trigger app --wait -q >out 2>err &&
	test "$(wc -l <out)" = 1 &&
	expect_grep "^[0-9]+$" out &&
	expect_grep "^job [0-9]+ test: failed$" err
'

test_expect_success 'status --wait follows a pipeline it did not start, to its end' '
	id=$(cidre trigger app -v MUST_PASS=yes -q) &&
	cidre status "$id" --wait >out 2>err &&
	expect_grep "^job [0-9]+ test: success$" err &&
	expect_grep "^pipeline $id  app  main  [0-9a-f]{8}  api  success  in " out &&
	expect_grep "^ *[0-9]+ +test +test +success " out &&
	id=$(cidre trigger app -q) &&
	expect_exit 1 cidre status -p "$id" -w >out 2>err &&
	expect_grep "^pipeline $id  app  main  [0-9a-f]{8}  api  failed  in " out &&
	expect_exit 1 cidre status "$id" --wait --json >out.json 2>err &&
	jq -e ".id == $id and .status == \"failed\" and (.jobs | length) == 3" out.json
'

test_expect_success 'status --wait with filters takes the newest that matches' '
	sha=$(git --git-dir=app.git rev-parse main) &&
	id=$(cidre trigger app -v MUST_PASS=yes -q) &&
	cidre status app --sha "$sha" --wait >out 2>err &&
	expect_grep "^pipeline $id$" err &&
	expect_grep "^pipeline $id  app  main  [0-9a-f]{8}  api  success" out &&
	expect_exit 1 cidre status app --ref no-such-branch --wait 2>err &&
	expect_grep "^cidre: no pipeline matches$" err &&
	expect_exit 2 cidre status app --status failed --wait 2>err &&
	expect_grep "status: --wait follows a pipeline to its end: --status does not go with it" err
'

test_expect_success 'trigger --json prints the server object' '
	cidre trigger app --json >p.json &&
	jq -e ".id > 0 and .project == \"app\" and .ref == \"main\"" p.json &&
	wait_pipeline "$(jq -r .id p.json)" >/dev/null
'

test_expect_success 'trigger refusals: no such project or ref (exit 1), no token (exit 1)' '
	expect_exit 1 cidre trigger nope 2>err &&
	expect_grep "^cidre: " err &&
	expect_exit 1 cidre trigger app no-such-branch 2>err &&
	expect_grep "^cidre: " err &&
	expect_exit 1 env -u CIDRE_TOKEN "$CIDRE_BIN" trigger app 2>err &&
	expect_grep "no token: use --token" err &&
	expect_exit 2 cidre trigger 2>err &&
	expect_grep "wants a project name" err &&
	expect_exit 2 cidre trigger app -v novalue 2>err
'

test_expect_success 'retry a failed job: a new attempt with a new id' '
	id=$(cidre trigger app -q) &&
	wait_pipeline "$id" >done.json &&
	test=$(jq -r ".jobs[] | select(.name == \"test\") | .id" done.json) &&
	cidre retry "$test" >out &&
	expect_grep "^job [0-9]+ \(test, attempt 2\) retries job $test: " out &&
	new=$(sed -n "s/^job \([0-9]*\) .*/\1/p" out) &&
	test "$new" != "$test" &&
	wait_for 30 job_status_is "$new" failed &&
	curl -sS "$URL/api/v1/jobs/$test" | jq -e ".retried == true"
'

test_expect_success 'retry -p retries the failed jobs of a pipeline' '
	id=$(cidre trigger app -q) &&
	wait_pipeline "$id" >/dev/null &&
	cidre retry -p "$id" >out &&
	expect_grep "^pipeline $id: retry requested$" out &&
	curl -sS "$URL/api/v1/pipelines/$id/jobs?all=1" >all.json &&
	jq -e "[.[] | select(.name == \"test\")] | length == 2" all.json
'

test_expect_success 'play starts a manual job; playing another job is refused' '
	id=$(cidre trigger app -v MUST_PASS=yes -q) &&
	wait_pipeline "$id" >done.json &&
	deploy=$(jq -r ".jobs[] | select(.name == \"deploy\") | .id" done.json) &&
	test "$(jq -r ".jobs[] | select(.name == \"deploy\") | .status" done.json)" = manual &&
	cidre play "$deploy" >out &&
	expect_grep "^job $deploy \(deploy\) is " out &&
	wait_for 30 job_status_is "$deploy" success &&
	expect_exit 0 cidre log -f "$deploy" >log.out &&
	expect_grep "^deploying$" log.out &&
	build=$(jq -r ".jobs[] | select(.name == \"build\") | .id" done.json) &&
	expect_exit 1 cidre play "$build" 2>err &&
	expect_grep "^cidre: " err &&
	expect_exit 2 cidre play -p "$id" 2>err
'

cat >later.yml <<'YML'
stages: [build, deploy]
build:
  stage: build
  script: [echo built]
deploy:
  stage: deploy
  when: manual
  script: [sleep 1, echo deployed]
YML

# union_ms PIPELINE_JSON: the union of its jobs' runs (started..finished),
# in ms, as GitLab counts a pipeline's duration
union_ms() {
	python3 - "$1" <<-\PY
	import json, sys
	from datetime import datetime
	t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000
	runs = sorted((t(j["started_at"]), t(j["finished_at"])) for j in json.load(open(sys.argv[1]))["jobs"]
	              if j["started_at"] and j["finished_at"])
	total, end = 0, None
	for b, e in runs:
	    if end is None or b > end:
	        total += e - b
	        end = e
	    elif e > end:
	        total += e - end
	        end = e
	print(round(total))
	PY
}

test_expect_success 'a pipeline lasts as long as its jobs ran: not the wait for a manual job' '
	bare_repo later <later.yml &&
	cidre project add later --repo later.git >/dev/null &&
	id=$(cidre trigger later -q) &&
	wait_pipeline "$id" >p1.json &&
	jq -e ".status == \"success\" and .duration >= 0 and .duration < 1 and
		.queued_duration >= 0 and (.jobs[] | select(.name == \"build\") |
		.queued_duration >= 0)" p1.json &&
	deploy=$(jq -r ".jobs[] | select(.name == \"deploy\") | .id" p1.json) &&
	sleep 2 &&
	cidre play "$deploy" >/dev/null &&
	wait_for 30 job_status_is "$deploy" running &&
	api GET "/api/v1/pipelines/$id" >p2.json &&
	jq -e ".status == \"running\" and .finished_at == null and .duration == null" p2.json &&
	jq -e ".jobs[] | select(.name == \"deploy\") | .finished_at == null and
		.duration >= 0 and .duration < 2" p2.json &&
	d1=$(jq ".jobs[] | select(.name == \"deploy\") | .duration * 1000 | round" p2.json) &&
	cidre status "$id" >st-running.out &&
	sleep 0.2 &&
	api GET "/api/v1/jobs/$deploy" >j2.json &&
	jq -e ".status == \"success\" or (.duration * 1000 | round) >= $d1 + 150" j2.json &&
	expect_grep "^ *$deploy +deploy +deploy +(running|success) +[0-9]+\.[0-9]{2}s " st-running.out &&
	expect_grep "^pipeline $id  later  main  [0-9a-f]{8}  api  (running  [0-9]\.[0-9]{2}s so far|success  in 1\.[0-9]{2}s)  created " st-running.out &&
	wait_for 30 job_status_is "$deploy" success &&
	wait_pipeline "$id" >p3.json &&
	jq -e ".status == \"success\" and .duration >= 1 and .duration < 2" p3.json &&
	created=$(date -d "$(jq -r .created_at p3.json)" +%s) &&
	finished=$(date -d "$(jq -r .finished_at p3.json)" +%s) &&
	test $((finished - created)) -ge 3 &&
	ms=$(jq ".duration * 1000 | round" p3.json) &&
	union=$(union_ms p3.json) &&
	test $((ms - union)) -le 2 && test $((union - ms)) -le 2 &&
	cidre status "$id" >st.out &&
	expect_grep "^pipeline $id  later  main  [0-9a-f]{8}  api  success  in 1\.[0-9]{2}s  " st.out
'

cat >slow.yml <<'YML'
wait:
  script:
    - echo started
    - sleep 600
after:
  stage: deploy
  script: echo never
YML

test_expect_success 'cancel a running job: log -f ends with exit 1' '
	bare_repo slow <slow.yml &&
	cidre project add slow --repo slow.git >/dev/null &&
	id=$(cidre trigger slow -q) &&
	job=$(cidre status "$id" --json | jq -r ".jobs[] | select(.name == \"wait\") | .id") &&
	{ cidre log -f "$job" >follow.out 2>follow.err & follower=$!; } &&
	wait_for 30 grep -q "^started" follow.out &&
	cidre cancel "$job" >out &&
	expect_grep "^job $job " out &&
	{ wait "$follower"; test $? = 1; } &&
	expect_grep "^cidre: job $job canceled$" follow.err &&
	wait_for 30 job_status_is "$job" canceled
'

test_expect_success 'cancel -p cancels a whole pipeline' '
	id=$(cidre trigger slow -q) &&
	job=$(cidre status "$id" --json | jq -r ".jobs[] | select(.name == \"wait\") | .id") &&
	wait_for 30 job_status_is "$job" running &&
	cidre cancel -p "$id" >out &&
	expect_grep "^pipeline $id: cancel requested$" out &&
	wait_pipeline "$id" >done.json &&
	jq -e ".status == \"canceled\"" done.json
'

test_expect_success 'artifacts list: path, size, SHA-256; --json is the server list' '
	id=$(cidre trigger app -v MUST_PASS=yes -q) &&
	wait_pipeline "$id" >done.json &&
	build=$(jq -r ".jobs[] | select(.name == \"build\") | .id" done.json) &&
	echo "$build" >build.id &&
	cidre artifacts list "$build" >out &&
	expect_grep "^PATH +SIZE +SHA256$" out &&
	expect_grep "^out/a.txt +5 +[0-9a-f]{12}$" out &&
	cidre artifacts list "$build" --json | jq -e "map(.path) | sort == [\"out/a.txt\", \"out/sub/tool\"]"
'

test_expect_success 'artifacts get: every file, with contents and modes' '
	build=$(cat build.id) &&
	cidre artifacts get "$build" -o got >out &&
	expect_grep "^job $build: 2 files \(.*\) written to got$" out &&
	test "$(cat got/out/a.txt)" = data &&
	test -x got/out/sub/tool && test ! -x got/out/a.txt &&
	test "$(got/out/sub/tool)" = tool &&
	ls got/out got/out/sub | grep -v -q cidre-
'

test_expect_success 'artifacts get: only the named files or directories' '
	build=$(cat build.id) &&
	cidre artifacts get "$build" out/sub/ -o one >/dev/null &&
	test -x one/out/sub/tool && test ! -e one/out/a.txt &&
	(mkdir -p here && cd here && cidre artifacts get "$build" out/a.txt >/dev/null) &&
	test "$(cat here/out/a.txt)" = data
'

test_expect_success 'artifacts get refuses unsafe paths and reports missing ones' '
	build=$(cat build.id) &&
	expect_exit 2 cidre artifacts get "$build" ../x -o bad 2>err &&
	expect_grep "refusing the path .\.\./x." err &&
	expect_exit 2 cidre artifacts get "$build" /etc/passwd 2>err &&
	expect_exit 1 cidre artifacts get "$build" nothere -o bad 2>err &&
	expect_grep "^cidre: job $build has no artifact .nothere.$" err
'

test_expect_success 'artifacts get does not follow a symbolic link on the way' '
	build=$(cat build.id) &&
	mkdir -p trap elsewhere && ln -s "$SCRATCH/elsewhere" trap/out &&
	expect_exit 1 cidre artifacts get "$build" -o trap 2>err &&
	expect_grep "trap/out is in the way" err &&
	test -z "$(ls elsewhere)"
'

test_expect_success 'artifacts of the latest successful job of a ref: --project, --job, --ref' '
	build=$(cat build.id) &&
	cidre artifacts list --project app --job build --json |
		jq -e "map(.path) | sort == [\"out/a.txt\", \"out/sub/tool\"]" &&
	cidre artifacts get -p app -j build -r main -o latest >out &&
	expect_grep "^job $build: 2 files" out &&
	test "$(cat latest/out/a.txt)" = data &&
	curl -sS -H "Authorization: Bearer $TOKEN" \
		"$URL/api/v1/projects/app/artifacts/out/a.txt?job=build&ref=main" >raw &&
	test "$(cat raw)" = data &&
	curl -sS -H "Authorization: Bearer $TOKEN" "$URL/api/v1/projects/app/artifacts?job=build" |
		jq -e ".job.id == $build and .job.name == \"build\" and (.artifacts | length) == 2"
'

test_expect_success 'a failed pipeline is passed over; a newer successful one is taken' '
	build=$(cat build.id) &&
	failed=$(cidre trigger app -q) &&
	wait_pipeline "$failed" | jq -e ".status == \"failed\"" &&
	cidre artifacts get -p app -j build -o again >out &&
	expect_grep "^job $build: " out &&
	id=$(cidre trigger app -v MUST_PASS=yes -q) &&
	wait_pipeline "$id" >done2.json &&
	newer=$(jq -r ".jobs[] | select(.name == \"build\") | .id" done2.json) &&
	cidre artifacts get -p app -j build -o again >out &&
	expect_grep "^job $newer: " out
'

test_expect_success 'latest artifacts: no such job, ref or project; usage' '
	expect_exit 1 cidre artifacts get -p app -j nope 2>err &&
	expect_grep "no successful job nope in pipeline [0-9]+, the latest successful one of main" err &&
	expect_exit 1 cidre artifacts list -p app -j build -r gone 2>err &&
	expect_grep "project app has no successful pipeline on gone" err &&
	expect_exit 1 cidre artifacts list -p nothere -j build 2>err &&
	expect_grep "project nothere not found" err &&
	expect_exit 2 cidre artifacts list --job build 2>err &&
	expect_grep "project and --job go together" err &&
	code=$(curl -sS -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $TOKEN" \
		"$URL/api/v1/projects/app/artifacts") &&
	test "$code" = 400
'

test_expect_success 'hook install: a work tree or its .git, --project, refusals' '
	git init -q wt &&
	cidre project add wt --repo wt >/dev/null &&
	cidre hook install wt/.git >out &&
	test -x wt/.git/hooks/post-receive &&
	cidre hook install wt >out &&
	expect_grep "project wt" out &&
	expect_exit 2 cidre hook install "$SCRATCH" 2>err &&
	expect_grep "is not a git repository" err &&
	git init -q --bare other.git &&
	expect_exit 1 cidre hook install other.git 2>err &&
	expect_grep "no project of .* has $SCRATCH/other.git" err &&
	cidre hook install other.git --project app >out &&
	expect_grep "project app" out
'

test_expect_success 'hook install leaves a foreign post-receive alone unless --force' '
	git init -q --bare mine.git &&
	printf "#!/bin/sh\necho mine\n" >mine.git/hooks/post-receive &&
	expect_exit 1 cidre hook install mine.git --project app 2>err &&
	expect_grep "exists and cidre did not write it" err &&
	expect_grep "^echo mine$" mine.git/hooks/post-receive &&
	cidre hook install mine.git --project app --force >/dev/null &&
	expect_grep "written by cidre hook install" mine.git/hooks/post-receive &&
	cidre hook install mine.git --project app >/dev/null
'

test_expect_success 'hook run never fails a push: wrong secret, unreachable server, bad input' '
	z=0000000000000000000000000000000000000000 &&
	echo "$z 1111111111111111111111111111111111111111 refs/heads/main" >refs &&
	cidre hook run --server "$URL" --project app --token wrong <refs >out 2>&1 &&
	expect_grep "^cidre: no pipeline started: " out &&
	cidre hook run --server http://127.0.0.1:1 --project app --token x <refs >out 2>&1 &&
	expect_grep "^cidre: no pipeline started: cannot reach the server at http://127.0.0.1:1" out &&
	echo "not a ref line" | cidre hook run --server "$URL" --project app --token x >out 2>&1 &&
	expect_grep "is not .OLD NEW REF." out &&
	cidre hook run </dev/null >out 2>&1 &&
	expect_grep "hook run wants --server URL --project NAME --token SECRET" out
'

test_expect_success 'a push through the installed hook starts a pipeline' '
	cidre hook install app.git >/dev/null &&
	(cd app && echo 2 >f && git add f && git commit -q -m two && git push origin HEAD:main) >out 2>&1 &&
	expect_grep "^remote: cidre: pipeline [0-9]+ for (refs/heads/)?main: $URL/api/v1/pipelines/[0-9]+" out &&
	id=$(sed -n "s|.*/api/v1/pipelines/\([0-9]*\).*|\1|p" out | head -n 1) &&
	wait_pipeline "$id" | jq -e ".source == \"push\""
'

test_done
