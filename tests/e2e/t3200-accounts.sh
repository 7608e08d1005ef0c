#!/bin/sh
# cidre server: users, password sessions with CSRF tokens, roles per
# project, anonymous read of public projects, personal API tokens,
# secret variables masked in logs, the audit log and the login rate limit.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

# as TOKEN METHOD PATH [JSON]: the API with TOKEN ("" for nobody); the
# body to stdout, the status to $STATUS_FILE (expect_status).
as() {
	refresh
	t=$1 m=$2 p=$3; shift 3
	set -- -sS -o "$SCRATCH/.http-body" -w '%{http_code}' -X "$m" ${1:+--data-binary "$1"} \
		-H 'Content-Type: application/json' "$URL$p"
	if [ -n "$t" ]; then
		command curl -H "Authorization: Bearer $t" "$@" >"$STATUS_FILE"
	else
		command curl "$@" >"$STATUS_FILE"
	fi
	rc=$?
	cat "$SCRATCH/.http-body"
	return $rc
}

# login USER PASSWORD: a session; the cookie jar in USER.jar, the CSRF
# token in USER.csrf.
login() {
	refresh
	command curl -sS -c "$1.jar" -D "$1.hdr" -o "$1.login" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' \
		--data-binary "{\"login\":\"$1\",\"password\":\"$2\"}" "$URL/api/v1/session" \
		>"$STATUS_FILE" &&
	expect_status 200 && jq -r .csrf "$1.login" >"$1.csrf"
}

# by_cookie USER METHOD PATH [JSON] [CSRF]: with USER's session cookie and
# CSRF header CSRF (default: the session's; "-" for none).
by_cookie() {
	refresh
	u=$1 m=$2 p=$3 body=${4:-} c=${5:-$(cat "$1.csrf")}
	set -- -sS -o "$SCRATCH/.http-body" -w '%{http_code}' -b "$u.jar" -X "$m" \
		-H 'Content-Type: application/json' ${body:+--data-binary "$body"}
	[ "$c" != - ] && set -- "$@" -H "X-CSRF-Token: $c"
	command curl "$@" "$URL$p" >"$STATUS_FILE"
	rc=$?
	cat "$SCRATCH/.http-body"
	return $rc
}

# token_for USER: USER's new API token (made through a session) in USER.tok
token_for() {
	by_cookie "$1" POST /api/v1/tokens "{\"name\":\"$1 laptop\"}" >"$1.tokjson" &&
	expect_status 201 && jq -r .token "$1.tokjson" >"$1.tok"
}

cat >pipeline.yml <<'YML'
job:
  script:
    - |
      printf 'whole: %s\n' "$SECRET_TOKEN"
      printf 'split: %s' "$(printf %s "$SECRET_TOKEN" | cut -c1-7)"
      sleep 0.2
      printf '%s\n' "$(printf %s "$SECRET_TOKEN" | cut -c8-)"
      printf 'plain: %s\n' "$PLAIN_VAR"
      if [ -n "$SPEC_DIR" ]; then
        test "$SECRET_TOKEN" = "s3cr3t-v4lue-xyz"
        printf 'spec mode %s\n' "$(stat -c %a "$SPEC_DIR"/slot-*.spec.json)"
      fi
YML

test_expect_success 'the administrator makes users; bad ones are refused' '
	start_server data &&
	bare_repo app <pipeline.yml &&
	add_project app "$SCRATCH/app.git" &&
	for u in alice bob carol dave erin; do
		api POST /api/v1/users "{\"login\":\"$u\",\"password\":\"pw-of-$u-1\",\"name\":\"$u\"}" \
			>u.json && expect_status 201 && jq -e ".login == \"$u\"" u.json || return 1
	done &&
	api POST /api/v1/users "{\"login\":\"alice\",\"password\":\"another-pw\"}" >/dev/null &&
	expect_status 409 &&
	api POST /api/v1/users "{\"login\":\"no/slash\",\"password\":\"pw-long-enough\"}" >/dev/null &&
	expect_status 400 &&
	api POST /api/v1/users "{\"login\":\"shorty\",\"password\":\"short\"}" >e.json &&
	expect_status 400 && jq -e ".error | test(\"password\")" e.json &&
	test "$(sqlite3 data/cidre.db "SELECT count(*) FROM users WHERE password LIKE \"\$argon2id\$v=19\$m=19456,t=2,p=1\$%\"")" = 5
