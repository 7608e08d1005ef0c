#!/bin/sh
# The web UI's pages over HTTP (no browser): what each shows, what it
# refuses, and that data from a repository or a job stays inert.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

# get PATH: the page's body in page.html, its status on stdout
get() {
	curl -sS -m 10 -o page.html -D headers -w '%{http_code}' "$URL$1"
}

test_expect_success 'a project whose pipeline holds markup, escapes, odd artifact names' '
	start_server data &&
	bare_repo app <<-\YML &&
	build:
	  script:
	    - printf "col1\tcol2 \033[1;31mbold red\033[0m \033[2J<script>alert(1)</script>\n"
	    - mkdir -p out && printf hello >"out/a b#?.txt" && printf x >"out/<i>.txt"
	  artifacts:
	    paths: [out/]
	  environment:
	    name: "<b>prod</b>"
	    url: "javascript:alert(3)"
	YML
	add_project app "$SCRATCH/app.git" &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"main\"}" >p.json &&
	id=$(jq -r .id p.json) &&
	wait_pipeline "$id" >done.json &&
	jq -e ".status == \"success\"" done.json
'

test_expect_success 'the dashboard lists the project with its last pipeline' '
	test "$(get /)" = 200 &&
	expect_grep "<a href=\"/p/app\">app</a>" page.html &&
	expect_grep "data-pipeline=\"$(jq -r .id done.json)\">success<" page.html &&
	grep -qi "^content-security-policy: default-src .self.; script-src .self." headers
'

test_expect_success 'the job page: log rendered inert, tab kept, environment link refused' '
	jid=$(jq -r ".jobs[0].id" done.json) &&
	test "$(get /jobs/$jid)" = 200 &&
	expect_grep "col1	col2 <span class=\"a f1 B\">bold red</span> &lt;script&gt;alert\(1\)&lt;/script&gt;" page.html &&
	! grep -q "<script>alert" page.html &&
	! grep -q "$(printf "\033")" page.html &&
	expect_grep "&lt;b&gt;prod&lt;/b&gt;" page.html &&
	! grep -q "javascript:" page.html &&
	expect_grep "id=\"log-end\" data-job=\"$jid\" data-offset=\"[0-9]+\" data-lines=\"[0-9]+\" data-live=\"0\"" page.html
'

test_expect_success 'the job page shows the artifacts'"'"' top folder; links are encoded' '
	jid=$(jq -r ".jobs[0].id" done.json) &&
	get /jobs/$jid >/dev/null &&
	expect_grep "<a href=\"/jobs/$jid/artifacts/out/\">out/</a></td><td>6 B in 2 files<" page.html &&
	get /jobs/$jid/artifacts/out/ >/dev/null &&
	expect_grep "href=\"/api/v1/jobs/$jid/artifacts/out/a%20b%23%3F.txt\" download>a b#\?.txt<" page.html &&
	expect_grep ">&lt;i&gt;.txt<" page.html &&
	test "$(curl -sS "$URL/api/v1/jobs/$jid/artifacts/out/a%20b%23%3F.txt")" = hello
'

test_expect_success 'artifacts browse as folders: one level, breadcrumb, downloads, no escape' '
	jid=$(jq -r ".jobs[0].id" done.json) &&
	get /jobs/$jid >/dev/null && expect_grep "href=\"/jobs/$jid/artifacts\">browse<" page.html &&
	test "$(get /jobs/$jid/artifacts)" = 200 &&
	expect_grep "<a href=\"/jobs/$jid/artifacts/out/\">out/</a></td><td>6 B in 2 files<" page.html &&
	! grep -q "a b#" page.html &&
	test "$(get /jobs/$jid/artifacts/out/)" = 200 &&
	expect_grep "<a href=\"/jobs/$jid/artifacts/out/\">out</a> / " page.html &&
	expect_grep "href=\"/api/v1/jobs/$jid/artifacts/out/a%20b%23%3F.txt\" download>a b#\?.txt<" page.html &&
	expect_grep ">&lt;i&gt;.txt</a></td><td>1 B</td><td><code>rw-r--r--</code>" page.html &&
	test "$(curl -sS "$URL$(grep -o "/api/v1/jobs/$jid/artifacts/out/a%20b[^\"]*" page.html)")" = hello &&
	test "$(get /jobs/$jid/artifacts/out)" = 200 &&
	test "$(get "/jobs/$jid/artifacts/out/a%20b%23%3F.txt")" = 303 &&
	grep -qi "^location: /api/v1/jobs/$jid/artifacts/out/a%20b%23%3F.txt" headers &&
	test "$(get /jobs/$jid/artifacts/nope/)" = 404 &&
	test "$(get /jobs/$jid/artifacts/ou/)" = 404 &&
	test "$(get "/jobs/$jid/artifacts/out/..%2F..%2F")" = 400 &&
	test "$(get "/jobs/$jid/artifacts/out/%2e%2e/")" = 400 &&
	test "$(get "/jobs/$jid/artifacts/out//")" = 404 &&
	test "$(get "/jobs/$jid/artifacts/out%00/")" = 400 &&
	test "$(command curl -sS -o /dev/null -w "%{http_code}" "$URL/jobs/$jid/artifacts/out/")" = 404
