#!/bin/sh
# Results pushed out of the server: GitHub/GitLab/Gitea commit statuses,
# signed webhooks retried with the same delivery id, e-mail on failure
# and on fix, a receiver that never answers, refusals, and secrets that
# never come back out. The receivers are the test's own loopback sinks
# (tests/tools/).
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

TOOLS=$(dirname "$CIDRE_BIN")/tests/tools

# start_sink NAME PROGRAM [ARGS]: a sink recording into NAME/ (stopped at exit)
start_sink() {
	name=$1 prog=$2; shift 2
	mkdir -p "$name" &&
	"$TOOLS/$prog" "$name" "$@" 2>>"$name.log" &
	echo $! >"$name-sink.pid"
	wait_for 10 test -s "$name/port"
}
sink_url() { echo "http://127.0.0.1:$(cat "$1/port")"; }
# the sink's recorded requests, oldest first
requests() { ls "$1" | sed -n 's/\.req$//p' | sort -n; }
# sink_count NAME N: at least N requests recorded
sink_count() { [ "$(requests "$1" | wc -l)" -ge "$2" ]; }
# sink_has NAME REGEX: some body matches
sink_has() { grep -qE "$2" "$1"/*.body 2>/dev/null; }
all_done() { api GET "/api/v1/projects/$1/deliveries" | jq -e "all(.[]; .state == \"done\")"; }
header() { sed -n "s/^$2: //Ip" "$1" | tr -d '\r'; }

start_sink gh http-sink &&
start_sink gl http-sink &&
start_sink gt http-sink &&
start_sink hook http-sink --fail 2 &&
start_sink hang http-sink --hang &&
start_sink gone http-sink --status 404 &&
start_sink jobs http-sink &&
start_sink mail smtp-sink || { echo "Bail out! the sinks do not start"; exit 1; }

cat >conf.yml <<EOF
url: http://cidre.invalid/ci
smtp:
  url: smtp://127.0.0.1:$(cat mail/port)
  from: cidre@example.com
notify:
  retry_base: 200ms
  attempts: 5
EOF
start_server data --config conf.yml || { echo "Bail out! the server does not start"; exit 1; }

cat >pass.yml <<'YML'
build:
  script:
    - echo ok
YML
cat >fail.yml <<'YML'
stages: [build, test]
build:
  stage: build
  script:
    - echo ok
broken:
  stage: test
  script:
    - exit 3
YML

# project NAME PIPELINE SETTINGS: a hooked repository and its settings
project() {
	bare_repo "$1" <"$2" &&
	add_project "$1" "$SCRATCH/$1.git" &&
	api PUT "/api/v1/projects/$1/notifications" "$3" >put.json &&
	expect_status 200 &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre hook install "$1.git" >/dev/null
}

# push NAME [PIPELINE] [MESSAGE]: commit and push; prints the new pipeline's id
push() {
	(cd "$1" && { [ -z "${2:-}" ] || cp "../$2" .gitlab-ci.yml; } &&
	 date +%s%N >>f && git add . && git commit -q -m "${3:-change}" &&
	 git push -q origin HEAD:main) >push.out 2>&1 &&
	sed -n "s|.*cidre: pipeline \([0-9]*\) .*|\1|p" push.out | head -1
}

test_expect_success 'a URL that is not http(s) is refused when configured' '
	bare_repo cfg <pass.yml && add_project cfg "$SCRATCH/cfg.git" &&
	api PUT /api/v1/projects/cfg/notifications "{\"webhooks\":[{\"url\":\"ftp://127.0.0.1/x\"}]}" >r.json &&
	expect_status 400 && jq -e ".error | test(\"webhooks\\\\[0\\\\].url\")" r.json &&
	api PUT /api/v1/projects/cfg/notifications "{\"webhooks\":[{\"url\":\"file:///etc/passwd\"}]}" >r.json &&
	expect_status 400 &&
	api PUT /api/v1/projects/cfg/notifications "{\"forge\":{\"kind\":\"gitea\",\"api_url\":\"gopher://127.0.0.1/\",\"repo\":\"a/b\",\"token\":\"t\"}}" >r.json &&
	expect_status 400 && jq -e ".error | test(\"forge.api_url\")" r.json &&
	api PUT /api/v1/projects/cfg/notifications "{\"forge\":{\"kind\":\"bitbucket\",\"repo\":\"a/b\",\"token\":\"t\"}}" >r.json &&
	expect_status 400 &&
	api PUT /api/v1/projects/cfg/notifications "{\"email\":{\"subscribers\":[\"a@b.c\\r\\nBcc: x@y.z\"]}}" >r.json &&
	expect_status 400 &&
	api PUT /api/v1/projects/cfg/notifications "{\"webhooks\":[{\"url\":\"http://127.0.0.1:1/\",\"events\":[\"deploy\"]}]}" >r.json &&
	expect_status 400 &&
	api PUT /api/v1/projects/cfg/notifications "{\"bogus\":1}" >r.json &&
	expect_status 400 &&
	printf "smtp:\n  url: http://127.0.0.1:25\n" >bad.yml &&
	expect_exit 1 cidre server -n --config bad.yml >out 2>&1 &&
	expect_grep "smtp.url: must be a URL smtp://... or smtps://..." out &&
	printf "url: ftp://x\n" >bad.yml &&
	expect_exit 1 cidre server -n --config bad.yml >out 2>&1 &&
	expect_grep "url: must be a URL http://... or https://..." out
'

test_expect_success 'GitHub: pending, then success, with a link back, on the commit' '
	project ghp pass.yml "{\"forge\":{\"kind\":\"github\",\"api_url\":\"$(sink_url gh)\",\"repo\":\"octo/app\",\"token\":\"ghtok-secret\"}}" &&
	id=$(push ghp) && test -n "$id" &&
	wait_pipeline "$id" >p.json && jq -e ".status == \"success\"" p.json &&
	sha=$(jq -r .sha p.json) &&
	wait_for 20 sink_has gh "\"state\":\"success\"" &&
	first=$(requests gh | head -1) && last=$(requests gh | tail -1) &&
	jq -e ".state == \"pending\"" "gh/$first.body" &&
	jq -e ".state == \"success\" and .context == \"cidre\" and .target_url == \"http://cidre.invalid/ci/pipelines/$id\" and (.description | test(\"#$id passed\"))" "gh/$last.body" &&
	for n in $(requests gh); do
		head -1 "gh/$n.req" | grep -q "^POST /repos/octo/app/statuses/$sha HTTP/1.1" &&
		test "$(header "gh/$n.req" Authorization)" = "Bearer ghtok-secret" &&
		test "$(header "gh/$n.req" Accept)" = "application/vnd.github+json" &&
		header "gh/$n.req" User-Agent | grep -q "^cidre/" || return 1
	done
'

test_expect_success 'GitLab: running and failed, PRIVATE-TOKEN, the project path encoded' '
	project glp fail.yml "{\"forge\":{\"kind\":\"gitlab\",\"api_url\":\"$(sink_url gl)/api/v4\",\"repo\":\"group/sub/app\",\"token\":\"gltok\",\"context\":\"ci/cidre\"}}" &&
	id=$(push glp) && test -n "$id" &&
	wait_pipeline "$id" >p.json && jq -e ".status == \"failed\"" p.json &&
	sha=$(jq -r .sha p.json) &&
	wait_for 20 sink_has gl "\"state\":\"failed\"" &&
	sink_has gl "\"state\":\"running\"" &&
	last=$(requests gl | tail -1) &&
	jq -e ".state == \"failed\" and .name == \"ci/cidre\" and .ref == \"main\" and (.target_url | endswith(\"/pipelines/$id\"))" "gl/$last.body" &&
	head -1 "gl/$last.req" | grep -q "^POST /api/v4/projects/group%2Fsub%2Fapp/statuses/$sha " &&
	test "$(header "gl/$last.req" PRIVATE-TOKEN)" = gltok
'

cat >long.yml <<'YML'
long:
  script:
    - sleep 30
YML

running() { [ "$(api GET "/api/v1/pipelines/$1" | jq -r .status)" = running ]; }

test_expect_success 'GitLab: a canceled pipeline is canceled on the commit too' '
	project glc long.yml "{\"forge\":{\"kind\":\"gitlab\",\"api_url\":\"$(sink_url gl)/api/v4\",\"repo\":\"42\",\"token\":\"gltok\"},\"webhooks\":[{\"url\":\"$(sink_url jobs)/jobs\",\"events\":[\"job\"]}]}" &&
	id=$(push glc) && test -n "$id" &&
	wait_for 20 running "$id" &&
	api POST "/api/v1/pipelines/$id/cancel" >/dev/null &&
	wait_pipeline "$id" >p.json && jq -e ".status == \"canceled\"" p.json &&
	wait_for 20 sink_has gl "\"state\":\"canceled\"" &&
	grep -l "\"state\":\"canceled\"" gl/*.body >c.list &&
	head -1 "$(sed "s/body$/req/" c.list | head -1)" | grep -q "^POST /api/v4/projects/42/statuses/" &&
	wait_for 20 sink_has jobs "\"object_kind\":\"job\".*\"status\":\"canceled\"" &&
	jq -s -e "map(.job.status) == [\"running\", \"canceled\"] and all(.[]; .object_kind == \"job\" and .job.name == \"long\")" $(requests jobs | sed "s|.*|jobs/&.body|")
'

test_expect_success 'Gitea: success with Authorization: token' '
	project gtp pass.yml "{\"forge\":{\"kind\":\"gitea\",\"api_url\":\"$(sink_url gt)/api/v1\",\"repo\":\"me/app\",\"token\":\"gttok\"}}" &&
	id=$(push gtp) && test -n "$id" &&
	wait_pipeline "$id" >p.json &&
	sha=$(jq -r .sha p.json) &&
	wait_for 20 sink_has gt "\"state\":\"success\"" &&
	last=$(requests gt | tail -1) &&
	head -1 "gt/$last.req" | grep -q "^POST /api/v1/repos/me/app/statuses/$sha " &&
	test "$(header "gt/$last.req" Authorization)" = "token gttok" &&
	jq -e ".context == \"cidre\"" "gt/$last.body"
'

test_expect_success 'secrets are never returned: settings show token_set/secret_set only' '
	api PUT /api/v1/projects/cfg/notifications "{\"forge\":{\"kind\":\"github\",\"api_url\":\"http://127.0.0.1:1\",\"repo\":\"a/b\",\"token\":\"tok-never-shown\"},\"webhooks\":[{\"url\":\"http://127.0.0.1:1/h\",\"secret\":\"sec-never-shown\",\"events\":[\"pipeline\",\"job\"]}]}" >put.json &&
	expect_status 200 &&
	api GET /api/v1/projects/cfg/notifications >get.json && expect_status 200 &&
	jq -e ".forge.token_set == true and (.forge | has(\"token\") | not) and .webhooks[0].secret_set == true and (.webhooks[0] | has(\"secret\") | not)" get.json &&
	! grep -q never-shown put.json get.json &&
	api PUT /api/v1/projects/cfg/notifications "$(cat get.json)" >put2.json && expect_status 200 &&
	jq -e ".forge.token_set == true and .webhooks[0].secret_set == true" put2.json &&
	api GET /api/v1/projects/ghp/deliveries >d.json && expect_status 200 &&
	jq -e "length >= 2 and all(.[]; .kind == \"forge\")" d.json &&
	! grep -q ghtok d.json &&
	code=$(command curl -sS -o /dev/null -w "%{http_code}" "$URL/api/v1/projects/cfg/notifications") &&
	case $code in 401|403|404) ;; *) echo "anonymous got $code"; false ;; esac
'

test_expect_success 'webhooks: signed, pipeline and job events, retried with the same delivery id' '
	project whp pass.yml "{\"webhooks\":[{\"url\":\"$(sink_url hook)/in\",\"secret\":\"s3cret\",\"events\":[\"pipeline\",\"job\"]}]}" &&
	id=$(push whp "" "add the hook") && test -n "$id" &&
	wait_pipeline "$id" >p.json &&
	wait_for 20 sink_has hook "\"object_kind\":\"pipeline\".*\"status\":\"success\"" &&
	wait_for 20 all_done whp &&
	sink_has hook "\"object_kind\":\"job\"" &&
	for n in $(requests hook); do
		sig=$(header "hook/$n.req" X-Cidre-Signature-256) &&
		want=$(openssl dgst -sha256 -hmac s3cret -r "hook/$n.body" | cut -d" " -f1) &&
		test "$sig" = "sha256=$want" &&
		header "hook/$n.req" X-Cidre-Event | grep -qE "^(pipeline|job)$" &&
		header "hook/$n.req" X-Cidre-Delivery | grep -qE "^[0-9]+$" || return 1
	done &&
	d1=$(header hook/1.req X-Cidre-Delivery) && d2=$(header hook/2.req X-Cidre-Delivery) &&
	test "$(grep -lx "X-Cidre-Delivery: $d1.*" hook/*.req | wc -l)" -ge 2 &&
	test "$(grep -lx "X-Cidre-Delivery: $d2.*" hook/*.req | wc -l)" -ge 2 &&
	jq -e ".object_kind == \"pipeline\" or .object_kind == \"job\"" hook/1.body &&
	last=$(grep -l "\"object_kind\":\"pipeline\".*\"status\":\"success\"" hook/*.body | head -1) &&
	jq -e ".project.name == \"whp\" and .pipeline.id == $id and .pipeline.ref == \"main\" and .commit.title == \"add the hook\" and (.commit.author | test(\"author@example.com\")) and .pipeline.duration != null" "$last" &&
	api GET /api/v1/projects/whp/deliveries >d.json &&
	jq -e "any(.[]; .id == $d1 and .attempts >= 2 and .state == \"done\" and .last_status == 201)" d.json
'

all_failed() { api GET "/api/v1/projects/$1/deliveries" | jq -e "length > 0 and all(.[]; .state == \"failed\")"; }

test_expect_success 'a receiver answering 404 is not retried: the delivery is failed at once' '
	project gonep pass.yml "{\"webhooks\":[{\"url\":\"$(sink_url gone)/nowhere\"}]}" &&
	id=$(push gonep) && wait_pipeline "$id" >/dev/null &&
	wait_for 20 sink_has gone "\"status\":\"success\"" &&
	wait_for 10 all_failed gonep &&
	api GET /api/v1/projects/gonep/deliveries >d.json &&
	jq -e "all(.[]; .attempts == 1 and .last_status == 404 and (.last_error | test(\"HTTP 404\")))" d.json &&
	test "$(requests gone | wc -l)" = "$(jq length d.json)" &&
	expect_grep "notify: delivery [0-9]+ \(webhook to .*/nowhere\), attempt 1: HTTP 404.*giving up" data.log
