#!/bin/sh
# The sandbox executor: the image as a read-only /, the workspace at
# /builds/NAME, no network but loopback, nothing of the host visible, no
# capability, leftovers killed.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-sandbox.sh"
need_sandbox

test_expect_success 'a job runs in its image, in its workspace, as nobody' '
	bb_image img &&
	new_repo p <<-EOF &&
	j:
	  image: $SCRATCH/img
	  script:
	    - id -u
	    - pwd
	    - echo "dir=\$CI_PROJECT_DIR"
	    - ls /
	    - echo made >made.txt
	    - test -f .gitlab-ci.yml
	    - hostname
	    - grep -E "^Sig(Ign|Blk)" /proc/self/status
	EOF
	# ignored signals of cidre run are not the job'"'"'s
	(trap "" USR1 PIPE; cd p && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^j +\| SigIgn:[[:space:]]*0+$" out &&
	expect_grep "^j +\| SigBlk:[[:space:]]*0+$" out &&
	expect_grep "^j +\| 65534$" out &&
	expect_grep "^j +\| /builds/p$" out &&
	expect_grep "^j +\| dir=/builds/p$" out &&
	expect_grep "^j +\| cidre-job$" out &&
	expect_no_grep "^j +\| (root|home|work|etc/shadow)$" out &&
	expect_grep "Running in a sandbox: image $SCRATCH/img, network loopback only" out &&
	test -f p/.cidre/builds/*/j/made.txt 2>/dev/null || find p/.cidre -name made.txt | grep -q .
'

test_expect_success 'writing outside the workspace, reading host secrets, mounting: all fail' '
	new_repo q <<-EOF &&
	j:
	  image: $SCRATCH/img
	  script:
	    - if echo x >/bin/evil; then echo WROTE-IMAGE; else echo ro-image; fi
	    - if echo x >/evil; then echo WROTE-ROOT; else echo ro-root; fi
	    - if cat /root/.profile /root/.bashrc 2>/dev/null; then echo READ-ROOT; else echo no-root; fi
	    - cat /etc/shadow
	    - if mount -t tmpfs none /tmp; then echo MOUNTED; else echo no-mount; fi
	    - if mount --bind /builds /mnt; then echo MOUNTED; else echo no-bind; fi
	    - echo x >/tmp/private && echo tmp-ok
	EOF
	(cd q && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^j +\| ro-image$" out &&
	expect_grep "^j +\| ro-root$" out &&
	expect_grep "^j +\| no-root$" out &&
	expect_grep "^j +\| image-secret$" out &&
	expect_no_grep "^j +\| root:" out &&
	expect_grep "^j +\| no-mount$" out &&
	expect_grep "^j +\| no-bind$" out &&
	expect_grep "^j +\| tmp-ok$" out &&
	test ! -e img/bin/evil && test ! -e /evil
'

test_expect_success 'a job cannot see or kill a process of this host' '
	sleep 300 &
	victim=$!
	new_repo k <<-EOF &&
	j:
	  image: $SCRATCH/img
	  script:
	    - ps -o pid,comm | grep -c . || true
	    - if kill -9 $victim; then echo KILLED; else echo no-kill; fi
	    - if kill -9 1; then echo sent; fi
	    - echo still-here
	EOF
	(cd k && cidre run --executor sandbox --color=never >../out 2>&1); rc=$?
	alive=0; process_alive $victim && alive=1
	kill $victim 2>/dev/null; wait $victim 2>/dev/null
	test $rc = 0 && test $alive = 1 &&
	expect_grep "^j +\| no-kill$" out &&
	expect_grep "^j +\| still-here$" out
'

test_expect_success 'without networking a job sees only lo; with cidre:network the host'"'"'s' '
	new_repo n <<-EOF &&
	off:
	  image: $SCRATCH/img
	  script:
	    - sh ifaces.sh
	on:
	  image: $SCRATCH/img
	  cidre: {network: true}
	  script:
	    - sh ifaces.sh
	EOF
	cat >n/ifaces.sh <<-\EOF &&
	echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort | tr "\n" " ")"
	EOF
	(cd n && git add . && git commit -q -m ifaces) &&
	(cd n && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^off +\| ifaces=lo $" out &&
	host=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort | tr "\n" " ") &&
	expect_grep "^on +\| ifaces=$host$" out
'

test_expect_success 'daemons a job leaves behind are killed when it ends' '
	new_repo d <<-EOF &&
	j:
	  image: $SCRATCH/img
	  script:
	    - setsid sh -c "sleep 4242 & sleep 4343" >/dev/null 2>&1 &
	    - (sleep 4444 &) ; echo left
	EOF
	(cd d && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^j +\| left$" out &&
	! pgrep -f "sleep (4242|4343|4444)"
'

test_expect_success 'no image: this host'"'"'s system directories, read-only, minus its secrets' '
	new_repo h <<-\EOF &&
	j:
	  script:
	    - ls /
	    - if cat /etc/shadow; then echo READ-SHADOW; else echo no-shadow; fi
	    - if touch /usr/evil; then echo WROTE; else echo ro-usr; fi
	    - test ! -e /root/. && test ! -e /home/.
	EOF
	(cd h && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^j +\| no-shadow$" out &&
	expect_grep "^j +\| ro-usr$" out &&
	expect_no_grep "^j +\| (READ-SHADOW|WROTE)$" out &&
	test ! -e /usr/evil
'

test_expect_success 'the shell executor of cidre run runs an image job on the host, saying so' '
	(cd p && cidre run --color=never >../out 2>&1) &&
	expect_grep "image \"$SCRATCH/img\" is not used: the shell executor runs the job on this host" out
'

test_expect_success 'an image without a shell is a clear error before the job starts' '
	mkdir -p empty/etc &&
	new_repo e <<-EOF &&
	j:
	  image: $SCRATCH/empty
	  script: [echo SHOULD-NOT-RUN]
	EOF
	(cd e && expect_exit 1 cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "ERROR: Job failed: image \"$SCRATCH/empty\": image root $SCRATCH/empty has no shell" out &&
	expect_no_grep "^j +\| SHOULD-NOT-RUN" out
'

test_expect_success 'cidre run --executor rejects an unknown executor' '
	(cd p && expect_exit 2 cidre run --executor docker >../out 2>&1) &&
	expect_grep "executor wants shell or sandbox" out
'

test_expect_success 'a bubblewrap that is not there is a clear error before any job' '
	(cd p && expect_exit 2 env CIDRE_BWRAP=/nonexistent/bwrap \
		"$CIDRE_BIN" run --executor sandbox >../out 2>&1) &&
	expect_grep "bubblewrap \(/nonexistent/bwrap\) cannot run here: No such file" out &&
	(cd p && expect_exit 2 env CIDRE_BWRAP=no-such-bwrap \
		"$CIDRE_BIN" run --executor sandbox >../out 2>&1) &&
	expect_grep "bubblewrap \(no-such-bwrap\) cannot run here: not found in PATH" out &&
	expect_no_grep "^j " out
'

test_expect_success 'a set-uid bubblewrap is asked itself whether it can run' '
	mkdir -p fakebin &&
	cat >fakebin/bwrap <<-\EOF &&
	#!/bin/sh
	echo "bwrap: Creating new namespace failed: Operation not permitted" >&2
	exit 1
	EOF
	chmod 4755 fakebin/bwrap &&
	(cd p && expect_exit 2 env CIDRE_BWRAP=$SCRATCH/fakebin/bwrap \
		"$CIDRE_BIN" run --executor sandbox >../out 2>&1) &&
	expect_grep "cannot run here: bwrap: Creating new namespace failed" out
'

test_done
