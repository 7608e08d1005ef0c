#!/bin/sh
# Retention: artifacts:expire_in (a duration, never, the server's
# default), the reaper (expired rows, then unreferenced blobs; blobs
# shared with a live job stay), keep_latest, `cidre artifacts keep`, a
# kill -9 between expiry and sweep, the audit log's pruning, the config
# keys (-n, SIGHUP).
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

# blob SHA: the content-addressed file of an artifact
blob() {
	echo "data/artifacts/$(echo "$1" | cut -c1-2)/$(echo "$1" | cut -c3-)"
}

# sha_of LINE: the SHA-256 of a file holding LINE (its content address)
sha_of() {
	printf '%s\n' "$1" | sha256sum | cut -d" " -f1
}

# gone JOB: its artifacts listing answers 410
gone() {
	api GET "/api/v1/jobs/$1/artifacts" >/dev/null && test "$(cat "$STATUS_FILE")" = 410
}

# every blob an artifact row names is in the store
rows_have_blobs() {
	sqlite3 data/cidre.db "SELECT DISTINCT sha256 FROM artifacts" >shas &&
	while read -r s; do
		test -f "$(blob "$s")" || { echo "missing blob $s" >&2; return 1; }
	done <shas
}

# job ID NAME from a pipeline's JSON on stdin
job() {
	jq -r ".jobs[] | select(.name == \"$1\") | .id"
}

config() {
	mkdir -p data &&
	cat >data/config.yml <<EOF
runner:
  slots: 4
artifacts:
  expire_in: 6 seconds
  keep_latest: $1
retention:
  interval: 1
  grace: 0
audit:
  keep_days: ${2:-365}
EOF
}

# blob_or_expired SHAFILE JOB: the blob is there, or the reaper already
# expired JOB's artifacts (1 or 6 seconds after its end: a slow machine
# gets there first); the metrics' removed blobs show it was there
blob_or_expired() {
	test -f "$(blob "$(cat "$1")")" ||
		api GET "/api/v1/jobs/$2" | jq -e ".artifacts_expired_at != null"
}

reloads() {
	grep -c "reload: .* is in use" data.log
}

reloaded_since() {
	test "$(reloads)" -gt "$1"
}

reload() {
	n=$(reloads)
	kill -HUP "$SERVER_PID" &&
	wait_for 10 reloaded_since "$n"
}

test_expect_success 'the retention keys are checked (-n says file:line)' '
	mkdir -p conf &&
	printf "artifacts:\n  expire_in: 30 days\n  keep_latest: false\nretention:\n  interval: 1\n  grace: 1h\naudit:\n  keep_days: 0.5\n" >conf/good.yml &&
	cidre server -n --config conf/good.yml >out 2>&1 &&
	expect_grep "configuration OK" out &&
	printf "artifacts:\n  expire_in: never\n" >conf/never.yml &&
	cidre server -n --config conf/never.yml >out 2>&1 &&
	printf "artifacts:\n  expire_in: soon\n  keep_latest: maybe\nretention:\n  interval: 0\n  grace: never\naudit:\n  keep_days: -1\n" >conf/bad.yml &&
	expect_exit 1 cidre server -n --config conf/bad.yml >out 2>&1 &&
	expect_grep "bad.yml:2:14: error: artifacts.expire_in: must be a duration" out &&
	expect_grep "bad.yml:3:16: error: artifacts.keep_latest: must be true or false" out &&
	expect_grep "bad.yml:5:13: error: retention.interval: must be a whole number from 1" out &&
	expect_grep "bad.yml:6:10: error: retention.grace: must be a duration" out &&
	expect_grep "bad.yml:8:14: error: audit.keep_days: must be a number of days" out
'

cat >pipeline.yml <<'YML'
short:
  script:
    - echo same >shared.txt
    - echo "short $CI_JOB_ID" >own.txt
  artifacts:
    paths: [shared.txt, own.txt]
    expire_in: 1 second
keeper:
  script:
    - echo same >shared.txt
    - echo keeper >mine.txt
  artifacts:
    paths: [shared.txt, mine.txt]
    expire_in: never
dflt:
  script: echo "dflt $CI_JOB_ID" >d.txt
  artifacts:
    paths: [d.txt]
keepme:
  script: echo "keepme $CI_JOB_ID" >k.txt
  artifacts:
    paths: [k.txt]
YML

test_expect_success 'set-up: a server with a short default expiry, a project' '
	config false &&
	start_server data &&
	unset CIDRE_CONFIG XDG_CONFIG_HOME &&
	bare_repo app <pipeline.yml &&
	add_project app app.git
'

