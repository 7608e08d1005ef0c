#!/bin/sh
# services: (GitLab's) on the sandbox executor: each service runs its own
# image (written by umoci here), writable through an overlay, in the
# job's network namespace, named in the job's /etc/hosts; its entrypoint,
# command, user (a switch to another uid included), ports and
# environment; stopped with the job, nothing left; the shell executor
# says it does not start them.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-sandbox.sh"
need_sandbox
need_tools umoci skopeo
if ! unshare --user --map-root-user --mount sh -c \
	'mkdir -p /tmp/.ovl-probe-$$/l /tmp/.ovl-probe-$$/u /tmp/.ovl-probe-$$/w /tmp/.ovl-probe-$$/m &&
	 mount -t overlay overlay -o lowerdir=/tmp/.ovl-probe-$$/l,upperdir=/tmp/.ovl-probe-$$/u,workdir=/tmp/.ovl-probe-$$/w,userxattr /tmp/.ovl-probe-$$/m;
	 r=$?; umount /tmp/.ovl-probe-$$/m 2>/dev/null; rm -rf /tmp/.ovl-probe-$$; exit $r' 2>/dev/null; then
	skip_all "skipped: no overlay mounts in a user namespace here (Linux 5.11+)"
fi
export CIDRE_IMAGES="$SCRATCH/store"
. "$TEST_DIR/lib-server.sh"

# what no test of ours leaves running: the services' programs
leftovers() {
	pgrep -f "httpd -f -p 1808[0-9] -h /www" || true
}

test_expect_success 'a service image (busybox httpd as user www) and a job image' '
	web_image oci 18080 "hello from the service" --config.env SVC=set-by-the-image &&
	umoci config --image oci:web --tag bare --clear config.cmd \
		--clear config.exposedports &&
	skopeo copy -q oci:oci:bare oci:bare:bare && umoci rm --image oci:bare &&
	cidre image add team/web:1 oci >/dev/null 2>&1 &&
	cidre image add bare:1 bare >/dev/null 2>&1 &&
	bb_image job && touch job/etc/hosts && cidre image add bb job >/dev/null
'

test_expect_success 'the job reaches its service by its names; the service stops with it' '
	new_repo r1 <<-\EOF &&
	test:
	  image: bb
	  services: [team/web:1]
	  script:
	    - cat /etc/hosts
	    - wget -qO- http://team-web:18080/index.html
	    - wget -qO- http://team__web:18080/index.html
	  after_script:
	    - wget -qO- http://team-web:18080/index.html | sed s/^/after-/
	later:
	  stage: deploy
	  image: bb
	  script: [echo later-started, sleep 2]
	EOF
	cd r1 &&
	{ "$CIDRE_BIN" run --executor sandbox --color=never >out 2>&1 & echo $! >run.pid; } &&
	for i in $(seq 200); do grep -q "later-started" out && break; sleep 0.05; done &&
	grep -q "later-started" out &&
	test -z "$(leftovers)" &&
	wait "$(cat run.pid)" &&
	expect_grep "^test +\| Running in a sandbox: image bb .*, network loopback only, with its services$" out &&
	expect_grep "^test +\| Starting service team/web:1 as team-web$" out &&
	expect_grep "^test +\| 127.0.0.1	localhost team-web team__web$" out &&
	test "$(grep -cE "^test +\| hello from the service$" out)" = 2 &&
	expect_grep "^test +\| after-hello from the service$" out &&
	test -z "$(leftovers)" &&
	! ls .cidre/builds | grep -q services
'