'

test_expect_success 'pipeline page: graph, commit, jobs' '
	pid=$(jq -r .id done.json) &&
	test "$(get /pipelines/$pid)" = 200 &&
	expect_grep "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"graph\"" page.html &&
	expect_grep "<p class=\"title\">pipeline</p>" page.html &&
	expect_grep "<a href=\"/jobs/[0-9]+\">build</a>" page.html
'

test_expect_success 'project page, filters, badge and Atom feed' '
	test "$(get "/p/app?ref=main&status=success")" = 200 &&
	expect_grep "class=\"trendchart\"" page.html &&
	expect_grep "<rect class=\"bar st-success\" x=\"40.0\" y=\"[0-9.]+\" width=\"11.6\" height=\"[0-9.]+\"><title>#$(jq -r .id done.json) success" page.html &&
	expect_grep "<option value=\"success\" selected>" page.html &&
	test "$(get "/p/app?status=bogus&page=-3")" = 200 &&
	test "$(get /p/app/badge.svg)" = 200 &&
	grep -qi "^content-type: image/svg+xml" headers && expect_grep ">success</text>" page.html &&
	test "$(get "/p/app/badge.svg?ref=nope")" = 200 && expect_grep ">unknown</text>" page.html &&
	test "$(get /p/app/pipelines.atom)" = 200 &&
	grep -qi "^content-type: application/atom+xml" headers &&
	expect_grep "<feed xmlns=\"http://www.w3.org/2005/Atom\">" page.html &&
	expect_grep "<id>$URL/pipelines/$(jq -r .id done.json)</id>" page.html
'

test_expect_success 'the project page lists its schedules, escaped' '
	test "$(get /p/app)" = 200 && expect_no_grep "Schedules</h2>" page.html &&
	api POST /api/v1/projects/app/schedules \
		"{\"description\":\"nightly <b>\",\"cron\":\"0 3 * * *\",\"cron_timezone\":\"Europe/Paris\"}" \
		>s.json &&
	test "$(get /p/app)" = 200 &&
	expect_grep "<h2 id=\"schedules\">Schedules</h2>" page.html &&
	expect_grep "<td>nightly &lt;b&gt;</td><td><code>0 3 \\* \\* \\*</code> <span class=\"muted\">Europe/Paris</span></td><td>\\(default branch\\)</td><td>in [0-9]+ (h|min)</td><td></td>" page.html &&
	api DELETE "/api/v1/projects/app/schedules/$(jq -r .id s.json)" >/dev/null
'