'

test_expect_success 'a failed delivery is sent again on request, with the same id' '
	api GET /api/v1/projects/gonep/deliveries >d.json &&
	did=$(jq -r ".[0].id" d.json) && n=$(requests gone | wc -l) &&
	api POST "/api/v1/projects/gonep/deliveries/$did/redeliver" >r.json &&
	expect_status 202 && jq -e ".id == $did and .state == \"pending\"" r.json &&
	wait_for 10 sink_count gone $((n + 1)) &&
	last=$(requests gone | tail -1) &&
	test "$(header "gone/$last.req" X-Cidre-Delivery)" = "$did" &&
	cmp "gone/$last.body" "gone/$(grep -lx "X-Cidre-Delivery: $did.*" gone/*.req | head -1 | xargs basename | sed "s/req$/body/")" &&
	wait_for 10 all_failed gonep &&
	api POST "/api/v1/projects/ghp/deliveries/$did/redeliver" >r.json && expect_status 404 &&
	api POST "/api/v1/projects/gonep/deliveries/x/redeliver" >r.json && expect_status 400
'

test_expect_success 'e-mail on failure to the author and a subscriber' '
	project mailp pass.yml "{\"email\":{\"to_author\":true,\"subscribers\":[\"team@example.com\"]}}" &&
	id=$(push mailp fail.yml "break it") && test -n "$id" &&
	wait_pipeline "$id" >/dev/null &&
	wait_for 20 test -f mail/2.env &&
	cat mail/1.env mail/2.env >env &&
	expect_grep "^to <author@example.com>" env && expect_grep "^to <team@example.com>" env &&
	expect_grep "^from <cidre@example.com>" env &&
	for m in mail/1.eml mail/2.eml; do
		grep -q "^Subject: \[cidre\] mailp main: pipeline #$id failed" "$m" &&
		grep -qE "^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \+0000" "$m" &&
		grep -q "^From: cidre@example.com" "$m" &&
		grep -qE "^Message-ID: <cidre\.$id\.failed\.[0-9a-f]+@.+>" "$m" &&
		grep -q "^  - broken (stage test)" "$m" &&
		grep -q "Link:    http://cidre.invalid/ci/pipelines/$id" "$m" || return 1
	done