test_expect_success 'entrypoint, command, variables; a switch of user; writes stay in the job' '
	new_repo r2 <<-\EOF &&
	variables:
	  FROM_JOB: job-value
	test:
	  image: bb
	  services:
	    - name: team/web:1
	      alias: web, site
	      entrypoint: ["/bin/sh", "-c"]
	      command:
	        - >-
	          mkdir -p /data && echo "$SVC $FROM_JOB $OWN" >/data/env.txt &&
	          chown -R www:www /data &&
	          exec su -s /bin/sh www -c "touch /data/mine && ls -ln /data >/data/list.txt; exec httpd -f -p 18080 -h /data"
	      variables:
	        OWN: own-$FROM_JOB
	    - name: bare:1
	      alias: db
	      command: ["sh", "-c", "ls /sys/class/net >/www/net.txt; ls -A /sys/firmware | wc -l >/www/fw.txt; touch /sys/x 2>/www/ro.txt; exec httpd -f -p 18082 -h /www"]
	  script:
	    - wget -qO- http://web:18080/env.txt
	    - wget -qO- http://site:18080/list.txt
	    - wget -qO- http://db:18082/index.html
	    - wget -qO- http://db:18082/net.txt | sed s/^/net-/
	    - wget -qO- http://db:18082/fw.txt | sed s/^/fw-/
	    - wget -qO- http://db:18082/ro.txt | sed s/^/ro-/
	EOF
	cd r2 &&
	cidre run --executor sandbox --color=never >out 2>&1 &&
	expect_grep "^test +\| Starting service team/web:1 as web$" out &&
	expect_grep "^test +\| Starting service bare:1 as db$" out &&
	expect_no_grep "WARNING: service" out &&
	expect_grep "^test +\| set-by-the-image job-value own-job-value$" out &&
	expect_grep "^test +\| -rw-r--r-- +1 999 +999 +0 .* mine$" out &&
	expect_grep "^test +\| -rw-r--r-- +1 999 +999 .* env.txt$" out &&
	expect_grep "^test +\| hello from the service$" out &&
	test "$(grep -E "^test +\| net-" out | sed "s/.*| //")" = net-lo &&
	expect_grep "^test +\| fw-0$" out &&
	expect_grep "^test +\| ro-touch: /sys/x: Read-only file system$" out &&
	r=$(cidre image ls | sed -n "s/^team\/web:1 .*  \(\/.*\)$/\1/p") &&
	test -d "$r/www" && test ! -e "$r/data" &&
	test -z "$(leftovers)"
'

test_expect_success 'a service that ends before its port opens: a warning with its words' '
	new_repo r3 <<-\EOF &&
	test:
	  image: bb
	  services:
	    - name: team/web:1
	      alias: broken
	      command: ["sh", "-c", "echo cannot start: no config >&2; exit 3"]
	  script:
	    - echo the job runs anyway
	EOF
	cd r3 &&
	cidre run --executor sandbox --color=never >out 2>&1 &&
	expect_grep "^test +\| WARNING: service team/web:1 probably did not start properly: it exited \(status 3\) before its port opened$" out &&
	expect_grep "^test +\| cannot start: no config$" out &&
	expect_grep "^test +\| the job runs anyway$" out
'

test_expect_success 'CI_DEBUG_SERVICES: their output in the job log; a chatty one never blocks' '
	new_repo r6 <<-\EOF &&
	.svc:
	  image: bb
	  services:
	    - name: team/web:1
	      alias: chatty
	      command:
	        - sh
	        - -c
	        - >-
	          i=0; while [ $i -lt 3000 ]; do
	          echo "line $i of a chatty service, long enough to fill a pipe soon";
	          i=$((i+1)); done; echo ready >&2;
	          exec httpd -f -p 18080 -h /www -vv
	  script:
	    - wget -qO- http://chatty:18080/index.html
	    - sleep 0.5
	    - echo job-done
	loud:
	  extends: .svc
	  variables:
	    CI_DEBUG_SERVICES: "true"
	quiet:
	  extends: .svc
	EOF
	cd r6 &&
	cidre run --executor sandbox --color=never >out 2>&1 &&
	expect_no_grep "WARNING: service" out &&
	test "$(grep -cE "^loud +\| \[service:chatty\] line [0-9]+ of a chatty service, long enough to fill a pipe soon$" out)" = 3000 &&
	expect_grep "^loud +\| \[service:chatty\] line 2999 of a" out &&
	expect_grep "^loud +\| \[service:chatty\] ready$" out &&
	expect_grep "^loud +\| \[service:chatty\] .*/index.html" out &&
	expect_grep "^loud +\| hello from the service$" out &&
	test "$(grep -c "^\[service:chatty\] line " .cidre/logs/loud.log)" = 3000 &&
	expect_grep "^job-done$" .cidre/logs/loud.log &&
	req=$(grep -n "^\[service:chatty\] .*/index.html" .cidre/logs/loud.log | head -n1 | cut -d: -f1) &&
	done=$(grep -n "^job-done$" .cidre/logs/loud.log | cut -d: -f1) &&
	test "$req" -lt "$done" &&
	expect_no_grep "^quiet +\| \[service:" out &&
	expect_grep "^quiet +\| hello from the service$" out &&
	expect_grep "^quiet +\| job-done$" out &&
	test -z "$(leftovers)"
