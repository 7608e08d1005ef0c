#!/bin/sh
# GitLab Pages (docs/pages.md): a Pages job's directory is kept as its
# artifacts, and the server serves the newest successful one's at
# /pages/NAME/, with index.html, directories, .html, 404.html, content
# types, a sandbox for the site's scripts, and who may see it.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

start_server data || { echo "Bail out! the server does not start"; exit 1; }
unset CIDRE_CONFIG XDG_CONFIG_HOME
export CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN

cat >pipeline.yml <<'YML'
build-site:
  script:
    - mkdir -p site/docs site/css
    - echo "<h1>home $SITE_VERSION</h1>" >site/index.html
    - echo "<p>docs</p>" >site/docs/index.html
    - echo "<p>about</p>" >site/about.html
    - echo "body {}" >site/css/main.css
    - echo "<p>lost</p>" >site/404.html
    - echo "$CI_PAGES_URL $CI_PROJECT_URL $CI_PIPELINE_URL $CI_JOB_URL" >site/urls.txt
    - echo "$CI_SERVER_URL $CI_SERVER_PROTOCOL $CI_SERVER_HOST $CI_SERVER_PORT $CI_SERVER_FQDN" >>site/urls.txt
  pages:
    publish: site
other:
  script: [mkdir -p public, echo not-the-site >public/index.html]
  artifacts:
    paths: [public]
YML

test_expect_success 'set-up: a public project whose Pages job publishes site/' '
	bare_repo web <pipeline.yml &&
	cidre project add web --repo web.git --public >/dev/null &&
	cidre trigger web main -v SITE_VERSION=one --wait -q >id
'

test_expect_success 'cidre run says where a Pages job put its site' '
	(cd web && cidre run --color=never -v SITE_VERSION=local) >out &&
	expect_grep "^Pages site of build-site: \.cidre/artifacts/build-site/site/index\.html$" out &&
	grep -q "home local" web/.cidre/artifacts/build-site/site/index.html &&
	expect_no_grep "Pages site of other" out
'

test_expect_success 'the site: index.html at its root, types, the sandbox' '
	curl -sS -D h "$URL/pages/web/" >body &&
	expect_grep "^HTTP/1.1 200" h &&
	expect_grep "^Content-Type: text/html; charset=utf-8" h &&
	expect_grep "^Content-Security-Policy: sandbox allow-scripts" h &&
	expect_no_grep "allow-same-origin" h &&
	expect_grep "^X-Content-Type-Options: nosniff" h &&
	expect_grep "^<h1>home one</h1>$" body &&
	curl -sS -D h "$URL/pages/web/css/main.css" >body &&
	expect_grep "^Content-Type: text/css" h &&
	expect_grep "^body \{\}$" body
'