'

test_expect_success 'a password login sets an HttpOnly SameSite cookie; /user says who' '
	login alice pw-of-alice-1 &&
	expect_grep "^Set-Cookie: cidre_session=[0-9a-f]{64}; Path=/; .*HttpOnly; SameSite=Lax" alice.hdr &&
	by_cookie alice GET /api/v1/user >me.json && expect_status 200 &&
	jq -e ".login == \"alice\" and .admin == false" me.json &&
	as "" POST /api/v1/session "{\"login\":\"alice\",\"password\":\"wrong-password\"}" >/dev/null &&
	expect_status 401 &&
	as "" GET /api/v1/user >/dev/null && expect_status 401 &&
	sed -n "s/.*cidre_session=\([0-9a-f]*\).*/\1/p" alice.hdr >alice.sid &&
	test "$(wc -c <alice.sid)" = 65
'

test_expect_success 'a state change by cookie needs the X-CSRF-Token' '
	by_cookie alice POST /api/v1/tokens "{\"name\":\"x\"}" - >e.json && expect_status 403 &&
	jq -e ".error | test(\"CSRF\")" e.json &&
	by_cookie alice POST /api/v1/tokens "{\"name\":\"x\"}" \
		"0000000000000000000000000000000000000000000000000000000000000000" \
		>/dev/null && expect_status 403 &&
	for u in alice bob carol dave erin; do login $u pw-of-$u-1 && token_for $u || return 1; done
'

test_expect_success 'members get roles; a non-member sees nothing' '
	api PUT /api/v1/projects/app/members/alice "{\"role\":\"viewer\"}" >/dev/null && expect_status 200 &&
	api PUT /api/v1/projects/app/members/bob "{\"role\":\"developer\"}" >/dev/null && expect_status 200 &&
	api PUT /api/v1/projects/app/members/carol "{\"role\":\"maintainer\"}" >/dev/null && expect_status 200 &&
	api PUT /api/v1/projects/app/members/carol "{\"role\":\"owner\"}" >/dev/null && expect_status 400 &&
	api PUT /api/v1/projects/app/members/nobody "{\"role\":\"viewer\"}" >/dev/null && expect_status 404 &&
	as "$(cat dave.tok)" GET /api/v1/projects/app >/dev/null && expect_status 404 &&
	as "$(cat dave.tok)" GET /api/v1/projects >l.json && expect_status 200 && jq -e "length == 0" l.json &&
	as "$(cat alice.tok)" GET /api/v1/projects >l.json && jq -e "length == 1 and .[0].name == \"app\"" l.json &&
	as "$(cat alice.tok)" GET /api/v1/projects/app >p.json && expect_status 200 &&
	jq -e ".role == \"viewer\" and (has(\"hook_secret\") | not)" p.json &&
	as "$(cat bob.tok)" PUT /api/v1/projects/app/members/dave "{\"role\":\"maintainer\"}" >/dev/null &&
	expect_status 403 &&
	as "$(cat carol.tok)" GET /api/v1/projects/app/members >m.json && expect_status 200 &&
	jq -e "length == 3" m.json
'

test_expect_success 'a viewer cannot trigger, a developer can; the pipeline is hidden from others' '
	as "$(cat alice.tok)" POST /api/v1/projects/app/pipelines "{}" >e.json && expect_status 403 &&
	jq -e ".error | test(\"developer\")" e.json &&
	as "$(cat dave.tok)" POST /api/v1/projects/app/pipelines "{}" >/dev/null && expect_status 404 &&
	as "" POST /api/v1/projects/app/pipelines "{}" >/dev/null && expect_status 401 &&
	as "$(cat bob.tok)" POST /api/v1/projects/app/pipelines "{}" >p.json && expect_status 201 &&
	id=$(jq -r .id p.json) && echo "$id" >first.id &&
	wait_pipeline "$id" >/dev/null &&
	jid=$(as "$(cat alice.tok)" GET "/api/v1/pipelines/$id" | jq -r ".jobs[0].id") &&
	expect_status 200 &&
	as "$(cat alice.tok)" GET "/api/v1/jobs/$jid/log" >/dev/null && expect_status 200 &&
	as "$(cat alice.tok)" POST "/api/v1/jobs/$jid/retry" >/dev/null && expect_status 403 &&
	as "$(cat dave.tok)" GET "/api/v1/pipelines/$id" >/dev/null && expect_status 404 &&
	as "$(cat dave.tok)" GET "/api/v1/jobs/$jid/log" >/dev/null && expect_status 404 &&
	as "$(cat dave.tok)" GET "/api/v1/pipelines" >l.json && jq -e "length == 0" l.json &&
	as "$(cat bob.tok)" POST "/api/v1/jobs/$jid/retry" >/dev/null && expect_status 201