'

test_expect_success 'an image with nothing to run, and the shell executor' '
	new_repo r4 <<-\EOF &&
	test:
	  image: bb
	  services: [bare:1]
	  script: [echo SHOULD-NOT-RUN]
	EOF
	cd r4 &&
	expect_exit 1 cidre run --executor sandbox --color=never >out 2>&1 &&
	expect_grep "ERROR: Job failed: service bare:1: its image has neither an entrypoint nor a command \(give services:command\)" out &&
	expect_no_grep "^test +\| SHOULD-NOT-RUN" out &&
	cidre run --color=never >out 2>&1 &&
	expect_grep "^test +\| services are not started: the shell executor runs the job on this host" out &&
	expect_grep "^test +\| SHOULD-NOT-RUN$" out
'

test_expect_success 'a server runs a job with its services' '
	mkdir -p data &&
	printf "executor:\n  executor: sandbox\nprojects:\n  onhost:\n    executor: shell\n" >data/config.yml &&
	cidre image --data data add team/web:1 oci >/dev/null 2>&1 &&
	cidre image --data data add bb job >/dev/null &&
	start_server data &&
	bare_repo srv <<-\EOF &&
	j:
	  image: bb
	  services: [team/web:1]
	  script: [wget -qO- http://team-web:18080/index.html]
	EOF
	add_project srv "$SCRATCH/srv.git" &&
	api POST /api/v1/projects/srv/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" 60 | jq -e ".status == \"success\"" &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" p.json)/log" >log &&
	expect_grep "^Starting service team/web:1 as team-web$" log &&
	expect_grep "^hello from the service$" log &&
	test -z "$(leftovers)" &&
	bare_repo onhost <<-\EOF &&
	j:
	  services: [team/web:1]
	  script: [echo SHOULD-NOT-RUN]
	EOF
	add_project onhost "$SCRATCH/onhost.git" &&
	api POST /api/v1/projects/onhost/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" 60 | jq -e ".status == \"failed\"" &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" p.json)/log" >log &&
	expect_grep "ERROR: Job failed: the job has services but this runner.s executor is shell" log &&
	expect_no_grep "^SHOULD-NOT-RUN" log
'

test_expect_success 'lint: what a service may say' '
	new_repo r5 <<-\EOF &&
	default:
	  services: [postgres:16]
	a:
	  services:
	    - name: db:1
	      docker: {platform: linux/amd64}
	    - alias: nameless
	  script: x
	b:
	  services: {name: x}
	  script: x
	EOF
	expect_exit 2 cidre lint -C r5 2>err &&
	expect_grep ":6:15: error: job \"a\": \"services\" options of other executors" err &&
	expect_grep ":7:7: error: job \"a\": a service needs \"name\"" err &&
	expect_grep ":10:13: error: job \"b\": \"services\" must be a list of images" err &&
	expect_no_grep "postgres" err
'

test_done