test_expect_success 'jobs of a server know its URLs: the site, the project, the pipeline, the job' '
	curl -sS "$URL/pages/web/urls.txt" >urls &&
	pid=$(cat id) &&
	host=${URL#http://} &&
	expect_grep "^$URL/pages/web $URL/p/web $URL/pipelines/$pid $URL/jobs/[0-9]+$" urls &&
	expect_grep "^$URL http ${host%:*} ${host##*:} $host$" urls
'

test_expect_success 'a directory: its index.html, and without its slash a redirect to it' '
	curl -sS "$URL/pages/web/docs/" >body &&
	expect_grep "^<p>docs</p>$" body &&
	curl -sS -D h -o /dev/null "$URL/pages/web/docs" &&
	expect_grep "^HTTP/1.1 301" h &&
	expect_grep "^Location: /pages/web/docs/" h &&
	curl -sS "$URL/pages/web/about" >body &&
	expect_grep "^<p>about</p>$" body
'

test_expect_success 'a missing file: the site 404.html with status 404' '
	curl -sS -D h "$URL/pages/web/nope.html" >body &&
	expect_grep "^HTTP/1.1 404" h &&
	expect_grep "^<p>lost</p>$" body &&
	curl -sS --path-as-is -o /dev/null -w "%{http_code}" "$URL/pages/web/../../etc/passwd" >code &&
	grep -qx "40[04]" code
'

test_expect_success 'the newest successful Pages job is the site; a failed one changes nothing' '
	cidre trigger web main -v SITE_VERSION=two --wait -q >/dev/null &&
	curl -sS "$URL/pages/web/" >body &&
	expect_grep "^<h1>home two</h1>$" body &&
	cat >web/.gitlab-ci.yml <<-\EOF &&
	build-site:
	  script:
	    - mkdir -p site && echo "<h1>broken</h1>" >site/index.html && exit 3
	  pages:
	    publish: site
	EOF
	(cd web && git commit -q -am broken && git push -q origin HEAD:main) &&
	expect_exit 1 cidre trigger web main -v SITE_VERSION=three --wait -q >/dev/null &&
	curl -sS "$URL/pages/web/" >body &&
	expect_grep "^<h1>home two</h1>$" body
'

test_expect_success 'who may see it: a private project needs a viewer; none without a Pages job' '
	bare_repo private <pipeline.yml &&
	cidre project add private --repo private.git >/dev/null &&
	cidre trigger private main -v SITE_VERSION=p --wait -q >/dev/null &&
	command curl -sS -o /dev/null -w "%{http_code}" "$URL/pages/private/" >code &&
	test "$(cat code)" = 401 -o "$(cat code)" = 404 &&
	curl -sS -H "Authorization: Bearer $TOKEN" "$URL/pages/private/" >body &&
	expect_grep "^<h1>home p</h1>$" body &&
	printf "j:\n  script: [echo]\n" | bare_repo nosite &&
	cidre project add nosite --repo nosite.git --public >/dev/null &&
	command curl -sS -D h "$URL/pages/nosite/" >body &&
	expect_grep "^HTTP/1.1 404" h &&
	expect_grep "has no Pages site" body
'

test_expect_success 'a browser on a private site: the page and its own files, under a capability' '
	for u in eve mallory; do
		api POST /api/v1/users "{\"login\":\"$u\",\"password\":\"$u-password-1\"}" >/dev/null ||
			return 1
	done &&
	api PUT /api/v1/projects/private/members/eve "{\"role\":\"viewer\"}" >/dev/null &&
	login_as eve && login_as mallory &&
	command curl -sS -b eve.jar -D h -o /dev/null "$URL/pages/private/docs/" &&
	expect_grep "^HTTP/1.1 302" h &&
	loc=$(sed -n "s/^Location: \(.*\)\r$/\1/p" h) &&
	echo "$loc" | grep -Eq "^/pages/private/-/[0-9]+\.[0-9]+\.0\.[0-9a-f]{64}/docs/$" &&
	cap=$(echo "$loc" | cut -d/ -f5) &&
	command curl -sS "$URL/pages/private/-/$cap/docs/" >body &&
	expect_grep "^<p>docs</p>$" body &&
	command curl -sS -D h "$URL/pages/private/-/$cap/css/main.css" >body &&
	expect_grep "^Content-Security-Policy: sandbox" h &&
	expect_grep "^body \{\}$" body &&
	command curl -sS -D h -o /dev/null "$URL/pages/private/-/$cap/docs" &&
	expect_grep "^Location: /pages/private/-/$cap/docs/" h &&
	# not for another project, not altered, not for a non-member
	command curl -sS -o /dev/null -w "%{http_code}" "$URL/pages/web/-/$cap/" >code &&
	test "$(cat code)" = 404 &&
	bad=$(echo "$cap" | sed "s/\.0\./.1./") &&
	command curl -sS -o /dev/null -w "%{http_code}" "$URL/pages/private/-/$bad/" >code &&
	test "$(cat code)" = 404 &&
	command curl -sS -b mallory.jar -o /dev/null -w "%{http_code}" "$URL/pages/private/" >code &&
	test "$(cat code)" = 404 &&
	# a member no more: the capability stops at once
	api DELETE /api/v1/projects/private/members/eve >/dev/null &&
	command curl -sS -o /dev/null -w "%{http_code}" "$URL/pages/private/-/$cap/docs/" >code &&
	test "$(cat code)" = 404
'

test_expect_success 'parallel deployments: path_prefix, GitLab normalized; they expire' '
	cat >prev.yml <<-\EOF &&
	site:
	  script: [mkdir -p public, echo main >public/index.html]
	  pages: true
	  rules:
	    - if: $PREVIEW == null
	preview:
	  script: [mkdir -p public/d, echo "preview $PREVIEW" >public/index.html, echo d >public/d/index.html]
	  pages:
	    path_prefix: "-MR_$PREVIEW."
	  rules:
	    - if: $PREVIEW
	short:
	  script: [mkdir -p public, echo short >public/index.html]
	  pages:
	    path_prefix: short
	    expire_in: 2 seconds
	  rules:
	    - if: $PREVIEW
	EOF
	bare_repo prev <prev.yml &&
	cidre project add prev --repo prev.git --public >/dev/null &&
	cidre trigger prev main --wait -q >/dev/null &&
	cidre trigger prev main -v PREVIEW=7 --wait -q >/dev/null &&
	command curl -sS "$URL/pages/prev/" >body && expect_grep "^main$" body &&
	command curl -sS "$URL/pages/prev/mr-7/" >body && expect_grep "^preview 7$" body &&
	command curl -sS "$URL/pages/prev/mr-7/d/" >body && expect_grep "^d$" body &&
	command curl -sS -D h -o /dev/null "$URL/pages/prev/mr-7" &&
	expect_grep "^Location: /pages/prev/mr-7/" h &&
	command curl -sS -D h -o /dev/null "$URL/pages/prev/mr-7/d" &&
	expect_grep "^Location: /pages/prev/mr-7/d/" h &&
	command curl -sS -o /dev/null -w "%{http_code}" "$URL/pages/prev/short/" >code &&
	test "$(cat code)" = 200 &&
	curl -sS "$URL/api/v1/projects/prev/pages" >dep.json &&
	jq -e "[.deployments[].prefix] == [\"\", \"mr-7\", \"short\"]" dep.json &&
	jq -e ".deployments[0].url == \"$URL/pages/prev/\" and .deployments[0].expires_at == null" dep.json &&
	jq -e ".deployments[1].path == \"/pages/prev/mr-7/\" and .deployments[1].job.name == \"preview\"" dep.json &&
	jq -e ".deployments[1].expires_at != null and .deployments[1].directory == \"public\"" dep.json &&
	command curl -sS "$URL/p/prev" >page &&
	expect_grep "<a href=\"/pages/prev/mr-7/\">mr-7</a>" page &&
	sleep 3 &&
	command curl -sS -o /dev/null -w "%{http_code}" "$URL/pages/prev/short/" >code &&
	test "$(cat code)" = 404 &&
	command curl -sS "$URL/pages/prev/" >body && expect_grep "^main$" body &&
	curl -sS "$URL/api/v1/projects/prev/pages" >dep.json &&
	jq -e "[.deployments[].prefix] == [\"\", \"mr-7\"]" dep.json
'

test_expect_success 'the project page links to its site, when it has one' '
	command curl -sS "$URL/p/web" >page &&
	expect_grep "<a href=\"/pages/web/\">Pages site</a>" page &&
	command curl -sS "$URL/p/nosite" >page &&
	expect_no_grep "Pages site" page
'

test_done