'

test_expect_success 'anonymous readers see a project only once a maintainer makes it public' '
	as "" GET /api/v1/projects/app >/dev/null && expect_status 404 &&
	as "" GET /api/v1/projects >l.json && jq -e "length == 0" l.json &&
	as "$(cat bob.tok)" PATCH /api/v1/projects/app "{\"public\":true}" >/dev/null && expect_status 403 &&
	as "$(cat carol.tok)" PATCH /api/v1/projects/app "{\"public\":\"yes\"}" >/dev/null && expect_status 400 &&
	as "$(cat carol.tok)" PATCH /api/v1/projects/app "{\"public\":true}" >p.json && expect_status 200 &&
	jq -e ".public == true" p.json &&
	as "" GET /api/v1/projects >l.json && jq -e "length == 1" l.json &&
	as "" GET "/api/v1/pipelines/$(cat first.id)" >/dev/null && expect_status 200 &&
	as "" GET /api/v1/pipelines >l.json && jq -e "length >= 1" l.json &&
	as "$(cat dave.tok)" GET /api/v1/projects/app >p.json && jq -e ".role == \"viewer\"" p.json &&
	as "" POST /api/v1/projects/app/pipelines "{}" >/dev/null && expect_status 401 &&
	as "$(cat dave.tok)" POST /api/v1/projects/app/pipelines "{}" >/dev/null && expect_status 403 &&
	as "$(cat carol.tok)" PATCH /api/v1/projects/app "{\"public\":false}" >/dev/null && expect_status 200 &&
	as "" GET /api/v1/projects/app >/dev/null && expect_status 404
'

test_expect_success 'tokens: listed without their secret, revocable, a revoked one gets 401' '
	as "$(cat alice.tok)" POST /api/v1/tokens "{\"name\":\"ci\"}" >t.json && expect_status 201 &&
	tok=$(jq -r .token t.json) && tid=$(jq -r .id t.json) &&
	as "$tok" GET /api/v1/tokens >l.json && expect_status 200 &&
	jq -e "length == 2 and all(has(\"token\") | not)" l.json &&
	! grep -q "$tok" l.json && echo "$tok" >alice2.tok &&
	as "$(cat bob.tok)" DELETE "/api/v1/tokens/$tid" >/dev/null && expect_status 404 &&
	as "$tok" GET /api/v1/user >/dev/null && expect_status 200 &&
	as "$(cat alice.tok)" DELETE "/api/v1/tokens/$tid" >/dev/null && expect_status 200 &&
	as "$tok" GET /api/v1/user >/dev/null && expect_status 401 &&
	as "$tok" GET /api/v1/projects >/dev/null && expect_status 401 &&
	as "$(cat alice.tok)" GET /api/v1/tokens >l.json &&
	jq -e "[.[] | select(.id == $tid)][0].revoked == true" l.json
'

