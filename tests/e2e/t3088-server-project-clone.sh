#!/bin/sh
# A project's first clone does not hold an HTTP thread: POST /projects
# waits for it a while (a small repository answers 201 as before), then
# answers 202 and the clone goes on alone; the project exists once it is
# cloned, or the server says why it could not be.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

# git runs this for every pack it sends: slow.git takes 5 s (or the
# seconds slow-now holds) while slow-now exists; broken.git fails after 3 s
pack_hook <<EOF2
*/slow.git)
	if [ -e "$SCRATCH/slow-now" ]; then
		: >"$SCRATCH/slow-started"
		s=\$(cat "$SCRATCH/slow-now")
		sleep "\${s:-5}"
	fi ;;
*/broken.git)
	sleep 3
	echo "the pack cannot be made" >&2
	exit 1 ;;
EOF2

test_expect_success 'a server and two remotes, one slow and one broken' '
	printf "one:\n  script: [echo slow]\n" | bare_repo slow &&
	printf "one:\n  script: [echo broken]\n" | bare_repo broken &&
	(export GIT_CONFIG_GLOBAL="$SCRATCH/gitconfig" && start_server data)
'

test_expect_success 'a slow clone answers 202; the project exists once it is cloned' '
	: >slow-now &&
	api POST /api/v1/projects "{\"name\":\"slow\",\"repo\":\"file://$SCRATCH/slow.git\",\"public\":true}" >add.json &&
	expect_status 202 &&
	jq -e ".mirror == \"cloning\" and .name == \"slow\" and .public == true" add.json &&
	test -e slow-started &&
	curl -sS -o /dev/null -w "%{http_code}" "$URL/healthz" >code && test "$(cat code)" = 200 &&
	api GET /api/v1/projects/slow >p.json && expect_status 202 &&
	jq -e ".mirror == \"cloning\" and .cloning_ms >= 0" p.json &&
	api POST /api/v1/projects "{\"name\":\"slow\",\"repo\":\"file://$SCRATCH/slow.git\"}" >again.json &&
	expect_status 409 && jq -e ".error | test(\"being cloned\")" again.json &&
	api POST /api/v1/projects/slow/pipelines "{}" >t.json && expect_status 404 &&
	test -d data/repos/slow.git.cloning &&
	wait_for 30 sh -c "curl -sS -o /dev/null -w %{http_code} -H \"Authorization: Bearer $TOKEN\" $URL/api/v1/projects/slow | grep -qx 200" &&
	rm slow-now &&
	api GET /api/v1/projects/slow >p.json && expect_status 200 &&
	jq -e ".public == true and (.hook_secret | length) == 64" p.json &&
	! test -e data/repos/slow.git.cloning &&
	grep -q "project slow added (file://$SCRATCH/slow.git) after cloning" data.log &&
	api POST /api/v1/projects/slow/pipelines "{}" >t.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id t.json)" | jq -e ".status == \"success\""
'

test_expect_success 'a clone that fails later: the project is not added, and GET says why' '
	api POST /api/v1/projects "{\"name\":\"broken\",\"repo\":\"file://$SCRATCH/broken.git\"}" >add.json &&
	expect_status 202 &&
	wait_for 30 sh -c "curl -sS -o /dev/null -w %{http_code} -H \"Authorization: Bearer $TOKEN\" $URL/api/v1/projects/broken | grep -qx 404" &&
	api GET /api/v1/projects/broken >p.json && expect_status 404 &&
	jq -e ".error | test(\"^project broken not found: cloning file://.*/broken.git failed: \")" p.json &&
	! test -e data/repos/broken.git && ! test -e data/repos/broken.git.cloning &&
	api GET /api/v1/projects >all.json &&
	jq -e "[.[].name] == [\"slow\"]" all.json
'

test_expect_success 'cidre project add waits for a long clone and says so' '
	refresh && : >slow-now &&
	(export CIDRE_SERVER="$URL" CIDRE_TOKEN="$TOKEN" &&
	 cidre project add slow2 --repo "file://$SCRATCH/slow.git" >out 2>err) &&
	rm slow-now &&
	expect_grep "^cloning file://.*/slow.git \(the server adds project slow2 when it is done\)" err &&
	expect_grep "^project slow2 added: file://.*/slow.git" out &&
	api GET /api/v1/projects/slow2 >/dev/null && expect_status 200
'

test_expect_success 'a clone a stopped server left behind is removed at the next start' '
	stop_server &&
	mkdir -p data/repos/left.git.cloning/objects &&
	start_server data &&
	! test -e data/repos/left.git.cloning &&
	grep -q "removing .*/repos/left.git.cloning, a clone a stopped server left" data.log
'

test_expect_success 'a server stopped during a clone stops its git and removes what it made' '
	stop_server &&
	(export GIT_CONFIG_GLOBAL="$SCRATCH/gitconfig" && start_server data) &&
	rm -f slow-started && : >slow-now &&
	api POST /api/v1/projects "{\"name\":\"slow3\",\"repo\":\"file://$SCRATCH/slow.git\"}" >add.json &&
	expect_status 202 &&
	test -e slow-started &&
	pgrep -f "$SCRATCH/slow-pack" >running && test -s running &&
	stop_server &&
	rm slow-now &&
	! pgrep -f "clone --mirror --quiet -- file://$SCRATCH/slow.git" &&
	! pgrep -f "$SCRATCH/slow-pack" &&
	! test -e data/repos/slow3.git.cloning && ! test -e data/repos/slow3.git &&
	expect_no_grep "clean-up goes on" data.log &&
	start_server data &&
	api GET /api/v1/projects/slow3 >p.json && expect_status 404
'

test_expect_success 'the git of a clone a killed server left is stopped at the next start' '
	stop_server &&
	(export GIT_CONFIG_GLOBAL="$SCRATCH/gitconfig" && start_server data) &&
	rm -f slow-started && echo 120 >slow-now &&
	api POST /api/v1/projects "{\"name\":\"slow4\",\"repo\":\"file://$SCRATCH/slow.git\"}" >add.json &&
	expect_status 202 &&
	test -e slow-started &&
	kill_server &&
	pgrep -f "clone --mirror --quiet -- file://$SCRATCH/slow.git" >left && test -s left &&
	pgrep -f "$SCRATCH/slow-pack" >left && test -s left &&
	test -d data/repos/slow4.git.cloning &&
	start_server data &&
	rm slow-now &&
	! pgrep -f "clone --mirror --quiet -- file://$SCRATCH/slow.git" &&
	! pgrep -f "$SCRATCH/slow-pack" &&
	! test -e data/repos/slow4.git.cloning &&
	expect_grep "stopping the git of a clone a killed server left" data.log &&
	api GET /api/v1/projects/slow4 >p.json && expect_status 404
'

test_done
