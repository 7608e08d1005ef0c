#!/bin/sh
# cidre as a user that is not root, as a developer runs it: the sandbox
# executor (its own user namespace: the job is the user's own id), an
# image registered by that user, a pool daemon of that user, and
# services with only the user's own id mapped (nobody has no range in
# /etc/subuid here): a service that runs as its image's root works, one
# whose image switches users says why. The test becomes nobody
# (setpriv), so it needs root.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-sandbox.sh"
need_sandbox
need_tools umoci skopeo setpriv
[ "$(id -u)" = 0 ] || skip_all "skipped: becoming another user needs root"
NB=65534
U="$SCRATCH/u"
mkdir -p "$U/home" "$U/bin" && chmod 755 "$SCRATCH"
# the binaries where nobody can run them (the build may be in a 0700 home)
cp "$CIDRE_BIN" "$U/bin/cidre" &&
cp "$(dirname "$CIDRE_BIN")/cidre-client" "$U/bin/cidre-client" || exit 1
as_nobody() {
	setpriv --reuid=$NB --regid=$NB --clear-groups \
		env HOME="$U/home" CIDRE_IMAGES="$U/store" PATH=/usr/bin:/bin \
		CIDRE_PULL_POLICY=never CIDRE_SANDBOX_POOL_IDLE="${IDLE:-0}" "$@"
}
if ! as_nobody bwrap --unshare-user --unshare-pid --ro-bind / / -- true 2>/dev/null; then
	skip_all "skipped: a user that is not root cannot make user namespaces here"
fi
# what a failed test left: nobody's pools, by their sockets
TEST_CLEANUP='for d in "$U"/*/; do (cd "$d" && as_nobody "$U/bin/cidre" pool stop) >/dev/null 2>&1; done'

# nobody_repo DIR: new_repo, then nobody's
nobody_repo() {
	new_repo "$U/$1" && chown -R $NB:$NB "$U"
}

test_expect_success 'images made (a busybox root, a web service, one that runs as www)' '
	bb_image "$U/bb" && touch "$U/bb/etc/hosts" &&
	web_image oci 18090 "served to nobody" &&
	umoci config --image oci:web --tag www --config.user www &&
	skopeo copy -q oci:oci:www "oci:$U/www:www" && umoci rm --image oci:www &&
	cp -r oci "$U/web" &&
	chown -R $NB:$NB "$U" &&
	as_nobody "$U/bin/cidre" image add bb "$U/bb" >/dev/null &&
	as_nobody "$U/bin/cidre" image add web:1 "$U/web" >/dev/null 2>&1 &&
	as_nobody "$U/bin/cidre" image add web:www "$U/www" >/dev/null 2>&1 &&
	as_nobody "$U/bin/cidre" image ls >out &&
	expect_grep "^web:www " out &&
	test "$(stat -c %u "$U/store/names")" = $NB
'

test_expect_success 'a job in an image and one on the host, as nobody' '
	nobody_repo r1 <<-\EOF &&
	in-image:
	  image: bb
	  script: [id -u, cat /proc/self/uid_map, touch /etc/x || echo read-only]
	on-host:
	  script: [id -un, touch /etc/x || echo read-only]
	EOF
	(cd "$U/r1" && as_nobody "$U/bin/cidre" run --executor sandbox --color=never) >out 2>&1 &&
	expect_grep "^in-image +\| 65534$" out &&
	expect_grep "^in-image +\| +65534 +0 +1$" out &&
	expect_grep "^in-image +\| read-only$" out &&
	expect_grep "^on-host +\| nobody$" out &&
	expect_grep "^on-host +\| read-only$" out &&
	expect_grep "^pipeline #1 passed" out
'

test_expect_success 'services with nobody'"'"'s own id: its root works, a user switch says why' '
	nobody_repo r2 <<-\EOF &&
	web:
	  image: bb
	  services: [web:1]
	  script: [wget -qO- http://web:18090/index.html]
	www:
	  image: bb
	  services:
	    - name: web:www
	      alias: w
	  script: [echo the job runs anyway]
	EOF
	(cd "$U/r2" && as_nobody "$U/bin/cidre" run --executor sandbox --color=never) >out 2>&1 &&
	expect_grep "^web +\| served to nobody$" out &&
	expect_grep "^www +\| WARNING: service web:www probably did not start properly: it exited \(status 127\) before its port opened$" out &&
	expect_grep "^www +\| cidre: cannot switch to the service.s user: only cidre.s own ids exist in its namespace \(run cidre as root, or give its user a range in /etc/subuid" out &&
	expect_no_grep "^www +\| $" out &&
	expect_grep "^www +\| the job runs anyway$" out &&
	test -z "$(ls "$U/r2/.cidre/builds" | grep services)"
'

file_is_static "$CIDRE_BIN" &&
test_expect_success 'a pool daemon of nobody: the next run uses it; stop ends it' '
	nobody_repo r3 <<-\EOF &&
	a:
	  image: bb
	  script: [echo from-the-pool]
	EOF
	(cd "$U/r3" && IDLE=60 as_nobody "$U/bin/cidre" run --executor sandbox --color=never) >out 2>&1 &&
	expect_grep "^a +\| from-the-pool$" out &&
	(cd "$U/r3" && as_nobody "$U/bin/cidre" pool ls) >ls &&
	test "$(wc -l <ls)" = 2 &&
	pid=$(awk "NR == 2 { print \$2 }" ls) &&
	test "$(stat -c %u /proc/$pid)" = $NB &&
	(cd "$U/r3" && IDLE=60 as_nobody "$U/bin/cidre" run --executor sandbox --color=never) >out 2>&1 &&
	expect_grep "^a +\| from-the-pool$" out &&
	(cd "$U/r3" && as_nobody "$U/bin/cidre" pool stop) >out &&
	expect_grep "^1 pool stopped$" out &&
	n=0 && while kill -0 "$pid" 2>/dev/null && [ $n -lt 60 ]; do sleep 0.1; n=$((n + 1)); done &&
	! kill -0 "$pid" 2>/dev/null
'

test_done
