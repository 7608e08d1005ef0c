#!/bin/sh
# GET /api/v1/events: pipeline and job status events over SSE, filtered
# by what the caller may see, resumed with Last-Event-ID, a resync for a
# reader the ring has left behind, and the per-caller stream cap.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

# stream NAME PATH [CURL ARGS...]: follow PATH's events into NAME.sse in
# the background (its pid in NAME.spid) until stop_streams.
stream() {
	refresh
	sn=$1 sp=$2; shift 2
	command curl -sSN -o "$sn.sse" "$@" "$URL$sp" &
	echo $! >"$sn.spid"
}
stop_streams() {
	for f in *.spid; do
		[ -f "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null
		rm -f "$f"
	done
}
login() {
	command curl -sS -c "$1.jar" -o "$1.login" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' \
		--data-binary "{\"login\":\"$1\",\"password\":\"pw-of-$1-1\"}" "$URL/api/v1/session" \
		>"$STATUS_FILE" && expect_status 200
}
# ids NAME EVENT: the ids of NAME.sse's events of that type, in order
ids() {
	awk -v e="$2" '/^event: /{ev=$2} /^id: /{ if (ev == e) print $2 }' "$1.sse"
}
# datas NAME EVENT: their data lines (JSON), one a line
datas() {
	awk -v e="$2" '/^event: /{ev=$2} /^data: /{ if (ev == e) { sub(/^data: /, ""); print } }' "$1.sse"
}
# some NAME EVENT FILTER: one of NAME.sse's EVENT events passes the jq FILTER
some() {
	datas "$1" "$2" | jq -s -e "map(select($3)) | length > 0" >/dev/null
}
# has NAME EVENT ID STATUS: NAME.sse holds that event of object ID with STATUS
has() {
	some "$1" "$2" ".id == $3 and .status == \"$4\""
}

# A ring of 64: room enough that the streams of tests 3 and 4 keep up
# with two pipelines on a loaded machine (an ASan run behind by 16 events
# got a resync there); test 5 makes more than that to leave one behind.
cat >conf.yml <<\CONF
events:
  backlog: 64
CONF
start_server data --config conf.yml || { echo "Bail out! the server does not start"; exit 1; }

test_expect_success 'two projects, a viewer of one and a user of none' '
	bare_repo a <<-\YML &&
	one:
	  script: [echo one]
	YML
	bare_repo b <<-\YML &&
	two:
	  script: [echo two]
	YML
	add_project a "$SCRATCH/a.git" && add_project b "$SCRATCH/b.git" &&
	for u in alice zed cap; do
		api POST /api/v1/users "{\"login\":\"$u\",\"password\":\"pw-of-$u-1\"}" >/dev/null &&
		expect_status 201 && login $u || return 1
	done &&
	api PUT /api/v1/projects/a/members/alice "{\"role\":\"viewer\"}" >/dev/null &&
	expect_status 200
'

test_expect_success 'a project or pipeline the caller cannot see is 404, a bad id 400' '
	api POST /api/v1/projects/b/pipelines "{\"ref\":\"main\"}" >pb0.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id pb0.json)" >/dev/null &&
	test "$(command curl -sS -o e.json -w "%{http_code}" -b alice.jar "$URL/api/v1/events?project=b")" = 404 &&
	test "$(command curl -sS -o e.json -w "%{http_code}" -b alice.jar "$URL/api/v1/events?pipeline=$(jq -r .id pb0.json)")" = 404 &&
	test "$(command curl -sS -o e.json -w "%{http_code}" -b zed.jar "$URL/api/v1/events?project=a")" = 404 &&
	test "$(command curl -sS -o e.json -w "%{http_code}" "$URL/api/v1/events?project=a")" = 404 &&
	test "$(command curl -sS -o e.json -w "%{http_code}" -b alice.jar "$URL/api/v1/events?pipeline=x")" = 400 &&
	test "$(command curl -sS -o e.json -w "%{http_code}" -b alice.jar "$URL/api/v1/events?project=nope")" = 404
'

test_expect_success 'a viewer of a sees the events of a, none of b; admin and pipeline streams' '
	stream alice /api/v1/events -b alice.jar &&
	stream zed /api/v1/events -b zed.jar &&
	stream admin "/api/v1/events?project=a" -H "Authorization: Bearer $TOKEN" &&
	stream all /api/v1/events -H "Authorization: Bearer $TOKEN" &&
	wait_for 10 grep -q "^retry:" alice.sse &&
	wait_for 10 grep -q "^retry:" zed.sse &&
	wait_for 10 grep -q "^retry:" admin.sse &&
	wait_for 10 grep -q "^retry:" all.sse &&
	api POST /api/v1/projects/a/pipelines "{\"ref\":\"main\"}" >pa.json && expect_status 201 &&
	api POST /api/v1/projects/b/pipelines "{\"ref\":\"main\"}" >pb.json && expect_status 201 &&
	pa=$(jq -r .id pa.json) && pb=$(jq -r .id pb.json) &&
	wait_pipeline "$pa" >/dev/null && wait_pipeline "$pb" >/dev/null &&
	wait_for 10 has alice pipeline $pa success &&
	wait_for 10 has all pipeline $pb success &&
	wait_for 10 has admin pipeline $pa success &&
	some alice pipeline ".id == $pa and .status == \"created\"" &&
	some alice job ".pipeline_id == $pa and .status == \"running\" and .name == \"one\"" &&
	some alice job ".pipeline_id == $pa and .status == \"success\" and .duration != null" &&
	some alice pipeline ".id == $pa and .status == \"success\" and .started_at != null and .finished_at != null" &&
	! grep -q "\"project\":\"b\"" alice.sse &&
	! grep -q "\"project\":\"b\"" admin.sse &&
	grep -q "\"project\":\"b\"" all.sse &&
	! grep -q "^event: \(pipeline\|job\)" zed.sse &&
	ids admin pipeline >admin.ids && test -s admin.ids &&
	sort -n admin.ids | cmp - admin.ids
