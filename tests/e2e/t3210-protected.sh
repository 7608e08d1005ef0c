#!/bin/sh
# cidre server: protected branches and protected variables. A protected
# variable reaches only the jobs of pipelines made on a protected branch
# (the repository's default branch unless the project says otherwise),
# whose jobs also see CI_COMMIT_REF_PROTECTED=true; the job spec of any
# other pipeline never holds it.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

cat >pipeline.yml <<'YML'
job:
  script:
    - echo "deploy=${DEPLOY_KEY:-none} plain=${PLAIN:-none} protected=$CI_COMMIT_REF_PROTECTED"
    # the supervisor's spec (the slot's file) while the job runs; the
    # value is spelled so that this file (kept in the spec and the
    # database as the job's definition) does not hold it
    - if grep -q "deploy-key-$(echo value)" "$SPEC_DIR"/slot-*.spec.json; then echo "spec holds it"; fi
YML

# on REF: a pipeline on REF; its job's log line in line, its JSON in p.json
on() {
	api POST /api/v1/projects/app/pipelines \
		"{\"ref\":\"$1\",\"variables\":{\"SPEC_DIR\":\"$SCRATCH/data/work\"}}" >p.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >done.json &&
	jq -e ".status == \"success\"" done.json >/dev/null &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" done.json)/log" >log &&
	line=$(grep "^deploy=" log) &&
	echo "$line"
}

test_expect_success 'a project with a protected and a plain variable' '
	mkdir -p data && start_server data &&
	bare_repo app <pipeline.yml &&
	git -C app.git symbolic-ref HEAD refs/heads/main &&
	(cd app && git push -q origin HEAD:feature/one HEAD:release/1.0) &&
	add_project app "$SCRATCH/app.git" &&
	api PUT /api/v1/projects/app/variables/DEPLOY_KEY \
		"{\"value\":\"deploy-key-value\",\"protected\":true}" >v.json &&
	expect_status 201 && jq -e ".protected == true and .masked == false" v.json &&
	api PUT /api/v1/projects/app/variables/PLAIN "{\"value\":\"plain-value\"}" >v.json &&
	expect_status 201 && jq -e ".protected == false" v.json &&
	api GET /api/v1/projects/app/variables >l.json &&
	jq -e "map({(.key): .protected}) | add == {\"DEPLOY_KEY\": true, \"PLAIN\": false}" l.json &&
	api GET /api/v1/projects/app >proj.json &&
	jq -e ".protected_branches == null" proj.json
'

test_expect_success 'by default the default branch alone is protected' '
	on main >got && grep -qx "deploy=deploy-key-value plain=plain-value protected=true" got &&
	grep -q "^spec holds it" log &&
	jq -e ".protected == true" done.json &&
	on feature/one >got && grep -qx "deploy=none plain=plain-value protected=false" got &&
	! grep -q "^spec holds it" log &&
	jq -e ".protected == false" done.json
'

test_expect_success 'a maintainer sets the protected branches; new pipelines follow' '
	api PATCH /api/v1/projects/app "{\"protected_branches\":[\"release/*\",\"feature/one\"]}" \
		>proj.json && expect_status 200 &&
	jq -e ".protected_branches == [\"release/*\", \"feature/one\"]" proj.json &&
	on release/1.0 >got && grep -qx "deploy=deploy-key-value plain=plain-value protected=true" got &&
	on feature/one >got && grep -qx "deploy=deploy-key-value plain=plain-value protected=true" got &&
	on main >got && grep -qx "deploy=none plain=plain-value protected=false" got &&
	! grep -q "^spec holds it" log
'

test_expect_success 'a retried job of an unprotected pipeline stays without it' '
	api POST "/api/v1/jobs/$(jq -r ".jobs[0].id" done.json)/retry" >r.json &&
	expect_status 201 &&
	wait_for 30 job_status_is "$(jq -r .id r.json)" success &&
	api GET "/api/v1/jobs/$(jq -r .id r.json)/log" >log &&
	grep -qx "deploy=none plain=plain-value protected=false" log
'

test_expect_success 'the command line: protect, --none, --default, variable set --protected' '
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre project protect app --none >out &&
	expect_grep "^protected branches of app: none$" out &&
	on main >got && grep -qx "deploy=none plain=plain-value protected=false" got &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre project protect app main "release/*,hotfix/*" >out &&
	expect_grep "^protected branches of app: \[\"main\",\"release/\*\",\"hotfix/\*\"\]$" out &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre project show app >out &&
	expect_grep "^protected_branches +\[\"main\",\"release/\*\",\"hotfix/\*\"\]$" out &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre project protect app --default >out &&
	expect_grep "^protected branches of app: the default branch$" out &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre project show app >out &&
	expect_grep "^protected_branches +\(the default branch\)$" out &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN \
		cidre variable set app OTHER other-value-1 --masked --protected >out &&
	expect_grep "^variable OTHER of app set \(masked, protected\)$" out &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre variable list app >out &&
	expect_grep "^OTHER +yes +yes$" out && expect_grep "^PLAIN +no +no$" out &&
	expect_exit 2 env CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN "$CIDRE_BIN" \
		project protect app >out 2>&1 &&
	expect_grep "protect wants branch globs" out &&
	expect_exit 2 env CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN "$CIDRE_BIN" \
		project protect app main --none >out 2>&1 &&
	expect_exit 2 env CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN "$CIDRE_BIN" \
		variable list app --protected >out 2>&1