test_expect_success 'secret variables: a maintainer sets them, nobody reads them back' '
	as "$(cat bob.tok)" PUT /api/v1/projects/app/variables/SECRET_TOKEN \
		"{\"value\":\"s3cr3t-v4lue-xyz\",\"masked\":true}" >/dev/null && expect_status 403 &&
	as "$(cat carol.tok)" PUT /api/v1/projects/app/variables/SECRET_TOKEN \
		"{\"value\":\"short\",\"masked\":true}" >e.json && expect_status 400 &&
	jq -e ".error | test(\"at least 8\")" e.json &&
	as "$(cat carol.tok)" PUT /api/v1/projects/app/variables/1BAD "{\"value\":\"x\"}" >/dev/null &&
	expect_status 400 &&
	as "$(cat carol.tok)" PUT /api/v1/projects/app/variables/SECRET_TOKEN \
		"{\"value\":\"s3cr3t-v4lue-xyz\",\"masked\":true}" >v.json && expect_status 201 &&
	as "$(cat carol.tok)" PUT /api/v1/projects/app/variables/PLAIN_VAR \
		"{\"value\":\"visible-value\"}" >/dev/null && expect_status 201 &&
	as "$(cat carol.tok)" GET /api/v1/projects/app/variables >l.json && expect_status 200 &&
	jq -e "length == 2 and .[1].key == \"SECRET_TOKEN\" and .[1].masked == true" l.json &&
	! grep -q "s3cr3t" l.json v.json &&
	as "$(cat alice.tok)" GET /api/v1/projects/app/variables >/dev/null && expect_status 403
'

test_expect_success 'a job gets the secrets; the masked one never reaches the log, even split' '
	as "$(cat bob.tok)" POST /api/v1/projects/app/pipelines \
		"{\"variables\":{\"SPEC_DIR\":\"$SCRATCH/data/work\"}}" >p.json && expect_status 201 &&
	id=$(jq -r .id p.json) &&
	wait_pipeline "$id" >done.json &&
	jq -e ".status == \"success\"" done.json &&
	jid=$(jq -r ".jobs[0].id" done.json) &&
	as "$(cat bob.tok)" GET "/api/v1/jobs/$jid/log" >log.txt &&
	expect_grep "^whole: \[MASKED\]$" log.txt &&
	expect_grep "^split: \[MASKED\]$" log.txt &&
	expect_grep "^plain: visible-value$" log.txt &&
	expect_grep "^spec mode 600$" log.txt &&
	! grep -q "s3cr3t" log.txt data/logs/*.log &&
	as "$(cat bob.tok)" GET "/api/v1/pipelines/$id" >p2.json &&
	as "$(cat bob.tok)" GET "/api/v1/jobs/$jid" >j2.json &&
	! grep -q "s3cr3t" p2.json j2.json &&
	# the slot spec is wiped once the job is over: no secret at rest
	! grep -q "s3cr3t" data/work/*.spec.json
'

test_expect_success 'every state change is in the audit log: who, what, from where' '
	as "$(cat alice.tok)" GET /api/v1/audit >/dev/null && expect_status 403 &&
	api GET "/api/v1/audit?per_page=100" >a.json && expect_status 200 &&
	for a in user.create session.create token.create member.set project.update \
		pipeline.create job.retry token.revoke variable.set; do
		jq -e "any(.[]; .action == \"$a\")" a.json >/dev/null ||
			{ echo "no $a in the audit log" >&2; return 1; }
	done &&
	jq -e "any(.[]; .action == \"user.create\" and .actor == \"admin-token\" and .target == \"alice\")" a.json &&
	jq -e "any(.[]; .action == \"variable.set\" and .actor == \"carol\" and .remote == \"127.0.0.1\")" a.json &&
	jq -e "any(.[]; .action == \"pipeline.create\" and .actor == \"bob\")" a.json &&
	jq -e "all(.[]; .time | test(\"^20..-..-..T\"))" a.json &&
	! grep -q "s3cr3t" a.json &&
	api GET "/api/v1/audit?per_page=2&page=2" >a2.json && jq -e "length == 2" a2.json
'

test_expect_success 'logout ends the session' '
	by_cookie erin DELETE /api/v1/session "" - >/dev/null && expect_status 403 &&
	by_cookie erin DELETE /api/v1/session >/dev/null && expect_status 200 &&
	by_cookie erin GET /api/v1/user >/dev/null && expect_status 401
'

test_expect_success 'logins are rate-limited: the sixth try in a minute gets 429' '
	for i in 1 2 3 4 5; do
		as "" POST /api/v1/session "{\"login\":\"erin\",\"password\":\"guess-$i\"}" >/dev/null &&
		expect_status 401 || return 1
	done &&
	as "" POST /api/v1/session "{\"login\":\"erin\",\"password\":\"pw-of-erin-1\"}" >e.json &&
	expect_status 429 && jq -e ".error | test(\"too many\")" e.json &&
	as "$(cat erin.tok)" GET /api/v1/user >/dev/null && expect_status 200
'

test_expect_success 'the command line: user add/list, token create/list/revoke, member, variable' '
	refresh &&
	printf "pw-of-frank-1\n" | CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN \
		cidre user add frank --name "Frank F" --email f@example.invalid --password-stdin >out &&
	expect_grep "^user frank added$" out &&
	printf "pw-of-frank-1\n" | expect_exit 1 env CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN \
		"$CIDRE_BIN" user add frank --password-stdin >out 2>&1 &&
	expect_grep "^cidre: .*exists" out &&
	expect_exit 2 env CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN "$CIDRE_BIN" user add gina \
		--password-stdin </dev/null >out 2>&1 &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre user list >out &&
	expect_grep "^frank +Frank F +f@example.invalid +no$" out &&
	expect_exit 1 env CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat bob.tok) "$CIDRE_BIN" user list >out 2>&1 &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat carol.tok) cidre project member app frank developer >out &&
	expect_grep "^frank is developer of app$" out &&
	login frank pw-of-frank-1 && token_for frank &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat frank.tok) cidre token create "deploy box" >tok 2>err &&
	expect_grep "^cidre_[0-9a-f]{48}$" tok && expect_grep "shown only this once" err &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat tok) cidre trigger app >out &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat frank.tok) cidre token list >out &&
	expect_grep "deploy box +.* active$" out && ! grep -q "$(cat tok)" out &&
	id=$(sed -n "s/^ *\([0-9]*\) *deploy box.*/\1/p" out) &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat frank.tok) cidre token revoke "$id" >out &&
	expect_grep "^token $id revoked$" out &&
	expect_exit 1 env CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat tok) "$CIDRE_BIN" trigger app >out 2>&1 &&
	printf "from-stdin-secret\n" | CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat carol.tok) \
		cidre variable set app STDIN_SECRET --stdin --masked >out &&
	expect_grep "^variable STDIN_SECRET of app set \(masked\)$" out &&
	expect_exit 1 env CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat carol.tok) "$CIDRE_BIN" \
		variable set app SHORT abc --masked >out 2>&1 &&
	expect_grep "at least 8" out &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat carol.tok) cidre variable list app >out &&
	expect_grep "^STDIN_SECRET +yes +no$" out && ! grep -q "from-stdin" out &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat carol.tok) cidre variable rm app STDIN_SECRET >out &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat carol.tok) cidre variable list app >out &&
	expect_no_grep STDIN_SECRET out &&
	expect_exit 1 env CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat frank.tok) "$CIDRE_BIN" \
		variable list app >out 2>&1 &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat carol.tok) cidre project member app frank --remove >out &&
	expect_exit 1 env CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat frank.tok) "$CIDRE_BIN" \
		status app >out 2>&1 &&
	expect_grep "project app not found" out
