#!/bin/sh
# The command-line client against a real server: where the server and the
# token come from, project add/list/show/rm, the post-receive hook, status,
# log (whole and followed live, across a server restart), exit codes.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

pid_gone() { ! process_alive "$1"; }

# One server for the whole script (variables set inside a test do not
# outlive it).
start_server data || { echo "Bail out! the server does not start"; exit 1; }
unset CIDRE_SERVER CIDRE_TOKEN CIDRE_CONFIG XDG_CONFIG_HOME

cat >pipeline.yml <<'YML'
stages: [build, test]
build:
  stage: build
  script:
    - echo "building $CI_COMMIT_SHORT_SHA"
test:
  stage: test
  script:
    - echo "testing"
    - exit 3
YML

test_expect_success 'no server configured: exit 2 and how to name one' '
	expect_exit 2 cidre status >out 2>&1 &&
	expect_grep "no server: use --server URL, set CIDRE_SERVER or write .server = URL. in $HOME/.config/cidre/client.conf" out
'

test_expect_success 'an unreachable server: exit 2, the URL and why' '
	expect_exit 2 cidre status --server http://127.0.0.1:1 >out 2>&1 &&
	expect_grep "^cidre: cannot reach the server at http://127.0.0.1:1: " out
'

test_expect_success 'the config file gives the server and a token file' '
	bare_repo app <pipeline.yml &&
	mkdir -p "$HOME/.config/cidre" &&
	printf "# test\nserver = %s/\ntoken_file = %s\n" "$URL" "$SCRATCH/data/admin-token" \
		>"$HOME/.config/cidre/client.conf" &&
	cidre project add app --repo app.git --branches "ma*" >out 2>&1 &&
	expect_grep "^project app added: $SCRATCH/app.git \(branches ma\*\)" out &&
	cidre project list >out &&
	expect_grep "^app +$SCRATCH/app.git +ma\* +-$" out
'

test_expect_success 'CIDRE_CONFIG, then the environment, then options win' '
	printf "server = http://127.0.0.1:1\n" >other.conf &&
	expect_exit 2 env CIDRE_CONFIG=other.conf "$CIDRE_BIN" project list >out 2>&1 &&
	expect_grep "127.0.0.1:1" out &&
	CIDRE_CONFIG=other.conf CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN cidre project list >out &&
	expect_grep "^app " out &&
	CIDRE_SERVER=http://127.0.0.1:1 cidre project list --server "$URL" >out &&
	expect_grep "^app " out &&
	expect_exit 2 env CIDRE_CONFIG=missing.conf "$CIDRE_BIN" status >out 2>&1 &&
	expect_grep "cannot read the config file missing.conf" out
'

test_expect_success 'a broken config file is reported with its line' '
	printf "server = %s\ntokn = x\n" "$URL" >bad.conf &&
	expect_exit 2 env CIDRE_CONFIG=bad.conf "$CIDRE_BIN" status >out 2>&1 &&
	expect_grep "bad.conf:2: unknown key .tokn." out
'

test_expect_success 'writes need a token: 401 is exit 1 with the server message and a hint' '
	printf "server = %s\n" "$URL" >notoken.conf &&
	expect_exit 1 env CIDRE_CONFIG=notoken.conf "$CIDRE_BIN" project add x --repo /tmp >out 2>&1 &&
	expect_grep "^cidre: .*\(no token: use --token" out &&
	expect_exit 1 env CIDRE_CONFIG=notoken.conf "$CIDRE_BIN" project add x --repo /tmp \
		--token wrong >out 2>&1 &&
	expect_grep "^cidre: " out &&
	expect_no_grep "no token:" out
'

test_expect_success 'project show gives the hook secret only with a token' '
	cidre project show app --json >with.json &&
	jq -e ".hook_secret | length > 0" with.json &&
	expect_exit 1 env CIDRE_CONFIG=notoken.conf "$CIDRE_BIN" project show app --json \
		>without.json 2>err &&
	expect_grep "project app not found" err &&
	expect_no_grep hook_secret without.json
'

test_expect_success 'project add: a taken name, a bad name are refused (exit 1)' '
	expect_exit 1 cidre project add app --repo app.git >out 2>&1 &&
	expect_grep "^cidre: " out &&
	expect_exit 1 cidre project add "no/slash" --repo app.git >out 2>&1 &&
	expect_grep "^cidre: " out &&
	expect_exit 2 cidre project add nameonly >out 2>&1 &&
	expect_grep "add wants --repo" out
'

test_expect_success 'hook install finds the project by its repository and writes an executable hook' '
	cidre hook install app.git >out &&
	expect_grep "installed $SCRATCH/app.git/hooks/post-receive: .* project app on $URL" out &&
	test "$(stat -c %a app.git/hooks/post-receive)" = 755 &&
	expect_grep "^exec .*hook run --server .$URL. --project .app. --token " app.git/hooks/post-receive &&
	secret=$(jq -r .hook_secret with.json) &&
	expect_grep "$secret" app.git/hooks/post-receive