test_expect_success 'a log of many pieces is rendered whole, line by line, in order' '
	git clone -q app.git big 2>/dev/null &&
	printf "big:\n  script:\n    - seq 1 300000\n" >big/.gitlab-ci.yml &&
	(cd big && git commit -qam big && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"main\"}" >b.json &&
	wait_pipeline "$(jq -r .id b.json)" >bdone.json &&
	jid=$(jq -r ".jobs[0].id" bdone.json) &&
	test "$(get /jobs/$jid)" = 200 &&
	grep -c "<span class=\"l\" id=\"L" page.html >lines &&
	test "$(cat lines)" -ge 300000 &&
	expect_grep ">150000$" page.html &&
	expect_grep "id=\"log-end\" data-job=\"$jid\"" page.html &&
	expect_grep "</html>" page.html &&
	test "$(curl -sS -m 10 -o /dev/null -w "%{http_code}" -I "$URL/jobs/$jid")" = 200
'

test_expect_success 'what does not exist is 404' '
	test "$(get /p/nope)" = 404 && test "$(get /p/nope/badge.svg)" = 404 &&
	test "$(get /pipelines/99999)" = 404 && test "$(get /jobs/abc)" = 404 &&
	test "$(get /static/nope.css)" = 404
'

test_expect_success 'static files are cached' '
	test "$(get /static/cidre.css)" = 200 &&
	grep -qi "^cache-control: public, max-age=" headers && grep -qi "^content-type: text/css" headers
'

# (lib-server.sh's curl adds the admin token to plain GETs; "command curl" does not)
test_expect_success 'an anonymous visitor does not see a project that is not public' '
	test "$(command curl -sS -o anon.html -w "%{http_code}" "$URL/")" = 200 &&
	! grep -q "href=\"/p/app\"" anon.html &&
	test "$(command curl -sS -o /dev/null -w "%{http_code}" "$URL/p/app")" = 404 &&
	test "$(command curl -sS -o /dev/null -w "%{http_code}" "$URL/pipelines/$(jq -r .id done.json)")" = 404 &&
	test "$(command curl -sS -o /dev/null -w "%{http_code}" "$URL/p/app/badge.svg")" = 404
'

test_expect_success 'form posts need a role: hidden is 404, a viewer is refused, a token retries' '
	jid=$(jq -r ".jobs[0].id" done.json) &&
	test "$(command curl -sS -o /dev/null -w "%{http_code}" -X POST "$URL/jobs/$jid/retry")" = 404 &&
	api PATCH /api/v1/projects/app "{\"public\":true}" >/dev/null && expect_status 200 &&
	test "$(command curl -sS -o anon.html -w "%{http_code}" "$URL/pipelines/$(jq -r .id done.json)")" = 200 &&
	! grep -q "method=\"post\"" anon.html &&
	test "$(get "/pipelines/$(jq -r .id done.json)")" = 200 && expect_grep "method=\"post\"" page.html &&
	test "$(command curl -sS -o /dev/null -w "%{http_code}" -X POST "$URL/jobs/$jid/retry")" = 403 &&
	test "$(command curl -sS -o /dev/null -w "%{http_code}" -X POST "$URL/pipelines/$(jq -r .id done.json)/cancel")" = 403 &&
	command curl -sS -o /dev/null -D h2 -w "%{http_code}" -X POST -H "Authorization: Bearer $TOKEN" \
		"$URL/jobs/$jid/retry" >code &&
	test "$(cat code)" = 303 && grep -qi "^location: /jobs/[0-9]" h2 &&
	test "$(command curl -sS -o /dev/null -w "%{http_code}" -X POST -H "Authorization: Bearer $TOKEN" \
		"$URL/jobs/$jid/play")" = 409
'

test_expect_success 'a wrong password is refused on the login form, the form says so' '
	test "$(get /login)" = 200 && expect_grep "name=\"password\"" page.html &&
	test "$(command curl -sS -o page.html -w "%{http_code}" -d "login=nobody&password=wrong" "$URL/login")" = 403 &&
	expect_grep "class=\"error\"" page.html
'

test_expect_success 'an API-triggered pipeline lists its commit'"'"'s changed files, 1000 and "N more"' '
	(cd app && git fetch -q origin main && git reset -q --hard FETCH_HEAD && mkdir -p many && i=0 &&
	 while [ $i -lt 1003 ]; do echo $i >many/f$i.txt; i=$((i + 1)); done &&
	 echo changed >>.gitlab-ci.yml &&
	 git add . && git commit -q -m "many files" && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"main\"}" >pm.json && expect_status 201 &&
	pm=$(jq -r .id pm.json) &&
	# diffed on the first view, not on the trigger path; stored then
	! sqlite3 data/cidre.db "select ctx from pipelines where id = $pm" | grep -q "\"files\"" &&
	test "$(get /pipelines/$pm)" = 200 &&
	sqlite3 data/cidre.db "select ctx from pipelines where id = $pm" | grep -q "\"files_more\":4" &&
	expect_grep "<summary>1004 changed files</summary>" page.html &&
	expect_grep "<li class=\"muted\">and 4 more</li>" page.html &&
	test "$(get /pipelines/$pm)" = 200 &&
	expect_grep "<summary>1004 changed files</summary>" page.html &&
	test "$(grep -o "<li><code>" page.html | wc -l)" = 1000 &&
	expect_grep "<li><code>many/f0.txt</code></li>" page.html &&
	(cd app && echo one >one.txt && git add one.txt && git commit -q -m one && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"main\"}" >p1.json && expect_status 201 &&
	test "$(get /pipelines/$(jq -r .id p1.json))" = 200 &&
	expect_grep "<summary>1 changed file</summary>" page.html &&
	expect_grep "<li><code>one.txt</code></li>" page.html &&
	! grep -q "more</li>" page.html
'

test_expect_success 'a root commit lists the files it adds' '
	git init -q --bare root.git &&
	git clone -q root.git root 2>/dev/null &&
	(cd root && cp ../app/.gitlab-ci.yml . && mkdir -p src && echo x >src/a.c &&
	 git add . && git commit -q -m first && git push -q origin HEAD:main) &&
	api POST /api/v1/projects "{\"name\":\"root\",\"repo\":\"$SCRATCH/root.git\",\"public\":true}" \
		>/dev/null && expect_status 201 &&
	api POST /api/v1/projects/root/pipelines "{\"ref\":\"main\"}" >pr.json && expect_status 201 &&
	test "$(get /pipelines/$(jq -r .id pr.json))" = 200 &&
	expect_grep "<summary>2 changed files</summary>" page.html &&
	expect_grep "<li><code>.gitlab-ci.yml</code></li>" page.html &&
	expect_grep "<li><code>src/a.c</code></li>" page.html
'

test_expect_success 'a manual job with manual_confirmation: the play button asks it first' '
	git init -q --bare mc.git &&
	git clone -q mc.git mc 2>/dev/null &&
	(cd mc && printf "deploy:\n  when: manual\n  environment: production\n  manual_confirmation: \"Deploy to \$CI_ENVIRONMENT_NAME <now>?\"\n  script: [echo deployed]\nplain:\n  when: manual\n  script: [echo plain]\n" >.gitlab-ci.yml &&
	 git add . && git commit -q -m manual && git push -q origin HEAD:main) &&
	api POST /api/v1/projects "{\"name\":\"mc\",\"repo\":\"$SCRATCH/mc.git\"}" >/dev/null && expect_status 201 &&
	api POST /api/v1/projects/mc/pipelines "{}" >pm.json && expect_status 201 &&
	deploy=$(jq -r ".jobs[] | select(.name == \"deploy\") | .id" pm.json) &&
	wait_for 20 job_status_is "$deploy" manual &&
	api GET "/api/v1/jobs/$deploy" | jq -e ".manual_confirmation == \"Deploy to production <now>?\"" &&
	api GET "/api/v1/pipelines/$(jq -r .id pm.json)" | jq -e ".jobs[] | select(.name == \"plain\") | has(\"manual_confirmation\") | not" &&
	test "$(get "/pipelines/$(jq -r .id pm.json)")" = 200 &&
	expect_grep "action=\"/jobs/$deploy/play\" class=\"inline\" data-confirm=\"Deploy to production &lt;now&gt;\?\"" page.html &&
	test "$(get "/jobs/$deploy")" = 200 &&
	expect_grep "data-confirm=\"Deploy to production &lt;now&gt;\?\"" page.html
'

test_expect_success 'a pipeline'"'"'s duration is its jobs'"'"' time, running again or done' '
	git init -q --bare later.git &&
	git clone -q later.git later 2>/dev/null &&
	(cd later && printf "build:\n  script: [echo built]\ndeploy:\n  when: manual\n  script: [sleep 2]\n" >.gitlab-ci.yml &&
	 git add . && git commit -q -m later && git push -q origin HEAD:main) &&
	api POST /api/v1/projects "{\"name\":\"later\",\"repo\":\"$SCRATCH/later.git\",\"public\":true}" >/dev/null &&
	expect_status 201 &&
	api POST /api/v1/projects/later/pipelines "{}" >pl.json && expect_status 201 &&
	id=$(jq -r .id pl.json) &&
	deploy=$(jq -r ".jobs[] | select(.name == \"deploy\") | .id" pl.json) &&
	wait_pipeline "$id" >/dev/null &&
	test "$(get "/pipelines/$id")" = 200 &&
	expect_grep "<span data-duration=\"$id\">[0-9]+ ms</span>" page.html &&
	sleep 3 &&
	api POST "/api/v1/jobs/$deploy/play" >/dev/null && expect_status 200 &&
	wait_for 20 job_status_is "$deploy" running &&
	test "$(get "/pipelines/$id")" = 200 &&
	expect_grep "<span data-duration=\"$id\" data-run-ms=\"[0-9]+\">([0-9]+ ms|[01]\.[0-9] s)</span>" page.html &&
	expect_grep "<td data-dur-job=\"$deploy\" data-run-ms=\"[0-9]+\">([0-9]+ ms|[0-2]\.[0-9] s)</td>" page.html &&
	test "$(get "/jobs/$deploy")" = 200 &&
	expect_grep "<dd data-dur-job=\"$deploy\" data-run-ms=\"[0-9]+\">" page.html &&
	test "$(get "/p/later")" = 200 &&
	expect_grep "<td data-duration=\"$id\" data-run-ms=\"[0-9]+\">([0-9]+ ms|[0-2]\.[0-9] s)</td></tr>" page.html &&
	test "$(get /)" = 200 &&
	expect_grep "href=\"/p/later\">later</a>.*<td data-duration=\"$id\" data-run-ms=\"[0-9]+\">([0-9]+ ms|[0-2]\.[0-9] s)</td></tr>" page.html &&
	wait_for 20 job_status_is "$deploy" success &&
	wait_pipeline "$id" >/dev/null &&
	test "$(get "/pipelines/$id")" = 200 &&
	expect_grep "<span data-duration=\"$id\">2\.[0-9] s</span>" page.html &&
	expect_grep "<td data-dur-job=\"$deploy\">2\.[0-9] s</td>" page.html &&
	test "$(get "/p/later")" = 200 &&
	expect_grep "<td data-duration=\"$id\">2\.[0-9] s</td></tr>" page.html
'

test_expect_success 'a failure allowed shows as a warning; the pipeline passed with warnings' '
	git init -q --bare warn.git &&
	git clone -q warn.git warn 2>/dev/null &&
	(cd warn && printf "%s\n" "lint:" "  script: [\"exit 3\"]" "  allow_failure: true" \
		"test:" "  script: [\"true\"]" "slow:" "  script: [\"sleep 30\"]" "  timeout: 1s" \
		"  allow_failure: true" >.gitlab-ci.yml &&
	 git add . && git commit -q -m warn && git push -q origin HEAD:main) &&
	api POST /api/v1/projects "{\"name\":\"warn\",\"repo\":\"$SCRATCH/warn.git\",\"public\":true}" >/dev/null &&
	expect_status 201 &&
	api POST /api/v1/projects/warn/pipelines "{}" >pl.json && expect_status 201 &&
	id=$(jq -r .id pl.json) &&
	wait_pipeline "$id" >wd.json &&
	jq -e ".status == \"success\"" wd.json &&
	lint=$(jq -r ".jobs[] | select(.name == \"lint\") | .id" wd.json) &&
	slow=$(jq -r ".jobs[] | select(.name == \"slow\") | .id" wd.json) &&
	test=$(jq -r ".jobs[] | select(.name == \"test\") | .id" wd.json) &&
	test "$(get "/pipelines/$id")" = 200 &&
	expect_grep "<h1>Pipeline #$id <span class=\"st st-success warnings\" title=\"passed with warnings: 2 jobs failed that are allowed to fail\" data-pipeline=\"$id\">success</span>" page.html &&
	expect_grep "<span class=\"st st-failed allowed\" title=\"allowed to fail\" data-job=\"$lint\" data-in=\"$id\">failed</span>" page.html &&
	expect_grep "<span class=\"st st-success\" data-job=\"$test\" data-in=\"$id\">success</span>" page.html &&
	expect_grep "<g class=\"node st-failed allowed\" data-job=\"$lint\" data-in=\"$id\"><title>lint: failed \(allowed to fail\)</title>" page.html &&
	test "$(get "/jobs/$lint")" = 200 &&
	expect_grep "<dt>Failure</dt><dd>the script failed \(allowed to fail\)</dd>" page.html &&
	expect_grep "<a href=\"/pipelines/$id\">pipeline #$id</a> <span class=\"st st-success warnings\" title=\"passed with warnings: 2 jobs failed that are allowed to fail\" data-pipeline=\"$id\">" page.html &&
	test "$(get "/jobs/$slow")" = 200 &&
	expect_grep "<dt>Failure</dt><dd>timed out \(allowed to fail\)</dd>" page.html &&
	test "$(get /)" = 200 &&
	expect_grep "<span class=\"st st-success warnings\" title=\"passed with warnings: 2 jobs failed that are allowed to fail\" data-pipeline=\"$id\">success</span>" page.html &&
	test "$(get /p/warn)" = 200 &&
	test "$(grep -o "class=\"st st-success warnings\" title=\"passed with warnings: 2 jobs failed that are allowed to fail\" data-pipeline=\"$id\"" page.html | wc -l)" = 2 &&
	test "$(get /p/app)" = 200 &&
	expect_no_grep "warnings" page.html
'

test_expect_success 'a long log: the page shows its last 4 MiB, lines numbered as in the whole log' '
	git init -q --bare long.git &&
	git clone -q long.git long 2>/dev/null &&
	(cd long && printf "%s\n" "print:" "  script:" "    - seq -f \"line %06g ....................................................................................\" 1 60000" >.gitlab-ci.yml &&
	 git add . && git commit -q -m long && git push -q origin HEAD:main) &&
	api POST /api/v1/projects "{\"name\":\"long\",\"repo\":\"$SCRATCH/long.git\",\"public\":true}" \
		>/dev/null && expect_status 201 &&
	api POST /api/v1/projects/long/pipelines "{\"ref\":\"main\"}" >pl.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id pl.json)" >dl.json &&
	lj=$(jq -r ".jobs[0].id" dl.json) &&
	api GET "/api/v1/jobs/$lj/log" >long.log &&
	test "$(wc -c <long.log)" -gt 5000000 &&
	test "$(get /jobs/$lj)" = 200 &&
	expect_grep "class=\"log-cut\">This log is 5.[0-9] MiB: the last 4.0 MiB is shown. <a href=\"/api/v1/jobs/$lj/log\">" page.html &&
	test "$(wc -c <page.html)" -lt 8000000 &&
	expect_no_grep "line 000001 " page.html &&
	expect_grep "id=\"L[0-9]+\"><a href=\"#L[0-9]+\">[0-9]+</a>line 060000 " page.html &&
	n=$(grep -n "^line 060000 " long.log | cut -d: -f1) &&
	expect_grep "id=\"L$n\"><a href=\"#L$n\">$n</a>line 060000 " page.html &&
	first=$(grep -o "id=\"L[0-9]*\"><a href=\"#L[0-9]*\">[0-9]*</a>line [0-9]*" page.html | head -1) &&
	fn=$(echo "$first" | sed "s/^id=\"L\([0-9]*\)\".*/\1/") &&
	test "$(sed -n "${fn}p" long.log | cut -c1-11)" = "$(echo "$first" | sed "s/.*<\/a>//")" &&
	test "$(get /jobs/$(jq -r ".jobs[0].id" done.json))" = 200 &&
	expect_no_grep "log-cut" page.html
'

test_expect_success 'a long log that is one line: the page shows its last 4 MiB all the same' '
	(cd long && printf "%s\n" "print:" "  script:" "    - head -c 6000000 /dev/zero | tr \"\\\\0\" y" >.gitlab-ci.yml &&
	 git commit -q -am one-line && git push -q origin HEAD:main) &&
	api POST /api/v1/projects/long/pipelines "{\"ref\":\"main\"}" >po.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id po.json)" >do.json &&
	oj=$(jq -r ".jobs[0].id" do.json) &&
	api GET "/api/v1/jobs/$oj/log" | grep -c yyyyyyyyyy >n && test "$(cat n)" = 1 &&
	test "$(get /jobs/$oj)" = 200 &&
	expect_grep "class=\"log-cut\">This log is 5.[0-9] MiB: the last 4.0 MiB is shown." page.html &&
	test "$(wc -c <page.html)" -lt 6000000 &&
	expect_grep "id=\"log-end\"" page.html
'

test_done