'

test_expect_success 'a password change ends the sessions; a disabled user is shut out' '
	refresh &&
	login frank pw-of-frank-1 &&
	as "$(cat frank.tok)" PATCH /api/v1/users/alice "{\"password\":\"new-alice-pw\"}" >/dev/null &&
	expect_status 403 &&
	as "$(cat frank.tok)" PATCH /api/v1/users/frank "{\"password\":\"new-frank-pw\"}" >/dev/null &&
	expect_status 400 &&
	as "$(cat frank.tok)" PATCH /api/v1/users/frank \
		"{\"password\":\"new-frank-pw\",\"current_password\":\"wrong-one\"}" >/dev/null &&
	expect_status 403 &&
	as "$(cat frank.tok)" PATCH /api/v1/users/frank "{\"disabled\":false}" >/dev/null &&
	expect_status 403 &&
	printf "pw-of-frank-1\nnew-frank-pw\n" | CIDRE_SERVER=$URL CIDRE_TOKEN=$(cat frank.tok) \
		cidre user passwd frank --current --password-stdin >out &&
	expect_grep "^frank has a new password$" out &&
	by_cookie frank GET /api/v1/user >/dev/null && expect_status 401 &&
	as "" POST /api/v1/session "{\"login\":\"frank\",\"password\":\"pw-of-frank-1\"}" >/dev/null &&
	expect_status 401 &&
	login frank new-frank-pw &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre user disable frank >out &&
	expect_grep "^frank is disabled$" out &&
	as "$(cat frank.tok)" GET /api/v1/user >/dev/null && expect_status 401 &&
	by_cookie frank GET /api/v1/user >/dev/null && expect_status 401 &&
	as "" POST /api/v1/session "{\"login\":\"frank\",\"password\":\"new-frank-pw\"}" >/dev/null &&
	expect_status 401 &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre user enable frank >out &&
	as "$(cat frank.tok)" GET /api/v1/user >me.json && expect_status 200 &&
	jq -e ".disabled == false" me.json &&
	printf "admin-set-pw\n" | CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN \
		cidre user passwd frank --password-stdin >out &&
	login frank admin-set-pw &&
	api GET "/api/v1/audit?per_page=100" >a.json &&
	jq -e "any(.[]; .action == \"user.update\" and .actor == \"frank\" and .detail == \"password\")" a.json &&
	jq -e "any(.[]; .action == \"user.update\" and .actor == \"admin-token\" and .detail == \"disabled true\")" a.json