'

test_expect_success 'bad settings are refused and change nothing' '
	api PATCH /api/v1/projects/app "{\"protected_branches\":[\"main\"]}" >/dev/null &&
	expect_status 200 &&
	for body in "{\"protected_branches\":\"main\"}" "{\"protected_branches\":[\"\"]}" \
		"{\"protected_branches\":[\"a,b\"]}" "{\"protected_branches\":[1]}" \
		"{\"protected_branches\":[\"a\\u0000b\"]}" "{\"protected_branches\":[\"a\\nb\"]}" \
		"{\"protected_branches\":[\"main\"],\"public\":\"yes\"}" \
		"{\"protected_branches\":[\"main\"],\"other\":1}" "{}"; do
		api PATCH /api/v1/projects/app "$body" >/dev/null && expect_status 400 || return 1
	done &&
	long=$(printf "%0256d" 0) &&
	api PATCH /api/v1/projects/app "{\"protected_branches\":[\"$long\"]}" >/dev/null &&
	expect_status 400 &&
	many=$(seq 1 101 | jq -R . | jq -sc .) &&
	api PATCH /api/v1/projects/app "{\"protected_branches\":$many}" >/dev/null &&
	expect_status 400 &&
	api PUT /api/v1/projects/app/variables/X "{\"value\":\"v\",\"protected\":\"yes\"}" >/dev/null &&
	expect_status 400 &&
	api GET /api/v1/projects/app >proj.json &&
	jq -e ".protected_branches == [\"main\"] and .public == false" proj.json &&
	api PATCH /api/v1/projects/app "{\"protected_branches\":[\"main\"],\"public\":true}" \
		>proj.json && expect_status 200 &&
	jq -e ".protected_branches == [\"main\"] and .public == true" proj.json
'

test_expect_success 'a developer may not change them' '
	api POST /api/v1/users "{\"login\":\"dev\",\"password\":\"dev-password-1\"}" >/dev/null &&
	expect_status 201 &&
	api PUT /api/v1/projects/app/members/dev "{\"role\":\"developer\"}" >/dev/null &&
	login_tok=$(command curl -sS -X POST -H "Content-Type: application/json" \
		--data-binary "{\"login\":\"dev\",\"password\":\"dev-password-1\"}" \
		-c dev.jar "$URL/api/v1/session") &&
	csrf=$(echo "$login_tok" | jq -r .csrf) &&
	code=$(command curl -sS -o /dev/null -w "%{http_code}" -b dev.jar -X PATCH \
		-H "X-CSRF-Token: $csrf" -H "Content-Type: application/json" \
		--data-binary "{\"protected_branches\":[\"*\"]}" "$URL/api/v1/projects/app") &&
	test "$code" = 403 &&
	api GET /api/v1/projects/app >proj.json &&
	jq -e ".protected_branches == [\"main\"]" proj.json
'

test_expect_success 'the audit log says who changed them' '
	api GET /api/v1/audit >a.json &&
	jq -e "any(.[]; .action == \"project.update\" and (.detail | startswith(\"protected_branches\")))" a.json
'

test_expect_success 'secrets are sealed at rest: the database holds no value in clear' '
	test "$(stat -c %a data/secret.key)" = 600 &&
	sqlite3 data/cidre.db "SELECT value FROM variables" >vals &&
	test "$(wc -l <vals)" -ge 2 &&
	! grep -v "^sealed:v1:" vals &&
	sqlite3 data/cidre.db "SELECT webhook_secret, hook_secret FROM projects" >ps &&
	! grep -v "^sealed:v1:.*|sealed:v1:" ps &&
	! grep -a -q -e deploy-key-value -e plain-value data/cidre.db data/cidre.db-wal &&
	api GET /api/v1/projects/app >proj.json &&
	jq -e "(.webhook_secret | length) == 64 and (.hook_secret | length) == 64" proj.json
'

test_expect_success 'a value stored in clear (an older server) is sealed at the next start' '
	stop_server &&
	sqlite3 data/cidre.db "UPDATE variables SET value = '"'"'plain-again'"'"' WHERE key = '"'"'PLAIN'"'"'" &&
	start_server data &&
	expect_grep "sealed 1 secret stored in clear" data.log &&
	test "$(sqlite3 data/cidre.db "SELECT substr(value, 1, 10) FROM variables WHERE key = '"'"'PLAIN'"'"'")" = "sealed:v1:" &&
	on main >got && grep -q " plain=plain-again " got
'

test_expect_success 'without its key the server does not start; with another the job fails and says why' '
	stop_server &&
	mv data/secret.key key.saved &&
	expect_exit 1 cidre server --data data --listen 127.0.0.1:0 >out 2>&1 &&
	expect_grep "secret.key is missing and the database holds secrets sealed with it" out &&
	! test -e data/secret.key &&
	openssl rand -hex 32 >data/secret.key && chmod 600 data/secret.key &&
	start_server data &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"main\"}" >p.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >done.json &&
	jq -e ".status == \"failed\"" done.json &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" done.json)/log" >log &&
	expect_grep "does not open" log &&
	! grep -q -e deploy-key-value -e plain-again log &&
	stop_server &&
	mv key.saved data/secret.key &&
	start_server data &&
	on main >got && grep -q " plain=plain-again " got
'

test_done
