#!/bin/sh
# include:project on the server: files of another project (GitLab's
# shared templates) read from its mirror at a ref, local includes inside
# them read from that project, only public projects and the pipeline's
# own; a ref the mirror does not have yet is fetched.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

# job_log PIPELINE.json NAME: the log of the job called NAME
job_log() {
	api GET "/api/v1/jobs/$(jq -r ".jobs[] | select(.name == \"$2\") | .id" "$1")/log"
}

# push_pipeline DIR: commit DIR's .gitlab-ci.yml and push it to main
push_pipeline() {
	(cd "$1" && git add . && git commit -qm "pipeline" && git push -q origin HEAD:main)
}

# trigger NAME OUT: a pipeline of NAME's main, finished, into OUT
trigger() {
	api POST "/api/v1/projects/$1/pipelines" "{}" >"$2.created" && expect_status 201 &&
	wait_pipeline "$(jq -r .id "$2.created")" 60 >"$2"
}

test_expect_success 'a server, a template project and a project that includes it' '
	mkdir -p data && start_server data &&
	printf "x: {script: [true]}\n" | bare_repo tmpl &&
	mkdir -p tmpl/ci &&
	cat >tmpl/ci/build.yml <<-\EOF &&
	include:
	  - local: ci/common.yml
	build:
	  extends: .common
	  script: [echo "built with $TOOL from $CI_PROJECT_NAME"]
	EOF
	printf ".common:\n  variables:\n    TOOL: tmpl-v1\n" >tmpl/ci/common.yml &&
	push_pipeline tmpl &&
	add_project tmpl "$SCRATCH/tmpl.git" &&
	api PATCH /api/v1/projects/tmpl "{\"public\": true}" >/dev/null && expect_status 200 &&
	cat <<-\EOF | bare_repo app &&
	include:
	  - project: my-group/tmpl
	    ref: main
	    file: /ci/build.yml
	test:
	  script: [echo "tested"]
	EOF
	add_project app "$SCRATCH/app.git"
'

test_expect_success 'the included file and its own local include come from the template project' '
	trigger app p1.json &&
	jq -e ".status == \"success\"" p1.json &&
	jq -e "[.jobs[].name] | sort == [\"build\", \"test\"]" p1.json &&
	job_log p1.json build >b.log &&
	expect_grep "^built with tmpl-v1 from app$" b.log
'

test_expect_success 'a ref the mirror does not have yet is fetched' '
	printf ".common:\n  variables:\n    TOOL: tmpl-v2\n" >tmpl/ci/common.yml &&
	(cd tmpl && git commit -qam v2 && git tag v2 && git push -q origin v2) &&
	sed -i "s/ref: main/ref: v2/" app/.gitlab-ci.yml && push_pipeline app &&
	trigger app p2.json &&
	jq -e ".status == \"success\"" p2.json &&
	job_log p2.json build >b2.log &&
	expect_grep "^built with tmpl-v2 from app$" b2.log
'

test_expect_success 'a private project cannot be included' '
	api PATCH /api/v1/projects/tmpl "{\"public\": false}" >/dev/null && expect_status 200 &&
	trigger app p3.json &&
	jq -e ".status == \"failed\" and (.jobs | length) == 0" p3.json &&
	jq -e ".error | test(\"^.gitlab-ci.yml:4:[0-9]+: error: include:project my-group/tmpl: project tmpl is not public\")" p3.json
'

test_expect_success 'a project includes its own files at another ref' '
	(cd app && git checkout -q -b shared && mkdir -p ci &&
	 printf "from-shared:\n  script: [echo shared]\n" >ci/s.yml &&
	 git add ci && git commit -qm shared && git push -q origin shared) &&
	(cd app && git checkout -q main) &&
	printf "include:\n  - {project: app, ref: shared, file: ci/s.yml}\nmain-job: {script: [echo main]}\n" \
		>app/.gitlab-ci.yml && push_pipeline app &&
	trigger app p4.json &&
	jq -e ".status == \"success\"" p4.json &&
	jq -e "[.jobs[].name] | sort == [\"from-shared\", \"main-job\"]" p4.json
'

test_expect_success 'a missing project, ref or file fails the pipeline and says which' '
	printf "include:\n  - {project: nope, file: a.yml}\n  - {project: app, ref: no-such-ref, file: a.yml}\n  - {project: app, ref: shared, file: ci/none.yml}\nj: {script: [true]}\n" \
		>app/.gitlab-ci.yml && push_pipeline app &&
	trigger app p5.json &&
	jq -e ".status == \"failed\"" p5.json &&
	jq -r .error p5.json >err &&
	expect_grep "2:[0-9]+: error: include:project nope: no project nope on this server" err &&
	expect_grep "3:[0-9]+: error: include:project app: project app has no branch, tag or commit no-such-ref" err &&
	expect_grep "4:[0-9]+: error: include:project app: no file ci/none.yml at commit [0-9a-f]{8}" err
'

test_expect_success 'GET /api/v1/files: a file of a project at a ref, as its reader may' '
	refresh &&
	api GET "/api/v1/files?project=my-group/tmpl&path=/ci/common.yml&ref=v2" >f.out &&
	expect_status 200 && expect_grep "TOOL: tmpl-v2" f.out &&
	api GET "/api/v1/files?project=tmpl&path=ci/common.yml" >f.out &&
	expect_status 200 && expect_grep "TOOL: tmpl-v1" f.out &&
	api PATCH /api/v1/projects/tmpl "{\"public\": true}" >/dev/null && expect_status 200 &&
	curl -sS -o f.out -w "%{http_code}" "$URL/api/v1/files?project=tmpl&path=ci/build.yml&ref=main" >code &&
	test "$(cat code)" = 200 && expect_grep "extends: .common" f.out &&
	api GET "/api/v1/files?project=tmpl&path=ci/none.yml" >f.out && expect_status 404 &&
	jq -e ".error | test(\"no file ci/none.yml at commit\")" f.out &&
	api GET "/api/v1/files?project=tmpl&path=ci/common.yml&ref=nope" >f.out && expect_status 404 &&
	api GET "/api/v1/files?project=nope&path=a.yml" >f.out && expect_status 404 &&
	api GET "/api/v1/files?path=a.yml" >f.out && expect_status 400
'

test_expect_success 'cidre run and cidre lint read include:project from the configured server' '
	refresh &&
	cat >app/.gitlab-ci.yml <<-\EOF &&
	include:
	  - project: my-group/tmpl
	    ref: v2
	    file: /ci/build.yml
	EOF
	(cd app && export CIDRE_SERVER=$URL && "$CIDRE_BIN" lint >../lint.out 2>&1 &&
	 "$CIDRE_BIN" run --color=never >../run.out 2>&1) &&
	expect_grep "built with tmpl-v2 from app$" run.out &&
	sed -i "s/ref: v2/ref: no-such-ref/" app/.gitlab-ci.yml &&
	(cd app && export CIDRE_SERVER=$URL && expect_exit 2 "$CIDRE_BIN" lint >../lint.out 2>&1) &&
	expect_grep "include:project my-group/tmpl: project tmpl has no branch, tag or commit no-such-ref" lint.out
'

test_expect_success 'without a server, cidre lint says where include:project is read from' '
	(cd app && unset CIDRE_SERVER && export CIDRE_CONFIG=/nonexistent &&
	 expect_exit 2 "$CIDRE_BIN" lint >../lint2.out 2>&1) &&
	expect_grep "include:project my-group/tmpl: files of other projects are read from a cidre server, and there is none" lint2.out
'

test_done
