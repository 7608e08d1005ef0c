#!/bin/sh
# Pipeline schedules against a real server: add/list/edit/rm through the
# CLI and the API, errors, play (CI_PIPELINE_SOURCE=schedule, the
# schedule's variables, rules on the source), a due schedule firing by
# itself at a minute boundary, a missed run after kill -9 run once, a ref
# that is gone, and schedules.min_interval / max_per_project on reload.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

start_server data || { echo "Bail out! the server does not start"; exit 1; }
unset CIDRE_CONFIG XDG_CONFIG_HOME
# the client talks to the current server (its port changes on a restart)
cidre() { CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN "$CIDRE_BIN" "$@"; }

cat >pipeline.yml <<'YML'
build:
  rules:
    - if: $CI_PIPELINE_SOURCE != "schedule"
  script:
    - echo "built from $CI_PIPELINE_SOURCE"
nightly:
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule"
  script:
    - echo "source=$CI_PIPELINE_SOURCE greeting=$GREETING"
YML

# schedule_field ID FIELD: a field of schedule ID of app, from the API
schedule_field() {
	api GET "/api/v1/projects/app/schedules/$1" | jq -r ".$2"
}

# the log of the job named $2 of pipeline $1
job_log() {
	j=$(api GET "/api/v1/pipelines/$1" | jq -r ".jobs[] | select(.name == \"$2\") | .id") &&
	test -n "$j" && api GET "/api/v1/jobs/$j/log"
}

schedule_ran_past() {
	last=$(schedule_field "$1" last_pipeline_id) &&
	[ "$last" != null ] && [ "$last" != "$2" ]
}

reloads() {
	grep -c "reload: .* is in use" data.log
}

reloaded_since() {
	test "$(reloads)" -gt "$1"
}

schedule_pipelines() {
	api GET "/api/v1/projects/app/pipelines?source=schedule&per_page=100" | jq length
}

test_expect_success 'setup: a project' '
	bare_repo app <pipeline.yml &&
	cidre project add app --repo app.git >/dev/null
'

test_expect_success 'schedule add, list (table and JSON)' '
	cidre schedule add app --cron "0 3 * * *" --tz Europe/Paris -v GREETING=hello \
		--description nightly >out &&
	expect_grep "^schedule 1 of app added: 0 3 \* \* \* \(Europe/Paris\), next run [0-9-]+ 0[12]:00Z$" out &&
	cidre schedule list app >out &&
	expect_grep "^ID +DESCRIPTION +CRON +TZ +REF +ACTIVE +NEXT RUN +LAST PIPELINE$" out &&
	expect_grep "^ *1 +nightly +0 3 \* \* \* +Europe/Paris +\(default\) +yes +[0-9-]+ 0[12]:00Z +-$" out &&
	cidre schedule list app --json >out.json &&
	jq -e ".[0].cron_timezone == \"Europe/Paris\" and .[0].variables.GREETING == \"hello\"
		and .[0].active and .[0].last_pipeline_id == null and .[0].ref == null" out.json
'

test_expect_success 'a bad cron expression: exit 1 and where it is wrong' '
	expect_exit 1 cidre schedule add app --cron "0 24 * * *" >out 2>&1 &&
	expect_grep "column 3: field 2 \(hour\): 24 is out of 0-23" out &&
	expect_exit 1 cidre schedule add app --cron "@daily" --tz Mars/Olympus >out 2>&1 &&
	expect_grep "unknown time zone \"Mars/Olympus\"" out &&
	expect_exit 2 cidre schedule add app >out 2>&1 &&
	expect_grep "add wants --cron EXPR" out &&
	expect_exit 2 cidre schedule edit app 1 >out 2>&1 &&
	expect_grep "edit wants something to change" out
'

