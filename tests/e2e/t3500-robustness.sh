#!/bin/sh
# cidre server against bad input: every route asked with bad bodies,
# parameters, methods, headers and cookies answers a 4xx with a clear
# error (JSON for the API, an HTML page for the web UI), nothing refused
# is recorded, and the server stays up (under ASan: without a report).
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

# req STATUS METHOD PATH [BODY|@FILE] [CURL-ARGS...]: with the admin token
# unless CURL-ARGS carry an Authorization or Cookie of their own ("-H
# Authorization:" with nothing sends none); the body to req.body.
req() {
	want=$1 m=$2 p=$3 body=${4:-}
	[ $# -ge 4 ] && shift 4 || shift $#
	case " $* " in
	*Authorization*|*PRIVATE-TOKEN*|*Cookie*|*" -b "*) auth= ;;
	*) auth="Authorization: Bearer $TOKEN" ;;
	esac
	got=$(command curl -sS -m 10 --path-as-is -o req.body -D req.hdr -w '%{http_code}' -X "$m" \
		${auth:+-H "$auth"} ${body:+--data-binary "$body"} "$@" "$URL$p") || {
		echo "curl failed: $m $p" >&2; return 1; }
	[ "$got" = "$want" ] || {
		echo "$m $p: expected $want, got $got: $(head -c 300 req.body)" >&2; return 1; }
}

# a JSON error object with the status in it and a non-empty message (the
# server's compact JSON; grep, not jq: the battery is a hundred requests)
json_error() {
	grep -q "^{\"error\":\"[^\"]" req.body && grep -q "\"status\":$1}\$" req.body ||
		{ echo "not a JSON error: $(head -c 300 req.body)" >&2; return 1; }
}

html_error() {
	grep -qi '^content-type: text/html' req.hdr && grep -q '<html' req.body ||
		{ echo "not an HTML page: $(head -c 300 req.body)" >&2; return 1; }
}

