#!/bin/sh
# A project's pipeline schedules from its web page, as a browser without
# JavaScript uses it: developers see the form and each schedule's
# buttons (run now, deactivate/activate, delete), form posts answered
# 303 or an error page with the reason and nothing changed; viewers see
# the list only; a stale CSRF token is refused.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

cat >pipeline.yml <<'YML'
nightly:
  script:
    - echo "source=$CI_PIPELINE_SOURCE ref=$CI_COMMIT_REF_NAME"
YML

# dev's CSRF token, from the project page
tok() {
	page dev /p/app >/dev/null && csrf
}

# schedules: the project's schedules (API JSON) in s.json
schedules() {
	api GET /api/v1/projects/app/schedules >s.json && expect_status 200
}

test_expect_success 'a project, a developer and a viewer' '
	mkdir -p data && start_server data &&
	bare_repo app <pipeline.yml &&
	git -C app.git symbolic-ref HEAD refs/heads/main &&
	(cd app && git push -q origin HEAD:release) &&
	add_project app "$SCRATCH/app.git" &&
	for u in dev view; do
		api POST /api/v1/users "{\"login\":\"$u\",\"password\":\"$u-password-1\"}" \
			>/dev/null && expect_status 201 || return 1
	done &&
	api PUT /api/v1/projects/app/members/dev "{\"role\":\"developer\"}" >/dev/null &&
	api PUT /api/v1/projects/app/members/view "{\"role\":\"viewer\"}" >/dev/null &&
	login_as dev && login_as view
'

test_expect_success 'no schedules: a developer gets the form, a viewer nothing' '
	test "$(page dev /p/app)" = 200 &&
	expect_grep "<h2 id=\"schedules\">Schedules</h2>" page.html &&
	expect_grep "No schedules yet" page.html &&
	expect_grep "<form method=\"post\" action=\"/p/app/schedules\" class=\"schedule-add\">" page.html &&
	test "$(page view /p/app)" = 200 &&
	expect_no_grep "Schedules|/p/app/schedules" page.html
'

test_expect_success 'add: 303 to the schedules, the store has it, the page lists it with buttons' '
	test "$(post dev /p/app/schedules "csrf=$(tok)&description=nightly+build&cron=0+3+*+*+*&cron_timezone=Europe%2FParis&ref=release")" = 303 &&
	grep -qi "^location: /p/app#schedules" headers &&
	schedules &&
	jq -e "length == 1 and .[0].description == \"nightly build\" and .[0].cron == \"0 3 * * *\"
		and .[0].cron_timezone == \"Europe/Paris\" and .[0].ref == \"release\" and .[0].active" s.json &&
	id=$(jq -r ".[0].id" s.json) && echo "$id" >id &&
	test "$(page dev /p/app)" = 200 &&
	expect_grep "<tr id=\"schedule-$id\"><td>nightly build</td><td><code>0 3 \* \* \*</code> <span class=\"muted\">Europe/Paris</span></td><td>release</td><td>in " page.html &&
	expect_grep "action=\"/p/app/schedules/$id/play\"" page.html &&
	expect_grep "action=\"/p/app/schedules/$id/deactivate\"" page.html &&
	expect_grep "action=\"/p/app/schedules/$id/delete\" class=\"inline\" data-confirm=" page.html &&
	test "$(page view /p/app)" = 200 &&
	expect_grep "<td>nightly build</td>" page.html &&
	expect_no_grep "/p/app/schedules/$id/|schedule-add" page.html &&
	api GET /api/v1/audit | jq -e "any(.[]; .actor == \"dev\" and .action == \"schedule.create\" and .target == \"schedule $id\")"
'

