#!/bin/sh
# The web UI in a real browser (tests/browser/ui.test.js): a developer
# logs in with a password (the session cookie, CSRF on forms), a push
# watched live from running to passed, the live log, inert malicious
# names and log lines, a failed test opened, a manual job played, a
# non-member refused. Needs chromium and node (scripts/install-deps.sh --test).
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

BROWSER_DIR=$(cd "$TEST_DIR/../browser" && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

# the playwright-core version package.json pins, and the one installed
pinned() {
	node -p "require(\"$BROWSER_DIR/package.json\").dependencies[\"playwright-core\"]"
}
installed() {
	node -p "require(\"$BROWSER_DIR/node_modules/playwright-core/package.json\").version" 2>/dev/null
}

test_expect_success 'chromium, node and playwright-core are there' '
	{ test -x "$CHROMIUM" || { echo "no $CHROMIUM: run scripts/install-deps.sh --test"; false; }; } &&
	command -v node && command -v npm &&
	test "$(node -p "process.versions.node.split(\".\")[0]")" -ge 18 &&
	if [ "$(installed)" != "$(pinned)" ]; then
		(cd "$BROWSER_DIR" && npm ci --no-audit --no-fund --loglevel=error)
	fi &&
	test "$(installed)" = "$(pinned)"
'

test_expect_success 'a server and a repository whose pushes start pipelines' '
	start_server data &&
	git init -q --bare app.git &&
	git clone -q app.git work 2>/dev/null &&
	cat >work/.gitlab-ci.yml <<-YML &&
	stages: [build, test, deploy]
	variables:
	  GATE: $SCRATCH/gate
	"<script>alert(1)</script>":
	  stage: build
	  script:
	    - printf "\\\\033[0Ksection_start:1:prep\\\\r\\\\033[0K<b>Preparing</b>\\\\n"
	    - printf "\\\\033[31m<script>alert(2)</script>\\\\033[0m \\\\033]0;pwned\\\\007\\\\033[2J\\\\033[Hvisible-after-escapes\\\\n"
	    - printf "\\\\033[0Ksection_end:1:prep\\\\r\\\\033[0K\\\\n"
	    - printf "\\033[38;5;196mred-before\\n"
	    - echo waiting for the gate
	    - while [ ! -f "\$GATE" ]; do sleep 0.05; done
	    - echo gate opened
	    - printf "still-red\033[0m \033[48;2;1;2;3mtruecolor\033[0m\n"
	    - printf "\\033[0Ksection_start:2:live\\r\\033[0Klive section\\n"
	    - printf "live \\033[1;33m<script>alert(6)</script>\\033[0m\\033]0;pwned\\007\\033[5Dtail\\tend\\n"
	    - printf "\\033[0Ksection_end:2:live\\r\\033[0K\\n"
	unit:
	  stage: test
	  allow_failure: true
	  script:
	    - mkdir -p dist/sub && printf nested-content >dist/sub/file.txt && printf top >dist/top.txt
	    - printf "%s" "<testsuite name=\\"s\\"><testcase classname=\\"c\\" name=\\"ok\\"/><testcase classname=\\"c\\" name=\\"bad_test\\"><failure message=\\"expected 1, got 2\\">at line 3</failure></testcase></testsuite>" >report.xml
	    - exit 1
	  artifacts:
	    when: always
	    paths: [dist/]
	    reports:
	      junit: report.xml
	deploy:
	  stage: deploy
	  when: manual
	  script:
	    - echo deployed by the test
	YML
	(cd work && git add . && git commit -q -m pipeline && git push -q origin HEAD:main) &&
	add_project app "$SCRATCH/app.git" &&
	CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre hook install app.git >out &&
	test -x app.git/hooks/post-receive
'

test_expect_success 'the web UI in chromium' '
	CIDRE_URL=$URL CIDRE_TOKEN=$TOKEN WORK=$SCRATCH/work GATE=$SCRATCH/gate \
		PROFILE=$SCRATCH/profile CHROMIUM=$CHROMIUM \
		timeout 420 node "$BROWSER_DIR/ui.test.js" >browser.tap 2>&1;
	rc=$?; cat browser.tap; test $rc = 0 && grep -q "^1\.\.[1-9]" browser.tap &&
	! grep -q "^not ok" browser.tap
'
# the browser's own steps, in this script's output
sed "s/^/# browser: /" browser.tap 2>/dev/null

test_done
