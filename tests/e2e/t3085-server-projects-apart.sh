#!/bin/sh
# Projects do not wait for each other: a project whose remote answers
# slowly holds up only its own fetches (and plannings), not another
# project's trigger.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

# git runs this for every pack it sends; it sleeps while slow-now exists
# and the repository sent is slow.git
pack_hook <<EOF2
*/slow.git)
	if [ -e "$SCRATCH/slow-now" ]; then
		: >"$SCRATCH/slow-started"
		sleep 6
		: >"$SCRATCH/slow-done"
	fi ;;
EOF2

test_expect_success 'two projects, one of them with a slow remote' '
	printf "one:\n  script: [echo slow]\n" | bare_repo slow &&
	printf "one:\n  script: [echo fast]\n" | bare_repo fast &&
	(export GIT_CONFIG_GLOBAL="$SCRATCH/gitconfig" && start_server data) &&
	add_project slow "$SCRATCH/slow.git" &&
	add_project fast "$SCRATCH/fast.git"
'

test_expect_success 'a trigger of one project is answered while the other fetches' '
	for r in slow fast; do
		(cd $r && echo "$r 2" >file && git add file && git commit -qm two &&
		 git push -q origin HEAD:main) || return 1
	done &&
	: >slow-now &&
	{ curl -sS -o slow.json -w "%{http_code}" -X POST -H "Authorization: Bearer $TOKEN" \
		-H "Content-Type: application/json" --data-binary "{}" \
		"$URL/api/v1/projects/slow/pipelines" >slow.code & slow=$!; } &&
	wait_for 20 test -e slow-started &&
	api POST /api/v1/projects/fast/pipelines "{}" >fast.json && expect_status 201 &&
	test ! -e slow-done &&
	wait "$slow" && test "$(cat slow.code)" = 201 &&
	test -e slow-done &&
	wait_pipeline "$(jq -r .id fast.json)" | jq -e ".status == \"success\"" &&
	wait_pipeline "$(jq -r .id slow.json)" | jq -e ".status == \"success\""
'

test_expect_success 'the server stops cleanly' '
	stop_server
'

test_done