test_expect_success 'each job gets its expiry: finish + expire_in, never, the default' '
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"main\"}" >p.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >p1.json &&
	jq -e ".status == \"success\"" p1.json &&
	keepme=$(job keepme <p1.json) &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre artifacts keep "$keepme" >out &&
	expect_grep "artifacts kept" out &&
	short=$(job short <p1.json) && keeper=$(job keeper <p1.json) && dflt=$(job dflt <p1.json) &&
	echo "$short $keeper $dflt $keepme" >ids &&
	api GET "/api/v1/jobs/$keeper/artifacts" | jq -e "length == 2 and all(.expire_at == null)" &&
	api GET "/api/v1/jobs/$keepme/artifacts" | jq -e ".[0].expire_at == null" &&
	api GET "/api/v1/jobs/$dflt" >d.json &&
	jq -e ".artifacts_expired_at == null" d.json &&
	fin=$(jq -r ".finished_at | sub(\"\\\\.[0-9]+Z$\"; \"Z\") | fromdate" d.json) &&
	exp=$(jq -r ".artifacts_expire_at | sub(\"\\\\.[0-9]+Z$\"; \"Z\") | fromdate" d.json) &&
	test $((exp - fin)) -ge 5 && test $((exp - fin)) -le 7 &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre artifacts list "$keeper" >out &&
	expect_grep "^never expire$" out &&
	sha_of "short $short" >own.sha && sha_of same >shared.sha &&
	sha_of "dflt $dflt" >d.sha &&
	blob_or_expired own.sha "$short" &&
	test "$(api GET "/api/v1/jobs/$keeper/artifacts" | jq -r ".[] | select(.path == \"shared.txt\") | .sha256")" = "$(cat shared.sha)" &&
	test -f "$(blob "$(cat shared.sha)")" && blob_or_expired d.sha "$dflt"
'

test_expect_success 'expire_in: 1 second: 410 with the message; its own blob goes, the shared one stays' '
	read short keeper dflt keepme <ids &&
	wait_for 15 gone "$short" &&
	expect_grep "^\{\"error\": ?\"the artifacts of job $short expired at 20[0-9-]+T[0-9:.]+Z\"" "$SCRATCH/.http-body" &&
	api GET "/api/v1/jobs/$short/artifacts/own.txt" >/dev/null && expect_status 410 &&
	expect_grep "expired at" "$SCRATCH/.http-body" &&
	wait_for 10 test ! -e "$(blob "$(cat own.sha)")" &&
	test -f "$(blob "$(cat shared.sha)")" &&
	test "$(api GET "/api/v1/jobs/$keeper/artifacts/shared.txt")" = same &&
	api GET "/api/v1/jobs/$short" | jq -e ".artifacts_expired_at != null" &&
	expect_exit 1 env CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN "$CIDRE_BIN" artifacts list "$short" 2>err &&
	expect_grep "^cidre: the artifacts of job $short expired at " err &&
	expect_exit 1 env CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN "$CIDRE_BIN" artifacts get "$short" -o dl 2>err &&
	expect_grep "expired at" err &&
	expect_exit 1 env CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN "$CIDRE_BIN" artifacts keep "$short" 2>err &&
	expect_grep "expired" err
'

test_expect_success 'the default applies; never and kept ones stay; the metrics count' '
	read short keeper dflt keepme <ids &&
	wait_for 15 gone "$dflt" &&
	wait_for 10 test ! -e "$(blob "$(cat d.sha)")" &&
	api GET "/api/v1/jobs/$keeper/artifacts" | jq -e "length == 2" &&
	api GET "/api/v1/jobs/$keepme/artifacts" | jq -e "length == 1" &&
	api GET "/api/v1/jobs/$keepme/artifacts/k.txt" | grep -q "^keepme " &&
	curl -sS "$URL/metrics" >m.txt &&
	expect_grep "^cidre_artifacts_expired_jobs_total [2-9]" m.txt &&
	expect_grep "^cidre_artifacts_removed_blobs_total [2-9]" m.txt &&
	expect_grep "^cidre_artifacts_removed_bytes_total [1-9]" m.txt &&
	rows_have_blobs
'

test_expect_success 'the web page says when artifacts expire or expired' '
	read short keeper dflt keepme <ids &&
	curl -sS "$URL/jobs/$keeper" >page.html &&
	expect_grep "never expire" page.html &&
	curl -sS "$URL/jobs/$short" >page.html &&
	expect_grep "expired (just now|[0-9]+ min ago)" page.html
'

cat >kl.yml <<'YML'
build:
  script:
    - echo "build $CI_PIPELINE_ID" >b.txt
    - test "$FAIL" != yes
  artifacts:
    when: always
    paths: [b.txt]
    expire_in: 1 second
YML

run_kl() {
	api POST /api/v1/projects/kl/pipelines "{\"ref\":\"main\"${1:-}}" >p.json &&
	wait_pipeline "$(jq -r .id p.json)" | job build
}

