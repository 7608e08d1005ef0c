#!/bin/sh
# A runner slot's reused workspace: left untouched, the next job gets it
# without a checkout; changed in any way, the next job gets the commit
# back exactly. The commit's facts come from the mirror's loose objects.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

cat >ws.yml <<'YML'
check:
  script:
    - test "$(cat a)" = a && test -x run.sh && test ! -e junk && test ! -e d/new
    - test -z "$(git status --porcelain --ignored)"
    - echo "facts $CI_COMMIT_TITLE|$CI_COMMIT_AUTHOR|$CI_COMMIT_TIMESTAMP|$CI_COMMIT_BEFORE_SHA"
    - eval "$ACTION"
YML

# run ACTION: a pipeline on main whose job checks the tree, then does ACTION
run() {
	api POST /api/v1/projects/app/pipelines "{\"variables\":{\"ACTION\":\"$1\"}}" >p.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >done.json &&
	jq -e ".status == \"success\"" done.json
}

# the marker is written again after every checkout, kept when none was needed
marker_ino() { stat -c %i data/work/app/1/.git/cidre-checkout; }

test_expect_success 'a server with one runner slot' '
	mkdir -p data && printf "runner:\n  slots: 1\n" >data/config.yml &&
	start_server data &&
	bare_repo app <ws.yml &&
	(cd app && echo a >a && printf "#!/bin/sh\n" >run.sh && chmod +x run.sh &&
	 mkdir d && echo b >d/b && git add . &&
	 GIT_COMMITTER_DATE="1700000000 +0530" git commit -qm "second: facts" &&
	 git push -q origin HEAD:main) &&
	add_project app "$SCRATCH/app.git"
'

test_expect_success 'the commit facts are those git gives' '
	run ":" &&
	want="facts second: facts|$(git -C app log -1 --format="%an <%ae>|%cI|%P")" &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" done.json)/log" >log &&
	grep -qxF "$want" log
'

test_expect_success 'an untouched workspace is reused without a checkout' '
	before=$(marker_ino) &&
	run ":" &&
	test "$(marker_ino)" = "$before"
'

for action in "echo x >a" "echo junk >junk" "mkdir -p d/new" "chmod -x run.sh" \
	"rm d/b" "git add -A >/dev/null; echo x >a" "echo y >d/b; touch -d @1 d/b"; do
	test_expect_success "a job that ran '$action' leaves no trace for the next" '
		run "$action" &&
		run ":"
	'
done

test_expect_success 'a new commit is checked out in the reused workspace' '
	(cd app && echo c >c && git add c && git commit -qm third && git push -q origin HEAD:main) &&
	run "test -f c" &&
	before=$(marker_ino) &&
	run "test -f c" &&
	test "$(marker_ino)" = "$before"
'

test_done
