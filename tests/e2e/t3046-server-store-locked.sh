#!/bin/sh
# Another process holds the server's database locked past the store's
# busy timeout (5 s) while a pipeline is being made (docs/server.md,
# "When the disk is full"): the pipeline's row is written, its jobs
# cannot be. The trigger gets 503 with the reason; the pipeline is not
# left "created": once the lock is let go, the runner fails it, saying
# why; reads answer throughout; the next trigger works.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

# hold DB PROJECT SECONDS READY: wait for a pipeline row of PROJECT, then
# take the database's write lock at once (BEGIN EXCLUSIVE) and keep it
# SECONDS; READY says "locked" once held, or "late" when the server had
# the lock first (its planning was quicker than the wait here)
hold() {
	python3 - "$@" <<-\PY
	import sqlite3, sys, time
	db, project, secs, ready = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
	c = sqlite3.connect(db, timeout=0, isolation_level=None)
	q = "SELECT count(*) FROM pipelines WHERE project_id = (SELECT id FROM projects WHERE name = ?)"
	before = c.execute(q, (project,)).fetchone()[0]
	open(ready, "w").write("polling\n")
	end = time.time() + 60
	while c.execute(q, (project,)).fetchone()[0] == before:
	    if time.time() > end:
	        sys.exit("no pipeline row came")
	    time.sleep(0.0005)
	try:
	    c.execute("BEGIN EXCLUSIVE")
	except sqlite3.OperationalError:
	    open(ready, "w").write("late\n")
	    sys.exit(0)
	open(ready, "w").write("locked\n")
	time.sleep(secs)
	c.execute("COMMIT")
	PY
}

test_expect_success 'a server and a project whose pipeline takes a while to plan' '
	start_server data &&
	{
		echo "stages: [a]"
		i=0
		while [ $i -lt 9 ]; do
			printf "j%d:\n  stage: a\n  parallel:\n    matrix:\n      - X: [" $i
			k=0
			while [ $k -lt 200 ]; do
				[ $k = 0 ] || printf ", "
				printf "v%d" $k
				k=$((k + 1))
			done
			printf "]\n  script: [\"true\"]\n"
			i=$((i + 1))
		done
	} >big.yml &&
	bare_repo big <big.yml &&
	add_project big "$SCRATCH/big.git"
'

# attempt: the holder polling first, then the trigger; 0 when the holder
# took the lock between the pipeline's row and its jobs (the trigger's
# answer in created.json), 1 when the server was quicker (then again)
attempt() {
	rm -f ready &&
	{ hold data/cidre.db big 12 ready & } &&
	holder=$! &&
	wait_for 20 grep -q polling ready &&
	api POST /api/v1/projects/big/pipelines "{}" >created.json &&
	wait "$holder" &&
	test "$(cat ready)" = locked &&
	test "$(cat "$STATUS_FILE")" = 503
}

test_expect_success 'the lock held while the jobs are written: 503, then the pipeline failed saying why' '
	n=0 &&
	until attempt; do
		# the server was quicker: cancel the pipeline it made
		if [ "$(cat "$STATUS_FILE")" = 201 ]; then
			api POST "/api/v1/pipelines/$(jq -r .id created.json)/cancel" >/dev/null
		fi
		n=$((n + 1)) &&
		test $n -lt 3 || { echo "the server was quicker $n times" >&2; return 1; }
	done &&
	jq -e ".error | test(\"^the server cannot record a pipeline now \\\\(.*\\\\): try again later$\")" created.json &&
	id=$(curl -sS "$URL/api/v1/projects/big/pipelines" | jq -r ".[0].id") &&
	test -n "$id" && test "$id" != null &&
	wait_for 30 pipeline_finished "$id" &&
	curl -sS "$URL/api/v1/pipelines/$id" >p.json &&
	jq -e ".status == \"failed\" and (.jobs | length) == 0 and
		(.error | test(\"could not record this pipeline.s jobs \\\\(its store could not be written\"))" p.json &&
	grep -q "pipeline $id: the server could not record this pipeline" data.log
'

test_expect_success 'reads answered while it was locked; the next trigger works' '
	curl -sS "$URL/healthz" | grep -q ok &&
	api POST /api/v1/projects/big/pipelines "{}" >again.json &&
	test "$(cat "$STATUS_FILE")" = 201 &&
	jq -e "(.jobs | length) == 1800" again.json &&
	api POST "/api/v1/pipelines/$(jq -r .id again.json)/cancel" >/dev/null
'

test_done