test_expect_success 'the API: add, get, patch, unknown fields, malformed JSON, delete' '
	api POST /api/v1/projects/app/schedules \
		"{\"cron\":\"@weekly\",\"ref\":\"main\",\"active\":false}" >s.json &&
	expect_status 201 &&
	id=$(jq -r .id s.json) &&
	jq -e ".active == false and .ref == \"main\" and .cron_timezone == \"UTC\"" s.json &&
	api GET "/api/v1/projects/app/schedules/$id" | jq -e ".cron == \"@weekly\"" &&
	api PATCH "/api/v1/projects/app/schedules/$id" "{\"description\":\"weekly\",\"cron\":\"5 4 * * sun\"}" >s.json &&
	expect_status 200 &&
	jq -e ".description == \"weekly\" and .cron == \"5 4 * * sun\"" s.json &&
	jq -e ".next_run_at | test(\"T04:05:00\")" s.json &&
	api PATCH "/api/v1/projects/app/schedules/$id" "{\"cron\":\"61 * * * *\"}" >out &&
	expect_status 400 &&
	expect_grep "field 1 \(minute\): 61 is out of 0-59" out &&
	api POST /api/v1/projects/app/schedules "{\"cron\":\"@daily\",\"when\":1}" >out &&
	expect_status 400 && expect_grep "unknown field ..when" out &&
	api POST /api/v1/projects/app/schedules "{\"cron\":" >out &&
	expect_status 400 && expect_grep "malformed JSON" out &&
	api POST /api/v1/projects/app/schedules "{\"cron\":\"@daily\",\"variables\":{\"1X\":\"a\"}}" >out &&
	expect_status 400 &&
	api GET /api/v1/projects/app/schedules/999 >out && expect_status 404 &&
	api DELETE "/api/v1/projects/app/schedules/$id" >out && expect_status 200 &&
	api GET "/api/v1/projects/app/schedules/$id" >out && expect_status 404 &&
	api GET "/api/v1/audit?per_page=100" >audit.json &&
	jq -e "[.[] | .action] | index(\"schedule.create\") and index(\"schedule.update\")
		and index(\"schedule.delete\")" audit.json
'

test_expect_success 'edit through the CLI: cron, inactive, then active again' '
	cidre schedule edit app 1 --cron "30 2 * * 1-5" --inactive >out &&
	expect_grep "^schedule 1 of app changed: 30 2 \* \* 1-5 \(Europe/Paris\), inactive" out &&
	test "$(schedule_field 1 active)" = false &&
	cidre schedule edit app 1 --active >out &&
	test "$(schedule_field 1 active)" = true &&
	test "$(schedule_field 1 variables.GREETING)" = hello
'

test_expect_success 'play: a schedule pipeline, its variables, rules on the source' '
	cidre schedule play app 1 >out &&
	expect_grep "^pipeline [0-9]+ started by schedule 1 of app$" out &&
	pl=$(sed -n "s/^pipeline \([0-9]*\) .*/\1/p" out) &&
	wait_pipeline "$pl" >p.json &&
	jq -e ".status == \"success\" and .source == \"schedule\" and .schedule_id == 1
		and ([.jobs[].name] == [\"nightly\"])" p.json &&
	job_log "$pl" nightly >log &&
	expect_grep "^source=schedule greeting=hello$" log &&
	test "$(schedule_field 1 last_pipeline_id)" = "$pl" &&
	api POST /api/v1/projects/app/pipelines "{}" >t.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id t.json)" >p.json &&
	jq -e "([.jobs[].name] == [\"build\"]) and .schedule_id == null" p.json
'

test_expect_success 'a due schedule fires by itself (the next minute boundary)' '
	before=$(schedule_pipelines) &&
	cidre schedule add app --cron "* * * * *" -v GREETING=tick >out &&
	id=$(sed -n "s/^schedule \([0-9]*\) .*/\1/p" out) &&
	wait_for 65 schedule_ran_past "$id" null &&
	pl=$(schedule_field "$id" last_pipeline_id) &&
	wait_pipeline "$pl" >p.json &&
	jq -e ".source == \"schedule\" and .schedule_id == $id" p.json &&
	job_log "$pl" nightly >log &&
	expect_grep "^source=schedule greeting=tick$" log &&
	test "$(schedule_pipelines)" -gt "$before" &&
	cidre schedule rm app "$id" >out &&
	expect_grep "^schedule $id of app removed$" out
'

test_expect_success 'kill -9, due times missed while down: the schedule runs once' '
	cidre schedule add app --cron "@daily" -v GREETING=late >out &&
	id=$(sed -n "s/^schedule \([0-9]*\) .*/\1/p" out) &&
	kill_server &&
	past=$(( ($(date +%s) - 3 * 86400) * 1000 )) &&
	sqlite3 data/cidre.db "UPDATE schedules SET next_run_at = $past WHERE id = $id" &&
	before=$(sqlite3 data/cidre.db "SELECT count(*) FROM pipelines WHERE schedule_id = $id") &&
	test "$before" = 0 &&
	start_server data &&
	wait_for 20 schedule_ran_past "$id" null &&
	pl=$(schedule_field "$id" last_pipeline_id) &&
	wait_pipeline "$pl" >p.json &&
	jq -e ".status == \"success\"" p.json &&
	test "$(api GET "/api/v1/projects/app/pipelines?per_page=100" |
		jq "[.[] | select(.schedule_id == $id)] | length")" = 1 &&
	next=$(schedule_field "$id" next_run_at) &&
	test "$(date -d "$next" +%s)" -gt "$(date +%s)" &&
	expect_grep "scheduler: schedule $id: pipeline $pl" data.log
'

test_expect_success 'a ref that is gone: a failed pipeline that says so, and it goes on' '
	cidre schedule add app --cron "@hourly" --ref gone >out &&
	id=$(sed -n "s/^schedule \([0-9]*\) .*/\1/p" out) &&
	cidre schedule play app "$id" >out &&
	pl=$(sed -n "s/^pipeline \([0-9]*\) .*/\1/p" out) &&
	api GET "/api/v1/pipelines/$pl" >p.json &&
	jq -e ".status == \"failed\" and .source == \"schedule\" and .schedule_id == $id
		and (.error | test(\"no branch or tag .gone.\"))" p.json &&
	test "$(schedule_field "$id" active)" = true &&
	cidre schedule rm app "$id" >/dev/null
'

test_expect_success 'a due run with the job queue full: a failed pipeline that says so' '
	kill_server &&
	printf "runner:\n  slots: 1\nlimits:\n  queue_length: 1\n" >data/config.yml &&
	start_server data &&
	printf "a:\n  script: [sleep 60]\nb:\n  script: [sleep 60]\n" | bare_repo busy &&
	cidre project add busy --repo busy.git >/dev/null &&
	api POST /api/v1/projects/busy/pipelines "{}" >busy.json && expect_status 201 &&
	busy=$(jq -r .id busy.json) &&
	wait_for 20 sh -c "test \"\$(sqlite3 data/cidre.db \"SELECT count(*) FROM jobs WHERE status = '"'"'pending'"'"'\")\" = 1" &&
	cidre schedule add app --cron "@daily" >out &&
	id=$(sed -n "s/^schedule \([0-9]*\) .*/\1/p" out) &&
	kill_server &&
	past=$(( ($(date +%s) - 86400) * 1000 )) &&
	sqlite3 data/cidre.db "UPDATE schedules SET next_run_at = $past WHERE id = $id" &&
	start_server data &&
	wait_for 20 schedule_ran_past "$id" null &&
	pl=$(schedule_field "$id" last_pipeline_id) &&
	api GET "/api/v1/pipelines/$pl" >p.json &&
	jq -e ".status == \"failed\" and .source == \"schedule\" and .schedule_id == $id
		and (.error | test(\"job queue is full .*limits.queue_length is 1\"))" p.json &&
	test "$(schedule_field "$id" active)" = true &&
	next=$(schedule_field "$id" next_run_at) &&
	test "$(date -d "$next" +%s)" -gt "$(date +%s)" &&
	api POST "/api/v1/pipelines/$busy/cancel" >/dev/null &&
	cidre schedule rm app "$id" >/dev/null &&
	rm data/config.yml && kill_server && start_server data
'

test_expect_success 'schedules.* in the configuration: -n checks them' '
	printf "schedules:\n  min_interval: 120\n  max_per_project: 4\n" >good.yml &&
	cidre server -n --config good.yml >out 2>&1 &&
	expect_grep "configuration OK" out &&
	printf "schedules:\n  min_interval: 30\n" >bad.yml &&
	expect_exit 1 cidre server -n --config bad.yml >out 2>&1 &&
	expect_grep "bad.yml:2:17: error: schedules.min_interval: must be a whole number from 60" out &&
	printf "schedules:\n  max_per_project: -1\n  often: 1\n" >bad.yml &&
	expect_exit 1 cidre server -n --config bad.yml >out 2>&1 &&
	expect_grep "schedules.max_per_project" out &&
	expect_grep "unknown setting schedules.often" out
'

test_expect_success 'min_interval 120 on reload refuses "* * * * *"; max_per_project' '
	cidre schedule add app --cron "* * * * *" --inactive >out &&
	id=$(sed -n "s/^schedule \([0-9]*\) .*/\1/p" out) &&
	n=$(reloads)
	cp good.yml data/config.yml &&
	kill -HUP "$SERVER_PID" &&
	wait_for 10 reloaded_since "$n" &&
	expect_exit 1 cidre schedule add app --cron "* * * * *" >out 2>&1 &&
	expect_grep "fires every 60 s at times, more often than schedules.min_interval \(120 s\)" out &&
	cidre schedule edit app "$id" --description "kept from before" >/dev/null &&
	expect_exit 1 cidre schedule edit app "$id" --cron "*/1 * * * *" >out 2>&1 &&
	expect_grep "schedules.min_interval \(120 s\)" out &&
	cidre schedule add app --cron "*/2 * * * *" --inactive >/dev/null &&
	test "$(cidre schedule list app --json | jq length)" = 4 &&
	expect_exit 1 cidre schedule add app --cron "@daily" >out 2>&1 &&
	expect_grep "the project has 4 schedules, the most it may have \(schedules.max_per_project\)" out
'

test_done