'

reloaded() { grep -q "reload: .*conf.yml is in use" data.log; }

test_expect_success 'e-mail when the next pipeline of the ref passes: fixed (after a SIGHUP)' '
	sed -i "s/from: cidre@example.com/from: cidre-reloaded@example.com/" conf.yml &&
	kill -HUP "$SERVER_PID" && wait_for 10 reloaded &&
	id=$(push mailp pass.yml "fix it") && test -n "$id" &&
	wait_pipeline "$id" >/dev/null &&
	wait_for 20 test -f mail/4.env &&
	grep -q "^Subject: \[cidre\] mailp main: pipeline #$id fixed" mail/3.eml &&
	grep -q "^Subject: \[cidre\] mailp main: pipeline #$id fixed" mail/4.eml &&
	grep -q "^from <cidre-reloaded@example.com>" mail/3.env &&
	id2=$(push mailp "" "still fine") && wait_pipeline "$id2" >/dev/null &&
	api GET /api/v1/projects/mailp/deliveries >d.json &&
	jq -e "[.[] | select(.pipeline_id == $id2)] | length == 0" d.json &&
	test ! -f mail/5.env
'

test_expect_success 'a receiver that never answers does not slow pipelines' '
	project slow pass.yml "{\"webhooks\":[{\"url\":\"$(sink_url hang)/\",\"events\":[\"pipeline\",\"job\"]}],\"forge\":{\"kind\":\"github\",\"api_url\":\"$(sink_url hang)\",\"repo\":\"a/b\",\"token\":\"t\"}}" &&
	start=$(date +%s) &&
	id=$(push slow) && test -n "$id" &&
	wait_pipeline "$id" 10 >p.json && jq -e ".status == \"success\"" p.json &&
	id2=$(push slow) && wait_pipeline "$id2" 10 >/dev/null &&
	test $(( $(date +%s) - start )) -lt 10 &&
	wait_for 10 sink_count hang 1 &&
	api GET /api/v1/projects/slow/deliveries >d.json &&
	jq -e "any(.[]; .state == \"pending\")" d.json
