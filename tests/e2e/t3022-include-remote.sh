#!/bin/sh
# include:remote (docs/pipeline.md, "include"): files fetched over HTTP
# from a server of the test's own on 127.0.0.1, by cidre lint, cidre run
# and the server when it creates a pipeline; errors at the include.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

if ! command -v curl >/dev/null || ! command -v python3 >/dev/null; then
	skip_all "needs curl and python3"
fi

# a static file server on 127.0.0.1 (any port, written to web.port)
mkdir -p files
python3 "$TEST_DIR/../tools/static-http.py" files "$SCRATCH/web.port" \
	/moved.yml=/shared.yml 2>web.log &
WEB_PID=$!
TEST_CLEANUP="${TEST_CLEANUP:+$TEST_CLEANUP; }kill $WEB_PID 2>/dev/null"
n=0
while [ ! -s web.port ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
WEB="http://127.0.0.1:$(cat web.port)"

cat >files/shared.yml <<'EOF'
include:
  - local: ci/own.yml
shared-job:
  script: [echo "shared job for $CI_PROJECT_NAME"]
EOF
head -c 2000000 /dev/zero | tr '\0' '#' >files/huge.yml

test_expect_success 'cidre lint and cidre run include a remote file, and its local includes are the project files' '
	mkdir -p app/ci &&
	printf "own-job:\n  script: [echo own]\n" >app/ci/own.yml &&
	new_repo app <<-EOF &&
	include:
	  - remote: $WEB/shared.yml
	local-job:
	  script: [echo local]
	EOF
	(cd app && cidre lint) >out &&
	expect_grep "pipeline is valid \(3 jobs" out &&
	(cd app && cidre run --color=never) >out &&
	expect_grep "^shared-job +\| shared job for app$" out &&
	expect_grep "^own-job +\| own$" out
'

test_expect_success 'a URL as the entry, variables in it, redirects followed' '
	new_repo short <<-EOF &&
	include:
	  - "$WEB/\${FILE}"
	  - remote: $WEB/moved.yml
	local-job:
	  script: [echo local]
	EOF
	mkdir -p short/ci && printf "own-job:\n  script: [echo own]\n" >short/ci/own.yml &&
	(cd short && git add ci && git commit -q -m ci) &&
	(cd short && cidre run --color=never -v FILE=shared.yml) >out &&
	expect_grep "^shared-job +\| shared job for short$" out
'

test_expect_success 'errors at the include: missing, too large, not http' '
	new_repo bad <<-EOF &&
	include:
	  - remote: $WEB/missing.yml
	  - remote: $WEB/huge.yml
	  - remote: file:///etc/passwd
	j:
	  script: [echo]
	EOF
	expect_exit 2 cidre lint -C bad 2>err &&
	expect_grep "^\.gitlab-ci\.yml:2:13: error: include:remote $WEB/missing\.yml: curl: \(22\).*404" err &&
	expect_grep "^\.gitlab-ci\.yml:3:13: error: include:remote $WEB/huge\.yml: .*larger than 1048576 bytes" err &&
	expect_grep "^\.gitlab-ci\.yml:4:13: error: include:remote \"file:///etc/passwd\" must be an http:// or https:// URL" err
'

test_expect_success 'the server fetches it when it creates the pipeline' '
	start_server data &&
	export CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN &&
	mkdir -p srv && cp app/.gitlab-ci.yml srv/ &&
	bare_repo remote-app <srv/.gitlab-ci.yml &&
	mkdir -p remote-app/ci && cp app/ci/own.yml remote-app/ci/ &&
	(cd remote-app && git add ci && git commit -q -m ci && git push -q origin HEAD:main) &&
	cidre project add remote-app --repo remote-app.git >/dev/null &&
	cidre trigger remote-app main --wait -q >id &&
	job=$(cidre status "$(cat id)" --json | jq -r ".jobs[] | select(.name == \"shared-job\") | .id") &&
	cidre log "$job" >log &&
	expect_grep "^shared job for remote-app$" log
'

test_expect_success 'the server fetches only under include_remote when the configuration has it' '
	export CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN &&
	printf "include_remote:\n  - http://127.0.0.1:1/ci/\n" >data/config.yml &&
	cidre server -n --config data/config.yml >out &&
	expect_grep "configuration OK" out &&
	kill -HUP "$(cat data.pid)" &&
	wait_for 10 grep -q "reload" data.log &&
	expect_exit 1 cidre trigger remote-app main --wait -q >id &&
	cidre status "$(cat id)" --json | jq -r .error >why &&
	expect_grep "include:remote $WEB/shared\.yml: not under a URL the server.s include_remote allows" why &&
	printf "include_remote:\n  - $WEB/\n" >data/config.yml &&
	kill -HUP "$(cat data.pid)" &&
	n=0 && while [ $n -lt 50 ]; do
		[ "$(grep -c reload data.log)" -ge 2 ] && break
		sleep 0.1; n=$((n + 1)); done &&
	cidre trigger remote-app main --wait -q >/dev/null &&
	printf "include_remote: [ftp://x/]\n" >bad.yml &&
	expect_exit 1 cidre server -n --config bad.yml >out 2>&1 &&
	expect_grep "include_remote: must be a URL http://... or https://..." out
'

test_done