'

test_expect_success 'a push prints the pipeline it started' '
	(cd app && echo 1 >f && git add f && git commit -q -m one &&
	 git push origin HEAD:main) >out 2>&1 &&
	expect_grep "^remote: cidre: pipeline [0-9]+ for (refs/heads/)?main: $URL/api/v1/pipelines/[0-9]+" out
'

test_expect_success 'a push to a branch outside --branches starts nothing, and says so' '
	(cd app && git push origin HEAD:other) >out 2>&1 &&
	expect_grep "remote: cidre: no pipeline for this push" out &&
	expect_no_grep "remote: cidre: pipeline" out
'

test_expect_success 'status lists the pipeline; status ID shows its jobs' '
	id=$(cidre status app -n 1 --json | jq -r ".[0].id") &&
	wait_pipeline "$id" >/dev/null &&
	cidre status >out &&
	expect_grep "^ *ID +PROJECT +REF +SHA +SOURCE +STATUS +DURATION +AGE$" out &&
	expect_grep "^ *$id +app +main +[0-9a-f]{8} +push +failed +[0-9.]+s +[0-9]+s ago$" out &&
	cidre status "$id" >out &&
	expect_grep "^pipeline $id  app  main  [0-9a-f]{8}  push  failed" out &&
	expect_grep "^ *[0-9]+ +build +build +success +[0-9.]+s +[0-9.]+ [KM]B +0$" out &&
	expect_grep "^ *[0-9]+ +test +test +failed +[0-9.]+s +[0-9.]+ [KM]B +3$" out &&
	cidre status -p "$id" --json | jq -e ".id == $id and (.jobs | length) == 2"
'

test_expect_success 'status filters: --ref, --status, --source, a project' '
	cidre status --status success >out &&
	expect_grep "^no pipelines match$" out &&
	cidre status app --ref main --status failed --source push --json | jq -e "length == 1" &&
	cidre status app --ref nope --json | jq -e "length == 0"
'

test_expect_success 'status --sha: the pipelines of a commit, by a prefix too' '
	sha=$(git -C app rev-parse HEAD) &&
	cidre status --sha "$sha" --json | jq -e --arg s "$sha" "length == 1 and .[0].sha == \$s" &&
	cidre status app --sha "$(git -C app rev-parse --short=7 HEAD)" >out &&
	expect_grep "^ *[0-9]+ +app +main +${sha%${sha#????????}} +push +failed" out &&
	other=$(printf %s "$sha" | cut -c1-6 | tr 0-9a-f 1-9a-f0) &&
	cidre status --sha "$other" --json | jq -e "length == 0" &&
	expect_exit 1 cidre status --sha xyz >out 2>&1 &&
	expect_grep "sha must be 4 to 40 hexadecimal digits" out
'

test_expect_success 'a mistyped option: the one meant, and where the help is' '
	expect_exit 2 cidre status --jsno 2>err &&
	expect_grep "^cidre status: unknown or incomplete option .--jsno.; did you mean .--json.\?$" err &&
	expect_grep "^see .cidre status -h.$" err &&
	expect_exit 2 cidre trigger app --wiat 2>err &&
	expect_grep "did you mean .--wait.\?$" err &&
	expect_exit 2 cidre status --frobnicate 2>err &&
	expect_no_grep "did you mean" err
'

test_expect_success 'status of a missing pipeline: the server message, exit 1' '
	expect_exit 1 cidre status 9999 >out 2>&1 &&
	expect_grep "^cidre: .*9999" out
'

test_expect_success 'log prints the whole log; exit 0 for a success, 1 for a failure' '
	id=$(cidre status app -n 1 --json | jq -r ".[0].id") &&
	build=$(cidre status "$id" --json | jq -r ".jobs[] | select(.name == \"build\") | .id") &&
	test=$(cidre status "$id" --json | jq -r ".jobs[] | select(.name == \"test\") | .id") &&
	cidre log "$build" >out &&
	expect_grep "^building [0-9a-f]{8}$" out &&
	expect_exit 1 cidre log "$test" >out &&
	expect_grep "^testing$" out &&
	expect_exit 1 cidre log -f "$test" >out 2>err &&
	expect_grep "^testing$" out &&
	expect_grep "^cidre: job $test failed, exit code 3$" err &&
	expect_exit 1 cidre log 99999 2>err &&
	expect_grep "^cidre: " err
'

cat >slow.yml <<'YML'
slow:
  script:
    - echo "first line"
    - while [ ! -f "$GO_FILE" ]; do sleep 0.05; done
    - echo "second line"
YML

