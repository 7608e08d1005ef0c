#!/bin/sh
# The server's executor per project (config executor: and projects:):
# sandboxed jobs in images of DATA/images with the configured limits; a
# job naming an image on a shell project fails clearly unless host
# fallback is allowed.
. "$(dirname "$0")/lib.sh"
# the server's sandboxed jobs come from its pool daemons, as by default
# (t5035 tests the pools themselves; a sanitizer build has none)
export CIDRE_SANDBOX_POOL_IDLE=60
. "$TEST_DIR/lib-sandbox.sh"
need_sandbox
. "$TEST_DIR/lib-server.sh"

test_expect_success 'a server: project sb sandboxed with limits, sh and fb on the host' '
	mkdir -p data && cat >data/config.yml <<-\EOF &&
	executor:
	  executor: shell
	  pids: 500
	projects:
	  sb:
	    executor: sandbox
	    memory: 48MiB
	  fb:
	    host_fallback: true
	EOF
	bb_image img &&
	cidre image --data data add bb img >/dev/null &&
	start_server data &&
	bare_repo sb <<-\EOF &&
	j:
	  image: bb
	  script:
	    - id -u
	    - pwd
	    - tail -n +3 /proc/net/dev | cut -d":" -f1 | tr -d " "
	hog:
	  image: bb
	  script:
	    - x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo ${#x}
	EOF
	add_project sb "$SCRATCH/sb.git"
'

test_expect_success 'sandboxed jobs run in the image; OOM at the project limit says so' '
	api POST /api/v1/projects/sb/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" 60 >done.json &&
	jq -e ".jobs[] | select(.name == \"j\") | .status == \"success\"" done.json &&
	jq -e ".jobs[] | select(.name == \"hog\") | .status == \"failed\" and .failure_reason == \"out_of_memory\"" done.json &&
	id=$(jq -r ".jobs[] | select(.name == \"j\") | .id" done.json) &&
	api GET "/api/v1/jobs/$id/log" >log &&
	expect_grep "^Running with cidre .* on the embedded runner \\(sandbox executor\\)$" log &&
	expect_grep "^Running in a sandbox: image bb \\($SCRATCH/img\\), network loopback only, memory 48 MiB, pids 500$" log &&
	expect_grep "^65534$" log &&
	expect_grep "^/builds/sb$" log &&
	expect_grep "^lo$" log &&
	id=$(jq -r ".jobs[] | select(.name == \"hog\") | .id" done.json) &&
	api GET "/api/v1/jobs/$id/log" >log &&
	expect_grep "ERROR: Job failed: out of memory" log &&
	{ ! file_is_static "$CIDRE_BIN" ||
	  test "$(cidre pool ls --data data | awk "NR > 1" | wc -l)" = 1; } &&
	cidre image --data data ls >out &&
	expect_grep "^bb +directory +[0-9.]+M +2  " out
'

test_expect_success 'an image job of a shell project fails before it starts, unless fallback is allowed' '
	bare_repo sh <<-\EOF &&
	j:
	  image: bb
	  script: [echo SHOULD-NOT-RUN]
	EOF
	add_project sh "$SCRATCH/sh.git" &&
	api POST /api/v1/projects/sh/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >done.json &&
	jq -e ".jobs[0].status == \"failed\" and .jobs[0].failure_reason == \"runner_system_failure\"" done.json &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" done.json)/log" >log &&
	expect_grep "ERROR: Job failed: the job names image \"bb\" but this runner.s executor is shell" log &&
	expect_no_grep "^SHOULD-NOT-RUN" log &&
	bare_repo fb <<-\EOF &&
	j:
	  image: bb
	  script: [echo on-the-host]
	EOF
	add_project fb "$SCRATCH/fb.git" &&
	api POST /api/v1/projects/fb/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" | jq -e ".status == \"success\"" &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" p.json)/log" >log &&
	expect_grep "this runner has no sandbox; host_fallback allows running the job on this host" log &&
	expect_grep "^on-the-host$" log
'

test_expect_success 'images: names another store; uid and gid are set' '
	stop_server &&
	printf "images: %s/other\nexecutor:\n  executor: sandbox\n  uid: 1000\n  gid: 1001\n" "$SCRATCH" >data/config.yml &&
	cidre image --store other add bb2 img >/dev/null &&
	start_server data &&
	bare_repo oth <<-\EOF &&
	j:
	  image: bb2
	  script: [id -u, id -g]
	EOF
	add_project oth "$SCRATCH/oth.git" &&
	api POST /api/v1/projects/oth/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" | jq -e ".status == \"success\"" &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" p.json)/log" >log &&
	expect_grep "^1000$" log && expect_grep "^1001$" log &&
	cidre image --store other ls >out &&
	expect_grep "^bb2 +directory +[0-9.]+M +1  " out
'

test_expect_success 'a bad executor setting is refused with its position' '
	printf "executor:\n  executor: docker\n" >bad.yml &&
	! "$CIDRE_BIN" server --data data --config bad.yml -n >out 2>&1 &&
	expect_grep "bad.yml:2:13: .*executor.executor: must be shell or sandbox" out &&
	printf "projects:\n  p:\n    pool: sometimes\n" >bad.yml &&
	! "$CIDRE_BIN" server --data data --config bad.yml -n >out 2>&1 &&
	expect_grep "bad.yml:3:11: .*projects.p.pool: must be true or false" out
'

test_done