test_expect_success 'keep_latest (SIGHUP): the newest successful pipeline of a ref is kept' '
	config true && reload &&
	bare_repo kl <kl.yml &&
	add_project kl kl.git &&
	j1=$(run_kl) &&
	j2=$(run_kl ",\"variables\":{\"FAIL\":\"yes\"}") &&
	echo "$j1 $j2" >kl.ids &&
	wait_for 15 gone "$j2" &&
	: "j1 was due before j2: the round that took j2 kept j1" &&
	api GET "/api/v1/jobs/$j1/artifacts" | jq -e "length == 1 and .[0].expire_at != null"
'

test_expect_success 'keep_latest: a newer success releases the older one' '
	read j1 j2 <kl.ids &&
	j3=$(run_kl) &&
	wait_for 15 gone "$j1" &&
	api GET "/api/v1/jobs/$j3/artifacts" | jq -e "length == 1" &&
	rows_have_blobs
'

test_expect_success 'kill -9 between expiry and sweep: nothing kept is lost, the rest goes at start' '
	read short keeper dflt keepme <ids &&
	kill_server &&
	ksha=$(sqlite3 data/cidre.db "SELECT sha256 FROM artifacts WHERE job_id = $keepme") &&
	msha=$(sqlite3 data/cidre.db "SELECT sha256 FROM artifacts WHERE job_id = $keeper AND path = \"mine.txt\"") &&
	test -f "$(blob "$ksha")" &&
	sqlite3 data/cidre.db "BEGIN; UPDATE jobs SET artifacts_expired = 1 WHERE id = $keepme; DELETE FROM artifacts WHERE job_id = $keepme; COMMIT;" &&
	mv "$(blob "$msha")" "$(blob "$msha").reap" &&
	mkdir -p data/artifacts/ee &&
	printf orphan >data/artifacts/ee/$(printf "%062d" 0) &&
	start_server data &&
	wait_for 10 test ! -e "$(blob "$ksha")" &&
	wait_for 10 test ! -e data/artifacts/ee/$(printf "%062d" 0) &&
	test -f "$(blob "$msha")" && test ! -e "$(blob "$msha").reap" &&
	test "$(api GET "/api/v1/jobs/$keeper/artifacts/mine.txt")" = keeper &&
	test "$(api GET "/api/v1/jobs/$keeper/artifacts/shared.txt")" = same &&
	rows_have_blobs
'

test_expect_success 'kill -9 while artifacts expire: every row keeps its blob' '
	config false && reload &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"main\"}" >p.json &&
	wait_pipeline "$(jq -r .id p.json)" >p2.json &&
	wait_for 15 gone "$(job short <p2.json)" &&
	kill_server &&
	rows_have_blobs &&
	start_server data &&
	wait_for 15 gone "$(job dflt <p2.json)" &&
	rows_have_blobs &&
	test "$(api GET "/api/v1/jobs/$(job keeper <p2.json)/artifacts/shared.txt")" = same
'

test_expect_success 'audit.keep_days (a fraction of a day): old records are pruned' '
	api POST /api/v1/projects "{\"name\":\"old\",\"repo\":\"app.git\"}" >/dev/null &&
	api GET "/api/v1/audit" | jq -e "any(.[]; .target == \"old\")" &&
	config true 0.00002 && reload &&
	wait_for 15 sh -c "! curl -sS -H \"Authorization: Bearer $TOKEN\" $URL/api/v1/audit | jq -e \"any(.[]; .target == \\\"old\\\")\"" &&
	expect_grep "audit record" data.log
'

test_expect_success 'a job whose dependency'"'"'s artifacts expired fails (missing_dependency_failure)' '
	config false && reload &&
	cat >deps.yml <<-\YML &&
	stages: [build, use]
	make:
	  stage: build
	  script: echo made >x.txt
	  artifacts:
	    paths: [x.txt]
	    expire_in: 1 second
	use:
	  stage: use
	  when: manual
	  script: cat x.txt
	YML
	bare_repo deps <deps.yml &&
	add_project deps deps.git &&
	api POST /api/v1/projects/deps/pipelines "{\"ref\":\"main\"}" >dp.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id dp.json)" >dp1.json &&
	use=$(job use <dp1.json) &&
	jq -e ".jobs[] | select(.name == \"use\") | .status == \"manual\"" dp1.json &&
	wait_for 15 gone "$(job make <dp1.json)" &&
	api POST "/api/v1/jobs/$use/play" >/dev/null && expect_status 200 &&
	wait_for 15 job_status_is "$use" failed &&
	api GET "/api/v1/jobs/$use" | jq -e ".failure_reason == \"missing_dependency_failure\"" &&
	api GET "/api/v1/jobs/$use/log" >use.log &&
	expect_grep "the artifacts of job $(job make <dp1.json) \\(make\\), which this job needs, expired" use.log
'

test_done