test_expect_success 'log -f follows a running job until it ends, across a server restart' '
	bare_repo slow <slow.yml &&
	cidre project add slow --repo slow.git >/dev/null &&
	id=$(cidre trigger slow main -v GO_FILE="$SCRATCH/go" -q) &&
	job=$(cidre status "$id" --json | jq -r ".jobs[0].id") &&
	{ cidre log -f "$job" >follow.out 2>follow.err & follower=$!; } &&
	wait_for 30 grep -q "^first line" follow.out &&
	port=${URL##*:} &&
	kill -TERM "$SERVER_PID" &&
	wait_for 20 pid_gone "$SERVER_PID" &&
	{ "$CIDRE_BIN" server --data data --listen "127.0.0.1:$port" >>data.log 2>&1 &
	  echo $! >server2.pid; } &&
	wait_for 20 curl -sf "$URL/api/v1/version" &&
	touch go &&
	wait "$follower" &&
	test "$(grep -c "^first line" follow.out)" = 1 &&
	test "$(grep -c "^second line" follow.out)" = 1
'

test_expect_success 'localhost, and a trailing slash, reach the server' '
	cidre status --server "http://localhost:${URL##*:}/" --json | jq -e "length >= 1"
'

test_expect_success 'libcurl (CIDRE_CLIENT_CURL, cidre-client) answers as the built-in HTTP does' '
	cidre status --json >own.json &&
	CIDRE_CLIENT_CURL=1 cidre status --json >curl.json &&
	cmp own.json curl.json &&
	id=$(jq -r ".[0].id" own.json) &&
	cidre status "$id" --json >own.json &&
	CIDRE_CLIENT_CURL=1 cidre status "$id" --json >curl.json &&
	cmp own.json curl.json
'

test_expect_success 'https:// is handed to cidre-client: a plain server fails the handshake, exit 2' '
	expect_exit 2 cidre status --server "https://127.0.0.1:${URL##*:}" >out 2>&1 &&
	expect_grep "^cidre: cannot reach the server at https://127.0.0.1:${URL##*:}: " out &&
	expect_no_grep "does not have" out
'

test_expect_success 'a value on stdin reaches the server through cidre-client too' '
	printf "job:\n  script: [\"echo value=\$FROM_STDIN\"]\n" | bare_repo vars &&
	cidre project add vars --repo vars.git >/dev/null &&
	printf "over-the-hand-over\n" | CIDRE_CLIENT_CURL=1 \
		cidre variable set vars FROM_STDIN --stdin >out &&
	expect_grep "^variable FROM_STDIN of vars set" out &&
	CIDRE_CLIENT_CURL=1 cidre trigger vars main --wait --json >p.json &&
	cidre log "$(jq -r ".jobs[0].id" p.json)" >log &&
	expect_grep "^value=over-the-hand-over$" log &&
	cidre project rm vars >/dev/null
'

test_expect_success 'log -f says how a job ended: allowed to fail, timed out, exit code' '
	printf "%s\n" "lint:" "  script: [\"exit 4\"]" "  allow_failure: true" \
		"hang:" "  script: [\"sleep 30\"]" "  timeout: 1s" | bare_repo ends &&
	cidre project add ends --repo ends.git >/dev/null &&
	expect_exit 1 cidre trigger ends main --wait --json >p.json 2>/dev/null &&
	lint=$(jq -r ".jobs[] | select(.name == \"lint\") | .id" p.json) &&
	hang=$(jq -r ".jobs[] | select(.name == \"hang\") | .id" p.json) &&
	expect_exit 1 cidre log -f "$lint" >out 2>err &&
	expect_grep "^cidre: job $lint failed \(allowed\), exit code 4$" err &&
	expect_exit 1 cidre log -f "$hang" >out 2>err &&
	expect_grep "^cidre: job $hang failed \(job_execution_timeout\)$" err &&
	cidre status "$(jq -r .id p.json)" >out &&
	expect_grep "failed \(allowed\) " out &&
	expect_grep "failed \(job_execution_timeout\)" out &&
	cidre project rm ends >/dev/null
'

test_expect_success 'a pipeline that passed with a failure allowed: success with warnings' '
	printf "%s\n" "lint:" "  script: [\"exit 2\"]" "  allow_failure: true" \
		"test:" "  script: [\"true\"]" | bare_repo warns &&
	cidre project add warns --repo warns.git >/dev/null &&
	cidre trigger warns main --wait >out 2>/dev/null &&
	expect_grep "^pipeline [0-9]+  warns  main  [0-9a-f]{8}  api  success with warnings  in " out &&
	expect_grep "lint +test +failed \(allowed\) " out &&
	cidre trigger warns main --wait --json >p.json 2>/dev/null &&
	jq -e ".status == \"success\"" p.json &&
	cidre project rm warns >/dev/null
'

test_expect_success 'project rm removes the project; its pipelines stay readable' '
	id=$(cidre status slow -n 1 --json | jq -r ".[0].id") &&
	cidre project rm slow >out &&
	expect_grep "^project slow removed$" out &&
	cidre project list --json | jq -e "map(.name) == [\"app\"]" &&
	cidre status "$id" --json | jq -e ".project == \"slow\"" &&
	expect_exit 1 cidre project rm slow 2>err
'

# the server restarted above (not a child of this shell) is stopped with
# the others: lib-server.sh kills every $SCRATCH/*.pid on exit
test_done