# battery FILE: lines "STATUS METHOD PATH [BODY|@FILE [WORDS]]"
# (tab-separated); each must answer STATUS with a JSON error (paths under
# /api/, /healthz) or an HTML error page (the web UI's) that says WORDS.
battery() {
	n=0 bad=0
	while IFS='	' read -r st m p b w; do
		case "$st" in ''|'#'*) continue ;; esac
		n=$((n + 1))
		req "$st" "$m" "$p" "$b" || { bad=$((bad + 1)); continue; }
		case "$p" in
		/api/*|/healthz*|/metrics*) json_error "$st" ;;
		*) html_error ;;
		esac && { [ -z "$w" ] || grep -qF -- "$w" req.body; } ||
			{ echo "  ($m $p: $(head -c 200 req.body))" >&2; bad=$((bad + 1)); }
	done <"$1"
	echo "# $n bad requests, $bad answered wrong" >&2
	[ "$bad" = 0 ]
}

# snapshot: what the store holds, as the administrator sees it (logins,
# good or bad, are in the audit log on purpose: not compared)
snapshot() {
	for p in /api/v1/projects /api/v1/users /api/v1/tokens /api/v1/pipelines \
		"/api/v1/audit?per_page=100" /api/v1/projects/app/members \
		/api/v1/projects/app/variables /api/v1/projects/app/notifications \
		/api/v1/projects/app/deliveries /api/v1/projects/app/pipelines; do
		req 200 GET "$p" && jq -S 'del(.. | .last_used?, .last_seen?, .last_used_at?, .last_seen_at?) |
			if type == "array" then map(select((.action? // "") | startswith("session.") | not))
			else . end' req.body || return 1
	done
}

cat >pipeline.yml <<'YML'
job:
  script:
    - echo hello
YML

test_expect_success 'a server with users, a project, a pipeline' '
	start_server data &&
	bare_repo app <pipeline.yml &&
	add_project app "$SCRATCH/app.git" &&
	api POST /api/v1/users "{\"login\":\"alice\",\"password\":\"pw-of-alice-1\"}" >/dev/null &&
	expect_status 201 &&
	api PUT /api/v1/projects/app/members/alice "{\"role\":\"developer\"}" >/dev/null &&
	expect_status 200 &&
	api PUT /api/v1/projects/app/variables/KEY "{\"value\":\"v\"}" >/dev/null &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"main\"}" >p.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >done.json &&
	jq -e ".status == \"success\"" done.json &&
	snapshot >before.json
'

# bodies of their own
printf '{"login":"x\\u0000y","password":"pw-long-enough"}' >nul.json
printf '{"login":"x\377y","password":"pw-long-enough"}' >utf8.json
printf '{"login":"zed","login":"zed2","password":"pw-long-enough"}' >dup.json
printf '{"ref":"main","variables":{"A":"%s"}}' "$(head -c 20000 /dev/zero | tr '\0' a)" >longvar.json
head -c 2000000 /dev/zero | tr '\0' a >huge.txt
printf '{"login":"%s","password":"pw-long-enough"}' "$(head -c 5000 /dev/zero | tr '\0' a)" >longlogin.json
printf '[%s1%s]' "$(head -c 100000 /dev/zero | tr '\0' '[')" "$(head -c 100000 /dev/zero | tr '\0' ']')" >deep.json
long=$(head -c 5000 /dev/zero | tr '\0' a)

cat >api.tab <<EOT
# routes and methods
404	GET	/api/v1/nothing
404	GET	/api/v1/projects/app/nothing/more
405	PUT	/api/v1/projects
405	DELETE	/api/v1/users
405	POST	/api/v1/pipelines/1
405	PATCH	/api/v1/jobs/1
# bodies
400	POST	/api/v1/users	{
400	POST	/api/v1/users	[]
400	POST	/api/v1/users	null
400	POST	/api/v1/users	"str"
400	POST	/api/v1/users	12
400	POST	/api/v1/users	{}
400	POST	/api/v1/users	{"login":12,"password":"pw-long-enough"}
400	POST	/api/v1/users	{"login":null,"password":"pw-long-enough"}
400	POST	/api/v1/users	{"login":["a"],"password":"pw-long-enough"}
400	POST	/api/v1/users	{"login":"bob","password":{}}
400	POST	/api/v1/users	{"login":"bob","password":"pw-long-enough","admin":"yes"}
400	POST	/api/v1/users	{"login":"","password":"pw-long-enough"}
400	POST	/api/v1/users	{"login":"../x","password":"pw-long-enough"}
400	POST	/api/v1/users	{"login":"bob","password":"pw-long-enough","name":1e400}
400	POST	/api/v1/users	@nul.json	malformed JSON
400	POST	/api/v1/users	@utf8.json	malformed JSON
400	POST	/api/v1/users	@dup.json	duplicate
400	POST	/api/v1/users	@longlogin.json	login
400	POST	/api/v1/users	@deep.json
413	POST	/api/v1/users	@huge.txt	too large
400	PATCH	/api/v1/users/alice	{"admin":1}
400	PATCH	/api/v1/users/alice	{"disabled":"no"}
404	PATCH	/api/v1/users/nobody	{"disabled":true}
400	POST	/api/v1/projects	{"name":"x"}
400	POST	/api/v1/projects	{"name":"a/b","repo":"/tmp/x.git"}
400	POST	/api/v1/projects	{"name":"..","repo":"/tmp/x.git"}
400	POST	/api/v1/projects	{"name":"$long","repo":"/tmp/x.git"}
400	POST	/api/v1/projects	{"name":"ok","repo":12}	repo must be a string
400	POST	/api/v1/projects	{"name":"ok","repo":"/tmp/x.git","poll_interval":-1}	poll_interval
400	POST	/api/v1/projects	{"name":"ok","repo":"/tmp/x.git","poll_interval":604801}	poll_interval
400	POST	/api/v1/projects	{"name":"ok","repo":"/tmp/x.git","poll_interval":99999999999999999999}
400	POST	/api/v1/projects	{"name":"ok","repo":"/tmp/x.git","poll_interval":"60"}	poll_interval
400	POST	/api/v1/projects	{"name":"ok","repo":"/tmp/x.git","branches":"$long"}	branches
400	POST	/api/v1/projects	{"name":"ok","repo":"/tmp/x.git","branches":["main"]}	branches
400	PATCH	/api/v1/projects/app	{"public":"true"}
400	PATCH	/api/v1/projects/app	{"public":null}
400	PATCH	/api/v1/projects/app	[true]
400	POST	/api/v1/projects/app/pipelines	{"ref":12}
400	POST	/api/v1/projects/app/pipelines	{"ref":"main","variables":[]}
400	POST	/api/v1/projects/app/pipelines	{"ref":"main","variables":{"A":1}}
400	POST	/api/v1/projects/app/pipelines	{"ref":"main","variables":{"A":null}}
400	POST	/api/v1/projects/app/pipelines	@longvar.json
400	POST	/api/v1/projects/app/pipelines	{"ref":"$long"}
400	PUT	/api/v1/projects/app/members/alice	{"role":"owner"}	role
400	PUT	/api/v1/projects/app/members/alice	{"role":3}
400	PUT	/api/v1/projects/app/members/alice	{}
404	PUT	/api/v1/projects/app/members/nobody	{"role":"viewer"}
404	DELETE	/api/v1/projects/app/members/nobody
400	PUT	/api/v1/projects/app/variables/KEY	{"value":12}
400	PUT	/api/v1/projects/app/variables/KEY	{"value":"v","masked":"yes"}
400	PUT	/api/v1/projects/app/variables/KEY	{}
400	PUT	/api/v1/projects/app/variables/1BAD	{"value":"v"}
400	PUT	/api/v1/projects/app/variables/A%2FB	{"value":"v"}
400	PUT	/api/v1/projects/app/variables/$long	{"value":"v"}
404	DELETE	/api/v1/projects/app/variables/NOPE
400	POST	/api/v1/tokens	{"name":12}
400	POST	/api/v1/tokens	{"name":"$long"}
404	DELETE	/api/v1/tokens/999999
400	DELETE	/api/v1/tokens/0
400	DELETE	/api/v1/tokens/-1
400	DELETE	/api/v1/tokens/abc
400	DELETE	/api/v1/tokens/99999999999999999999999
400	POST	/api/v1/session	{"login":"alice"}
400	POST	/api/v1/session	{"login":1,"password":2}
401	POST	/api/v1/session	{"login":"alice","password":"wrong-password"}
400	PUT	/api/v1/projects/app/notifications	[]
400	PUT	/api/v1/projects/app/notifications	{"webhooks":"x"}
400	PUT	/api/v1/projects/app/notifications	{"webhooks":[{"url":12}]}
400	PUT	/api/v1/projects/app/notifications	{"webhooks":[{"url":"ftp://x"}]}
400	PUT	/api/v1/projects/app/notifications	{"email":{"to":[1]}}
400	POST	/api/v1/hook	{
400	POST	/api/v1/hook	{"project":12}
401	POST	/api/v1/webhooks/nothing	{}
400	POST	/api/v1/webhooks/app	{}
404	DELETE	/api/v1/projects/nothing
404	PATCH	/api/v1/users/$long	{"disabled":true}
404	PUT	/api/v1/projects/nothing/notifications	{}
404	GET	/api/v1/projects/nothing/deliveries
# ids and names in paths
400	GET	/api/v1/pipelines/0
400	GET	/api/v1/pipelines/-1
400	GET	/api/v1/pipelines/1x
400	GET	/api/v1/pipelines/99999999999999999999
404	GET	/api/v1/pipelines/9223372036854775807
404	GET	/api/v1/jobs/9223372036854775807
404	GET	/api/v1/jobs/9223372036854775807/log
404	GET	/api/v1/jobs/9223372036854775807/artifacts
400	GET	/api/v1/jobs/1/artifacts/..%2F..%2Fetc%2Fpasswd
400	GET	/api/v1/jobs/1/artifacts/../../../etc/passwd
400	GET	/api/v1/jobs/1/artifacts/%00
404	POST	/api/v1/jobs/9223372036854775807/retry
404	POST	/api/v1/pipelines/9223372036854775807/cancel
404	GET	/api/v1/projects/nothing
400	GET	/api/v1/projects/..
400	GET	/api/v1/projects/app%2F..
404	GET	/api/v1/projects/app%2Fx
400	GET	/api/v1/projects/%2e%2e
400	GET	/api/v1/projects/%
400	GET	/api/v1/projects/%zz
404	GET	/api/v1/projects/$long
400	GET	/api/v1/projects/a%00b
400	POST	/api/v1/projects/app/deliveries/0/redeliver
400	POST	/api/v1/projects/app/deliveries/x/redeliver
404	POST	/api/v1/projects/app/deliveries/9223372036854775807/redeliver
# queries
400	GET	/api/v1/jobs/1/log?offset=-1
400	GET	/api/v1/jobs/1/log?limit=x
400	GET	/api/v1/jobs/1/log?offset=
400	GET	/api/v1/jobs/1/log/stream?offset=-1
400	GET	/api/v1/jobs/1/log/stream?offset=1e3
400	GET	/api/v1/pipelines?per_page=0
400	GET	/api/v1/pipelines?per_page=-1
400	GET	/api/v1/pipelines?per_page=1000000000000
400	GET	/api/v1/pipelines?per_page=
400	GET	/api/v1/pipelines?page=0
400	GET	/api/v1/pipelines?page=-5
400	GET	/api/v1/pipelines?page=99999999999999
400	GET	/api/v1/pipelines?before=x
400	GET	/api/v1/projects/app/pipelines?per_page=abc
400	GET	/api/v1/projects/app/deliveries?limit=0
400	GET	/api/v1/projects/app/deliveries?limit=100000000
400	GET	/api/v1/audit?per_page=-1
400	GET	/api/v1/audit?page=x
EOT

test_expect_success 'the API: bad methods, bodies, ids, names and queries' '
	refresh &&
	battery api.tab
'

test_expect_success 'paging beyond the end is an empty page, not an error' '
	req 200 GET "/api/v1/pipelines?page=999999" &&
	jq -e "length == 0" req.body
'

cat >web.tab <<EOT
404	GET	/nothing
404	GET	/p/nothing
400	GET	/p/%2e%2e
404	GET	/p/$long
404	GET	/pipelines/0
404	GET	/pipelines/-1
404	GET	/pipelines/x
404	GET	/pipelines/9223372036854775807
404	GET	/jobs/99999999999999999999
400	GET	/static/..%2Fetc%2Fpasswd
404	GET	/static/nothing.css
405	PUT	/login
405	DELETE	/jobs/1
EOT

test_expect_success 'the web UI: bad paths and methods get an HTML error page' '
	battery web.tab
'

test_expect_success 'the web UI: odd queries are shown inert or ignored' '
	jid=$(jq -r ".jobs[0].id" done.json) &&
	for q in "/p/app?page=-1&status=%3Cx%3E&ref=%3Cy%3E" "/p/app?page=99999999999999999999" \
		"/p/app?page=2147483647&ref=%00" "/p/app/pipelines.atom?ref=%3Cz%3E" \
		"/p/app/badge.svg?ref=%3Cw%3E" "/login?next=%22%3E%3Cv%3E" "/jobs/$jid?offset=-1" \
		"/p/app?ref=$long"; do
		req 200 GET "$q" && ! grep -q "<[vwxyz]>" req.body || { echo "  ($q)" >&2; return 1; }
	done
'

test_expect_success 'log reads far beyond the end are empty and end' '
	jid=$(jq -r ".jobs[0].id" done.json) &&
	req 200 GET "/api/v1/jobs/$jid/log?offset=99999999999&limit=5" &&
	test ! -s req.body &&
	req 200 GET "/api/v1/jobs/$jid/log/stream?offset=18446744073709551615" &&
	req 400 GET "/api/v1/jobs/$jid/log/stream" "" -H "Last-Event-ID: abc" && json_error 400
'

test_expect_success 'bad Authorization headers and cookies are 401, never a crash' '
	for h in "Authorization:" "Authorization: Bearer" "Authorization: Bearer " \
		"Authorization: Basic YTpi" "Authorization: Bearer $long" \
		"Authorization: Bearer $(printf "\303\251\377")" "PRIVATE-TOKEN: x" \
		"Cookie: cidre_session=" "Cookie: cidre_session=zz" \
		"Cookie: cidre_session=$long" "Cookie: ;;;;=;cidre_session" \
		"Cookie: cidre_session=0000000000000000000000000000000000000000000000000000000000000000"; do
		req 401 GET /api/v1/user "" -H "$h" && json_error 401 || { echo "  ($h)" >&2; return 1; }
	done &&
	many=$(i=0; while [ $i -lt 200 ]; do printf "c%d=v; " $i; i=$((i + 1)); done) &&
	req 401 GET /api/v1/user "" -H "Cookie: ${many}cidre_session=ff" &&
	req 200 GET /api/v1/version "" -H "Cookie: $many"
'

test_expect_success 'a session cookie without a good CSRF header changes nothing' '
	command curl -sS -c alice.jar -o login.json -H "Content-Type: application/json" \
		--data-binary "{\"login\":\"alice\",\"password\":\"pw-of-alice-1\"}" \
		"$URL/api/v1/session" &&
	csrf=$(jq -r .csrf login.json) && test -n "$csrf" &&
	for c in "" "X-CSRF-Token:" "X-CSRF-Token: x" "X-CSRF-Token: ${csrf}x" \
		"X-CSRF-Token: $(echo "$csrf" | tr a-f A-F)" "X-CSRF-Token: $long"; do
		req 403 POST /api/v1/tokens "{\"name\":\"t\"}" -b alice.jar ${c:+-H "$c"} &&
		json_error 403 || { echo "  ($c)" >&2; return 1; }
	done &&
	req 403 POST /logout "csrf=x" -b alice.jar &&
	html_error &&
	req 403 POST /pipelines/1/retry "csrf=" -b alice.jar &&
	html_error &&
	req 403 POST /pipelines/1/retry "csrf=x&csrf=$csrf" -b alice.jar &&
	req 403 POST /pipelines/1/retry "csrf=$csrf$long" -b alice.jar &&
	for p in /pipelines/9223372036854775807/cancel /pipelines/0/retry /jobs/x/retry \
		/jobs/99999999/play /jobs/-1/cancel; do
		req 404 POST "$p" "csrf=$csrf" -b alice.jar && html_error || { echo "  ($p)" >&2; return 1; }
	done
'

test_expect_success 'bad login forms are refused with the form again' '
	for b in "" "login=" "login=alice" "password=x" "%" \
		"login=$long&password=x" "login=alice&password=$long" "&&&&=&="; do
		req 400 POST /login "$b" -H "Authorization:" && grep -q "<form" req.body ||
			{ echo "  ($b)" >&2; return 1; }
	done &&
	for b in "login=alice&password=wrong%00pw" "login=%ZZ&password=%" "login=%C3%28&password=x"; do
		req 403 POST /login "$b" -H "Authorization:" && grep -q "<form" req.body ||
			{ echo "  ($b)" >&2; return 1; }
	done
'

test_expect_success 'a login with a crafted next= goes to /, not to another host' '
	for n in "//example.org" "/%5Cexample.org" "/%09/example.org" "/%0A/example.org" \
		"/%0D%0ASet-Cookie:%20x=y" "https://example.org" "javascript:alert(1)"; do
		req 303 POST /login "login=alice&password=pw-of-alice-1&next=$n" -H "Authorization:" &&
		tr -d "\r" <req.hdr | grep -qix "location: /" &&
		! grep -qi "set-cookie: x" req.hdr || { echo "  ($n)" >&2; cat req.hdr >&2; return 1; }
	done
'

test_expect_success 'the delivery worker answers bad request lines and goes on' '
	printf "%s\n" "garbage" "" "[1]" "{\"id\":7}" "{\"id\":\"x\",\"url\":1,\"body\":2}" \
		"{\"id\":8,\"url\":\"gopher://127.0.0.1:1/\",\"body\":\"\"}" |
		cidre deliver >deliver.out &&
	test "$(jq -s "map(select(.error == \"unreadable request\" and .id == 0)) | length" deliver.out)" = 3 &&
	jq -se "map(select(.id == 7))[0].error == \"url and body are needed\"" deliver.out &&
	jq -se "map(select(.id == 8))[0] | .status == 0 and (.error | test(\"gopher\"))" deliver.out &&
	test "$(wc -l <deliver.out)" = 6 &&
	head -c 1100000 /dev/zero | tr "\0" a >long.line &&
	expect_exit 1 cidre deliver <long.line 2>deliver.err &&
	expect_grep "a request longer than 1048576 bytes" deliver.err
'

test_expect_success 'nothing refused was recorded; the server is up' '
	req 200 GET /healthz &&
	snapshot >after.json &&
	diff -u before.json after.json
'

test_expect_success 'a pipeline file that crashed libfyaml is an error, the server lives' '
	printf "job:\n  script: [x]\n? k:\t- b\n" >crash.yml &&
	expect_exit 2 cidre lint --file crash.yml 2>lint.err &&
	expect_grep "crash.yml:3:1: error: a tab before .-., .\?. or .:. on a line with an explicit key" lint.err &&
	printf "?\n :\f?\f:\t?1a\n" >ff.yml &&
	expect_exit 2 cidre lint --file ff.yml 2>lint.err &&
	expect_grep "ff.yml:2:3: error: control character U\+000C" lint.err &&
	(cd app && git checkout -q -b crash && cp ../crash.yml .gitlab-ci.yml &&
	 git commit -qam crash && git push -q origin crash) &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"crash\"}" >crash.json &&
	jq -e ".error // .status | test(\"explicit key|failed\")" crash.json &&
	req 200 GET /healthz
'

test_expect_success 'an artifact whose name is not UTF-8 is kept (U+FFFD for the bad byte), not lost' '
	(cd app && git checkout -q -b badname main &&
	 printf "job:\n  script:\n    - printf x >\"\$(printf %%b \"bad\\\\377name.txt\")\"\n    - echo ok >good.txt\n  artifacts:\n    paths: [\"*.txt\"]\n" >.gitlab-ci.yml &&
	 git commit -qam badname && git push -q origin badname) &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"badname\"}" >bn.json &&
	id=$(jq -r .id bn.json) && wait_pipeline "$id" >bn-done.json &&
	jid=$(jq -r ".jobs[0].id" bn-done.json) &&
	api GET "/api/v1/jobs/$jid/artifacts" >bn-arts.json &&
	jq -e "length == 2 and any(.[]; .path == \"good.txt\") and any(.[]; .path == \"bad\ufffdname.txt\")" bn-arts.json
'

test_done