'

test_expect_success 'limits: 100 live tokens a user, 20 sessions a user, 200 variables a project' '
	refresh &&
	n=1 && while [ $n -lt 100 ]; do
		command curl -sS -o /dev/null -H "Authorization: Bearer $(cat dave.tok)" \
			-d "{\"name\":\"t$n\"}" "$URL/api/v1/tokens" || return 1
		n=$((n + 1))
	done &&
	as "$(cat dave.tok)" POST /api/v1/tokens "{\"name\":\"one too many\"}" >e.json &&
	expect_status 409 && jq -e ".error | test(\"at most 100\")" e.json &&
	tid=$(as "$(cat dave.tok)" GET /api/v1/tokens | jq ".[-1].id") &&
	as "$(cat dave.tok)" DELETE "/api/v1/tokens/$tid" >/dev/null && expect_status 200 &&
	as "$(cat dave.tok)" POST /api/v1/tokens "{\"name\":\"now it fits\"}" >/dev/null &&
	expect_status 201 &&
	n=0 && while [ $n -lt 21 ]; do
		command curl -sS -o /dev/null -c "s$n.jar" -d "{\"login\":\"dave\",\"password\":\"pw-of-dave-1\"}" \
			"$URL/api/v1/session" || return 1
		n=$((n + 1))
	done &&
	by_cookie s20 GET /api/v1/user "" - >/dev/null && expect_status 200 &&
	by_cookie s1 GET /api/v1/user "" - >/dev/null && expect_status 200 &&
	by_cookie s0 GET /api/v1/user "" - >/dev/null && expect_status 401 &&
	by_cookie dave GET /api/v1/user "" - >/dev/null && expect_status 401 &&
	n=$(as "$(cat carol.tok)" GET /api/v1/projects/app/variables | jq length) &&
	while [ "$n" -lt 200 ]; do
		command curl -sS -o /dev/null -X PUT -H "Authorization: Bearer $(cat carol.tok)" \
			-d "{\"value\":\"v\"}" "$URL/api/v1/projects/app/variables/V$n" || return 1
		n=$((n + 1))
	done &&
	as "$(cat carol.tok)" PUT /api/v1/projects/app/variables/ONE_MORE "{\"value\":\"v\"}" >e.json &&
	expect_status 400 && jq -e ".error | test(\"at most 200\")" e.json &&
	as "$(cat carol.tok)" PUT /api/v1/projects/app/variables/V10 "{\"value\":\"changed\"}" >/dev/null &&
	expect_status 200
'

test_expect_success 'at rest: only hashes of session ids and tokens, argon2id passwords' '
	stop_server &&
	test "$(sqlite3 data/cidre.db "SELECT count(*) FROM sessions WHERE user_id = 1")" -ge 1 &&
	sqlite3 data/cidre.db .dump >dump.sql &&
	! grep -q "$(cat alice.sid)" dump.sql &&
	! grep -q "$(cat alice2.tok)" dump.sql && ! grep -q "$(cat bob.tok)" dump.sql &&
	! grep -q "pw-of-" dump.sql &&
	test "$(sqlite3 data/cidre.db "SELECT count(*) FROM users WHERE password LIKE \"\$argon2id\$%\"")" = 6
'

test_done