'

test_expect_success 'meanwhile other receivers get their deliveries at once' '
	id=$(push ghp) && test -n "$id" && wait_pipeline "$id" 10 >/dev/null &&
	wait_for 10 sink_has gh "\"state\":\"success\",\"target_url\":\"[^\"]*/pipelines/$id\"" &&
	api GET /api/v1/projects/slow/deliveries >d.json &&
	jq -e "all(.[]; .attempts == 0 or .state == \"pending\")" d.json
'

# resent N: more than N requests to the hanging sink carry a delivery id of ids.txt
resent() { [ "$(cat hang/*.req | tr -d '\r' | sed -n 's/^X-Cidre-Delivery: //p' | grep -cxFf ids.txt)" -gt "$1" ]; }

test_expect_success 'the server stops promptly while a delivery hangs; the outbox outlives a restart' '
	api GET /api/v1/projects/slow/deliveries >d.json &&
	jq -r ".[] | select(.kind == \"webhook\" and .state == \"pending\") | .id" d.json >ids.txt &&
	test -s ids.txt &&
	nb=$(cat hang/*.req | tr -d "\r" | sed -n "s/^X-Cidre-Delivery: //p" | grep -cxFf ids.txt) &&
	start=$(date +%s) && stop_server && test $(( $(date +%s) - start )) -lt 5 &&
	start_server data --config conf.yml &&
	wait_for 10 resent "$nb"
'

test_done