test_expect_success 'variables from the form, one KEY=value a line; a bad one refused' '
	test "$(post dev /p/app/schedules "csrf=$(tok)&cron=0+4+*+*+*&variables=GREETING%3Dhello+there%3D1%0D%0A%0D%0A++NIGHTLY+%3D+%0D%0A")" = 303 &&
	schedules &&
	jq -e "length == 2 and (.[] | select(.cron == \"0 4 * * *\") | .variables ==
		{\"GREETING\": \"hello there=1\", \"NIGHTLY\": \" \"})" s.json &&
	test "$(post dev /p/app/schedules "csrf=$(tok)&cron=0+5+*+*+*&variables=1BAD%3Dx")" = 400 &&
	expect_grep "variable &quot;1BAD&quot;: names are" page.html &&
	test "$(post dev /p/app/schedules "csrf=$(tok)&cron=0+5+*+*+*&variables=NO_EQUALS")" = 400 &&
	expect_grep "has no &quot;=&quot;" page.html &&
	schedules && jq -e "length == 2" s.json &&
	api DELETE "/api/v1/projects/app/schedules/$(jq -r ".[] | select(.cron == \"0 4 * * *\") | .id" s.json)" >/dev/null &&
	expect_status 200
'

test_expect_success 'a bad form: the reason, nothing added' '
	test "$(post dev /p/app/schedules "csrf=$(tok)&cron=61+*+*+*+*")" = 400 &&
	expect_grep "minute" page.html &&
	test "$(post dev /p/app/schedules "csrf=$(tok)&cron=")" = 400 &&
	expect_grep "cron is required" page.html &&
	test "$(post dev /p/app/schedules "csrf=$(tok)&cron=0+3+*+*+*&cron_timezone=Mars%2FOlympus")" = 400 &&
	long=$(head -c 300 /dev/zero | tr "\0" a) &&
	test "$(post dev /p/app/schedules "csrf=$(tok)&cron=0+3+*+*+*&description=$long")" = 400 &&
	expect_grep "description is longer than 255 bytes" page.html &&
	schedules && jq -e "length == 1" s.json
'

test_expect_success 'a viewer, a stale token, someone else'"'"'s schedule id: refused' '
	id=$(cat id) &&
	test "$(post view /p/app/schedules "csrf=$(tok)&cron=0+4+*+*+*")" = 403 &&
	test "$(post dev /p/app/schedules "csrf=0000&cron=0+4+*+*+*")" = 403 &&
	expect_grep "CSRF" page.html &&
	test "$(post dev "/p/app/schedules/$id/delete" "csrf=0000")" = 403 &&
	test "$(post dev /p/app/schedules/99999/play "csrf=$(tok)")" = 404 &&
	test "$(post dev /p/app/schedules/x/play "csrf=$(tok)")" = 404 &&
	schedules && jq -e "length == 1" s.json
'

test_expect_success 'edit: the form filled in; cron, zone, branch, variables, active saved' '
	id=$(cat id) &&
	test "$(page dev /p/app)" = 200 &&
	expect_grep "<a href=\"/p/app/schedules/$id/edit\">Edit</a>" page.html &&
	test "$(page dev "/p/app/schedules/$id/edit")" = 200 &&
	expect_grep "<h1>Edit the schedule $id of app</h1>" page.html &&
	expect_grep "name=\"cron\" required maxlength=\"256\" size=\"14\" value=\"0 3 \* \* \*\"" page.html &&
	expect_grep "value=\"Europe/Paris\"" page.html &&
	expect_grep "name=\"active\" value=\"1\" checked" page.html &&
	test "$(post dev "/p/app/schedules/$id" "csrf=$(tok)&description=nightly+build&cron=15+4+*+*+*&cron_timezone=UTC&ref=&variables=A%3D1%0AB%3Dtwo")" = 303 &&
	schedules &&
	jq -e ".[0].cron == \"15 4 * * *\" and .[0].cron_timezone == \"UTC\" and .[0].ref == null
		and .[0].variables == {\"A\": \"1\", \"B\": \"two\"} and .[0].active == false" s.json &&
	api GET /api/v1/audit | jq -e "any(.[]; .action == \"schedule.update\" and
		(.detail | test(\"cron_timezone, ref, variables, active, cron\")))" &&
	test "$(page dev "/p/app/schedules/$id/edit")" = 200 &&
	expect_grep "A=1" page.html && expect_no_grep "name=\"active\" value=\"1\" checked" page.html &&
	test "$(post dev "/p/app/schedules/$id" "csrf=$(tok)&description=nightly+build&cron=0+3+*+*+*&cron_timezone=Europe%2FParis&ref=release&variables=&active=1")" = 303 &&
	schedules &&
	jq -e ".[0].cron == \"0 3 * * *\" and .[0].ref == \"release\" and .[0].variables == {} and .[0].active" s.json
'

test_expect_success 'edit: refusals change nothing; multi-line values are kept, not shown' '
	id=$(cat id) &&
	test "$(post dev "/p/app/schedules/$id" "csrf=$(tok)&cron=&cron_timezone=UTC")" = 400 &&
	expect_grep "cron is required" page.html &&
	test "$(post dev "/p/app/schedules/$id" "csrf=$(tok)&cron=0+3+*+*+*&cron_timezone=Nowhere%2FLand")" = 400 &&
	test "$(page view "/p/app/schedules/$id/edit")" = 403 &&
	test "$(post view "/p/app/schedules/$id" "csrf=$(tok)&cron=0+5+*+*+*")" = 403 &&
	test "$(page dev /p/app/schedules/99999/edit)" = 404 &&
	schedules && jq -e ".[0].cron == \"0 3 * * *\" and .[0].cron_timezone == \"Europe/Paris\"" s.json &&
	api PATCH "/api/v1/projects/app/schedules/$id" "{\"variables\":{\"MULTI\":\"a\nb\"}}" >/dev/null &&
	expect_status 200 &&
	test "$(page dev "/p/app/schedules/$id/edit")" = 200 &&
	expect_grep "values of several lines" page.html && expect_no_grep "name=\"variables\"" page.html &&
	test "$(post dev "/p/app/schedules/$id" "csrf=$(tok)&description=renamed&cron=0+3+*+*+*&cron_timezone=Europe%2FParis&ref=release&active=1")" = 303 &&
	schedules && jq -e ".[0].description == \"renamed\" and .[0].variables == {\"MULTI\": \"a\nb\"}" s.json
'

test_expect_success 'run now: to the new pipeline, a schedule pipeline of its branch' '
	id=$(cat id) &&
	test "$(post dev "/p/app/schedules/$id/play" "csrf=$(tok)")" = 303 &&
	pl=$(sed -n "s/^[Ll]ocation: \/pipelines\/\([0-9]*\).*/\1/p" headers | tr -d "\r") &&
	test -n "$pl" &&
	wait_pipeline "$pl" >p.json &&
	jq -e ".status == \"success\" and .source == \"schedule\" and .ref == \"release\"
		and .schedule_id == $id" p.json &&
	schedules && jq -e ".[0].last_pipeline_id == $pl" s.json &&
	test "$(page dev /p/app)" = 200 &&
	expect_grep "<a href=\"/pipelines/$pl\">#$pl</a>" page.html
'

test_expect_success 'deactivate, then activate again' '
	id=$(cat id) &&
	test "$(post dev "/p/app/schedules/$id/deactivate" "csrf=$(tok)")" = 303 &&
	schedules && jq -e ".[0].active == false" s.json &&
	test "$(page dev /p/app)" = 200 &&
	expect_grep "<td>inactive</td>" page.html &&
	expect_grep "action=\"/p/app/schedules/$id/activate\"" page.html &&
	test "$(post dev "/p/app/schedules/$id/activate" "csrf=$(tok)")" = 303 &&
	schedules && jq -e ".[0].active == true" s.json
'

test_expect_success 'delete: gone from the store and the page' '
	id=$(cat id) &&
	test "$(post dev "/p/app/schedules/$id/delete" "csrf=$(tok)")" = 303 &&
	schedules && jq -e "length == 0" s.json &&
	test "$(page dev /p/app)" = 200 &&
	expect_grep "No schedules yet" page.html &&
	test "$(post dev "/p/app/schedules/$id/delete" "csrf=$(tok)")" = 404
'

test_expect_success 'the server stops cleanly' '
	stop_server
'

test_done