'

test_expect_success 'Last-Event-ID resumes after that event' '
	ids admin job >/dev/null &&
	grep "^id: " admin.sse | sed "s/^id: //" >seen.ids &&
	first=$(sed -n 1p seen.ids) &&
	command curl -sSN -m 3 -o resumed.sse -H "Authorization: Bearer $TOKEN" \
		-H "Last-Event-ID: $first" "$URL/api/v1/events?project=a"
	grep "^id: " resumed.sse | sed "s/^id: //" >resumed.ids &&
	sed 1d seen.ids >want.ids &&
	test -s want.ids && cmp want.ids resumed.ids &&
	! grep -q "^event: resync" resumed.sse
'

test_expect_success 'a pipeline stream starts with its current state; not when resumed' '
	pa=$(jq -r .id pa.json) &&
	command curl -sSN -m 2 -o snap.sse -H "Authorization: Bearer $TOKEN" \
		"$URL/api/v1/events?pipeline=$pa"
	test "$(sed -n "/^event: /{s/^event: //p;q}" snap.sse)" = pipeline &&
	has snap pipeline "$pa" success &&
	some snap job ".pipeline_id == $pa and .name == \"one\" and .status == \"success\"" &&
	# an event holds the object as the API gives it, to the byte (its
	# CPU seconds 0.004, not 0.0040000000000000001)
	datas snap job | head -n 1 >event.json &&
	curl -sS -o api.json "$URL/api/v1/jobs/$(jq -r .id event.json)" &&
	echo >>api.json && cmp event.json api.json &&
	first=$(ids snap pipeline | head -1) && test -n "$first" &&
	command curl -sSN -m 2 -o snap2.sse -H "Authorization: Bearer $TOKEN" \
		-H "Last-Event-ID: $first" "$URL/api/v1/events?pipeline=$pa"
	! grep -q "^event: \(pipeline\|job\)" snap2.sse
'

test_expect_success 'numbers in events have at most 10 significant digits, as in the API' '
	cat ./*.sse | grep "^data: " >all.data &&
	test -s all.data &&
	! grep -E "[.]0*[1-9][0-9]{10,}" all.data
'

test_expect_success 'a reader the ring has left behind, or an unknown id, gets resync' '
	bare_repo burst <<-\YML &&
	b:
	  parallel: 30
	  script: [echo b]
	YML
	add_project burst "$SCRATCH/burst.git" &&
	api POST /api/v1/projects/a/pipelines "{\"ref\":\"main\"}" >pa2.json && expect_status 201 &&
	api POST /api/v1/projects/burst/pipelines "{\"ref\":\"main\"}" >pb2.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id pa2.json)" >/dev/null &&
	wait_pipeline "$(jq -r .id pb2.json)" 120 >/dev/null &&
	first=$(sed -n 1p seen.ids) &&
	command curl -sSN -m 2 -o behind.sse -H "Authorization: Bearer $TOKEN" \
		-H "Last-Event-ID: $first" "$URL/api/v1/events?project=a"
	test "$(grep -c "^event: " behind.sse)" = 1 &&
	grep -q "^event: resync" behind.sse &&
	command curl -sSN -m 2 -o bogus.sse -H "Authorization: Bearer $TOKEN" \
		-H "Last-Event-ID: 12abc" "$URL/api/v1/events"
	grep -q "^event: resync" bogus.sse &&
	command curl -sSN -m 2 -o old.sse -H "Authorization: Bearer $TOKEN" \
		-H "Last-Event-ID: 5" "$URL/api/v1/events"
	grep -q "^event: resync" old.sse
'

# finished_at_least PIPELINE N: N of its jobs have succeeded
finished_at_least() {
	refresh
	test "$(curl -sS "$URL/api/v1/pipelines/$1" |
		jq "[.jobs[] | select(.status == \"success\")] | length")" -ge "$2"
}

test_expect_success 'a reader that stops reading falls behind and gets resync, not a queue' '
	bare_repo wide <<-\YML &&
	w:
	  parallel: 150
	  script: [echo "a line long enough to make the events of this job a little bigger"]
	YML
	add_project wide "$SCRATCH/wide.git" &&
	refresh &&
	port=${URL##*:} &&
	python3 "$TEST_DIR/../tools/slow-sse.py" 127.0.0.1 "$port" "/api/v1/events?project=wide" \
		"$TOKEN" go 30 slow.sse &
	echo $! >slowpy.pid &&
	wait_for 10 test -f slow.sse.connected &&
	api POST /api/v1/projects/wide/pipelines "{\"ref\":\"main\"}" >pw.json && expect_status 201 &&
	# far more events than the ring (64) and the socket buffers hold, but
	# not the whole pipeline: a reader stalled longer than the server'"'"'s
	# idle timeout (60 s; a slow ASan run) is closed, rightly
	wait_for 120 finished_at_least "$(jq -r .id pw.json)" 120 &&
	touch go &&
	# it reads until the resync (on a loaded machine the server may take
	# seconds to write again to a stream that fell behind)
	wait_for 40 test -f slow.sse &&
	wait_pipeline "$(jq -r .id pw.json)" 120 >/dev/null &&
	grep -q "^event: job" slow.sse &&
	grep -q "^event: resync" slow.sse &&
	test "$(grep -c "^event: job" slow.sse)" -lt 450
'

test_expect_success 'a caller has at most 16 streams (429), the server says so' '
	stop_streams &&
	i=0 && while [ $i -lt 16 ]; do stream many$i /api/v1/events -b cap.jar; i=$((i + 1)); done &&
	i=0 && while [ $i -lt 16 ]; do wait_for 10 grep -q "^retry:" many$i.sse || return 1; i=$((i + 1)); done &&
	test "$(command curl -sS -m 5 -o e.json -w "%{http_code}" -b cap.jar "$URL/api/v1/events")" = 429 &&
	jq -e ".error | test(\"too many\")" e.json &&
	test "$(command curl -sS -m 2 -o ok.sse -w "%{http_code}" -b zed.jar "$URL/api/v1/events")" = 200
	stop_streams
'

# ended NAME: NAME's curl has exited (the server ended its stream)
ended() {
	! kill -0 "$(cat "$1.spid")" 2>/dev/null
}

test_expect_success 'a change of access ends open streams; the client is authorised again' '
	stream zed2 /api/v1/events -b zed.jar &&
	stream alice2 "/api/v1/events?project=a" -b alice.jar &&
	wait_for 10 grep -q "^retry:" zed2.sse && wait_for 10 grep -q "^retry:" alice2.sse &&
	# zed becomes a viewer of b: the all-projects stream of zed ends
	api PUT /api/v1/projects/b/members/zed "{\"role\":\"viewer\"}" >/dev/null &&
	expect_status 200 &&
	wait_for 10 ended zed2 && wait_for 10 ended alice2 &&
	last=$(grep "^id: " alice2.sse | tail -1 | sed "s/^id: //") &&
	# connected again, zed now sees b
	stream zed3 /api/v1/events -b zed.jar &&
	wait_for 10 grep -q "^retry:" zed3.sse &&
	api POST /api/v1/projects/b/pipelines "{\"ref\":\"main\"}" >pb4.json && expect_status 201 &&
	wait_for 10 has zed3 pipeline "$(jq -r .id pb4.json)" success &&
	# alice loses a: her reconnect (with her last id) is refused
	api DELETE /api/v1/projects/a/members/alice >/dev/null && expect_status 200 &&
	test "$(command curl -sS -m 3 -o e.json -w "%{http_code}" -b alice.jar \
		${last:+-H "Last-Event-ID: $last"} "$URL/api/v1/events?project=a")" = 404 &&
	stop_streams
'

test_expect_success 'a live log stream ends too when its reader loses access' '
	bare_repo c <<-\YML &&
	long:
	  script: [echo started, sleep 30]
	YML
	add_project c "$SCRATCH/c.git" &&
	api PUT /api/v1/projects/c/members/zed "{\"role\":\"viewer\"}" >/dev/null &&
	api POST /api/v1/projects/c/pipelines "{\"ref\":\"main\"}" >pc.json && expect_status 201 &&
	job=$(jq -r ".jobs[0].id" pc.json) &&
	wait_for 20 job_status_is "$job" running &&
	stream zlog "/api/v1/jobs/$job/log/stream" -b zed.jar &&
	wait_for 10 grep -q "started" zlog.sse &&
	api DELETE /api/v1/projects/c/members/zed >/dev/null && expect_status 200 &&
	wait_for 10 ended zlog &&
	! grep -q "^event: end" zlog.sse &&
	test "$(command curl -sS -m 3 -o e.json -w "%{http_code}" -b zed.jar \
		"$URL/api/v1/jobs/$job/log/stream")" = 404 &&
	api POST "/api/v1/pipelines/$(jq -r .id pc.json)/cancel" >/dev/null &&
	stop_streams
'

test_expect_success 'the server stops cleanly with streams open' '
	stream last /api/v1/events -H "Authorization: Bearer $TOKEN" &&
	wait_for 10 grep -q "^retry:" last.sse &&
	stop_server
'
stop_streams
test_done
