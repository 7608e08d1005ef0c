#!/bin/sh
# Pulling images from a registry: a real one (docker-registry, on
# loopback), images pushed there by skopeo; a job's image: pulled when it
# is not registered, per image:pull_policy; Docker Hub's token dance, a
# CDN's redirect, a flaky or a corrupt registry, through the tests' own
# front (tests/tools/registry-front.py); nothing ever leaves loopback.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-sandbox.sh"
need_sandbox
need_tools umoci skopeo docker-registry
export CIDRE_IMAGES="$SCRATCH/store"
MKOCI="python3 $ROOT/tests/tools/mk-oci.py"
ARCH=$(image_arch)
export CIDRE_PULL_POLICY=if-not-present
. "$TEST_DIR/lib-server.sh"
# what the script starts writes its pid to a *.pid file: stopped at the end
stop_all() {
	for f in "$SCRATCH"/*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
		rm -f "$f"
	done
}
trap stop_all EXIT

# start_registry NAME: docker-registry on 127.0.0.1, any port (printed)
start_registry() {
	cat >"$1.yml" <<-EOF &&
	version: 0.1
	log:
	  level: info
	storage:
	  filesystem:
	    rootdirectory: $SCRATCH/$1-data
	http:
	  addr: 127.0.0.1:0
	EOF
	{ docker-registry serve "$1.yml" >"$1.log" 2>&1 & echo $! >"$1.pid"; } &&
	for i in $(seq 100); do
		grep -q "listening on 127.0.0.1:" "$1.log" && break
		sleep 0.1
	done
	sed -n "s/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p" "$1.log" | head -n1
}

# start_front NAME ARGS...: tests/tools/registry-front.py before the
# registry; its port and its CDN's in NAME
start_front() {
	n=$1; shift
	{ python3 "$ROOT/tests/tools/registry-front.py" $P "$n" "$@" 2>"$n.log" &
	  echo $! >"$n.pid"; } &&
	for i in $(seq 100); do test -s "$n" && break; sleep 0.1; done &&
	test -s "$n"
}

push() { skopeo copy -q --dest-tls-verify=false "$@"; }

P=$(start_registry reg)
test_expect_success 'a registry with images that skopeo pushed' '
	umoci init --layout oci &&
	umoci new --image oci:app &&
	umoci unpack --rootless --image oci:app b >/dev/null &&
	bb_image b/rootfs &&
	echo from-the-registry >b/rootfs/etc/hello &&
	umoci repack --image oci:app b &&
	umoci config --image oci:app --config.env GREETING=pulled &&
	test -n "$P" &&
	push oci:oci:app docker://127.0.0.1:$P/team/app:1 &&
	push --format v2s2 oci:oci:app docker://127.0.0.1:$P/library/busy:latest &&
	cat >spec.json <<-EOF &&
	{"out": "multi", "images": [{"ref": "m", "platforms": ["s390x", "$ARCH"],
	  "layers": [["d:bin", "F:bin/busybox:$BUSYBOX", "l:bin/sh:busybox",
	              "f:multi-$ARCH"]]}]}
	EOF
	$MKOCI spec.json &&
	push --all oci:multi:m docker://127.0.0.1:$P/team/multi:1 &&
	cat >spec.json <<-EOF &&
	{"out": "other", "images": [{"ref": "o", "platforms": ["s390x", "ppc64le"],
	  "layers": [["d:bin", "F:bin/busybox:$BUSYBOX", "l:bin/sh:busybox"]]}]}
	EOF
	$MKOCI spec.json &&
	push --all oci:other:o docker://127.0.0.1:$P/team/other:1
'

test_expect_success 'cidre image pull: pulled, checked, unpacked and registered' '
	cidre image pull 127.0.0.1:$P/team/app:1 >out 2>err &&
	expect_grep "^image 127.0.0.1:$P/team/app:1: pulled 127.0.0.1:$P/team/app:1@sha256:[0-9a-f]{64} \(1 layer, [0-9.]+ MB\)$" out &&
	expect_grep "^pulling layer 1 of 1 \([0-9.]+ MB\)$" err &&
	expect_grep "^unpacking layer 1 of 1 " err &&
	cidre image ls >out &&
	expect_grep "^127.0.0.1:$P/team/app:1 +registry " out &&
	expect_grep "^ +image: 127.0.0.1:$P/team/app:1@sha256:[0-9a-f]{64}, linux/$ARCH, 1 layers, 1 variables$" out &&
	r=$(sed -n "s/^127.0.0.1:$P\/team\/app:1 *registry *[0-9.]*M *[0-9]*  //p" out) &&
	test "$(cat "$r/etc/hello")" = from-the-registry &&
	! ls -a store | grep -q "^\.pull-.*[0-9]$"
'

test_expect_success 'pulled again: the manifest is asked for, nothing downloaded' '
	n=$(grep -c "GET /v2/team/app/blobs/" reg.log) &&
	cidre image pull 127.0.0.1:$P/team/app:1 >out 2>err &&
	expect_grep "^image 127.0.0.1:$P/team/app:1: 127.0.0.1:$P/team/app:1@sha256:[0-9a-f]{64}, up to date$" out &&
	test ! -s err &&
	test "$(grep -c "GET /v2/team/app/blobs/" reg.log)" = "$n"
'

test_expect_success 'a Docker Hub name through a mirror: library/ filled in' '
	CIDRE_REGISTRY_MIRROR=http://127.0.0.1:$P/ "$CIDRE_BIN" image pull busy >out &&
	expect_grep "^image busy: pulled docker.io/library/busy:latest@sha256:" out &&
	grep -q "GET /v2/library/busy/manifests/latest" reg.log
'

test_expect_success 'a multi-platform image gives this machine its own' '
	cidre image pull 127.0.0.1:$P/team/multi:1 >out &&
	r=$(cidre image ls | sed -n "s/^127.0.0.1:$P\/team\/multi:1 *registry *[0-9.]*M *[0-9]*  //p") &&
	test -f "$r/multi-$ARCH" &&
	expect_exit 1 cidre image pull 127.0.0.1:$P/team/other:1 2>out &&
	expect_grep "it has no image for linux/$ARCH \(linux/s390x, linux/ppc64le\)" out
'

test_expect_success 'by digest; a digest or a tag the registry lacks is refused' '
	d=$(cidre image ls | sed -n "s/.*image: 127.0.0.1:$P\/team\/app:1@\(sha256:[0-9a-f]*\),.*/\1/p") &&
	test -n "$d" &&
	cidre image pull 127.0.0.1:$P/team/app@$d >out &&
	expect_grep "^image 127.0.0.1:$P/team/app@$d: " out &&
	expect_exit 1 cidre image pull 127.0.0.1:$P/team/app:2 2>out &&
	expect_grep "has no /v2/team/app/manifests/2: MANIFEST_UNKNOWN" out &&
	expect_exit 1 cidre image pull 127.0.0.1:$P/Team/App:1 2>out &&
	expect_grep "lower-case" out &&
	! cidre image ls | grep -q "team/app:2"
'

test_expect_success 'a tag that moved: its old root set aside, then pruned' '
	umoci config --image oci:app --tag app2 --config.env MOVED=1 &&
	push oci:oci:app2 docker://127.0.0.1:$P/team/moving:1 &&
	cidre image pull 127.0.0.1:$P/team/moving:1 >out &&
	cidre image ls >ls1 &&
	r1=$(sed -n "s/^127.0.0.1:$P\/team\/moving:1 *registry *[0-9.]*M *[0-9]*  //p" ls1) &&
	test -d "$r1" &&
	push oci:oci:app docker://127.0.0.1:$P/team/moving:1 &&
	cidre image pull 127.0.0.1:$P/team/moving:1 >out &&
	expect_grep ": pulled 127.0.0.1:$P/team/moving:1@" out &&
	cidre image ls >ls2 &&
	r2=$(sed -n "s/^127.0.0.1:$P\/team\/moving:1 *registry *[0-9.]*M *[0-9]*  //p" ls2) &&
	test "$r1" != "$r2" && test -d "$r2" && test ! -e "$r1" &&
	ls -a store/roots | grep -q "^\.old-" &&
	mkdir store/roots/.tmp-0000-999999999 &&
	cidre image prune >out &&
	expect_grep "^removed 2 roots no image uses \([0-9.]+ MB\)$" out &&
	! ls -a store/roots | grep -q "^\.old-" &&
	! ls -a store/roots | grep -q "^\.tmp-" &&
	test -d "$r2" &&
	cidre image prune >out &&
	expect_grep "^removed 0 roots " out &&
	cidre image rm 127.0.0.1:$P/team/multi:1 &&
	ls -a store/roots | grep -q "^\.old-"
'

test_expect_success 'a second image on the same layers: only its own downloaded' '
	umoci unpack --rootless --image oci:app c >/dev/null &&
	echo more >c/rootfs/etc/more &&
	umoci repack --image oci:app3 c &&
	push oci:oci:app3 docker://127.0.0.1:$P/team/app3:1 &&
	r=$(cidre image ls | sed -n "s/^127.0.0.1:$P\/team\/app:1 *registry *[0-9.]*M *[0-9]*  //p") &&
	base=$(jq -r ".layer_digests[0]" "$r.image.json") &&
	echo "$base" >base &&
	test -f "store/blobs/sha256/${base#sha256:}" &&
	cidre image pull 127.0.0.1:$P/team/app3:1 >out 2>err &&
	expect_grep "^layer 1 of 2 here already \([0-9.]+ MB\)$" err &&
	expect_grep "^pulling layer 2 of 2 " err &&
	expect_grep ": pulled 127.0.0.1:$P/team/app3:1@sha256:[0-9a-f]{64} \(2 layers, [0-9.]+ MB; 1 of them here already, [0-9.]+ MB\)$" out &&
	! grep -q "GET /v2/team/app3/blobs/$base" reg.log &&
	grep -q "GET /v2/team/app3/blobs/" reg.log &&
	r3=$(cidre image ls | sed -n "s/^127.0.0.1:$P\/team\/app3:1 *registry *[0-9.]*M *[0-9]*  //p") &&
	test "$(cat "$r3/etc/hello")" = from-the-registry &&
	test "$(cat "$r3/etc/more")" = more
'

test_expect_success 'a kept layer gone bad on disk is downloaded again' '
	base=$(cat base) &&
	f=store/blobs/sha256/${base#sha256:} &&
	cidre image rm 127.0.0.1:$P/team/app3:1 &&
	test -f "$f" &&
	printf XXXX | dd of="$f" bs=1 seek=64 conv=notrunc 2>/dev/null &&
	! echo "${base#sha256:}  $f" | sha256sum -c --status &&
	cidre image pull 127.0.0.1:$P/team/app3:1 >out 2>err &&
	expect_grep "^layer 1 of 2 here already " err &&
	expect_grep "does not match its digest .*: the layers kept here are downloaded again$" err &&
	expect_grep ": pulled 127.0.0.1:$P/team/app3:1@sha256:[0-9a-f]{64} \(2 layers, [0-9.]+ MB\)$" out &&
	grep -q "GET /v2/team/app3/blobs/$base" reg.log &&
	echo "${base#sha256:}  $f" | sha256sum -c --status &&
	r3=$(cidre image ls | sed -n "s/^127.0.0.1:$P\/team\/app3:1 *registry *[0-9.]*M *[0-9]*  //p") &&
	test "$(cat "$r3/etc/more")" = more
'

test_expect_success 'prune: the pulled layers no image uses removed, the others kept' '
	base=$(cat base) &&
	n=$(ls store/blobs/sha256 | wc -l) &&
	cidre image rm 127.0.0.1:$P/team/app3:1 &&
	cidre image ls >ls &&
	test "$(ls store/blobs/sha256 | wc -l)" = "$n" &&
	cidre image prune >out &&
	expect_grep "^removed 2 pulled layers no image uses \([0-9.]+ MB\)$" out &&
	test "$(ls store/blobs/sha256 | wc -l)" = "$((n - 2))" &&
	test -f "store/blobs/sha256/${base#sha256:}" &&
	cidre image prune >out &&
	expect_no_grep "pulled layer" out
'

test_expect_success 'a job in an image not registered: pulled before it starts' '
	rm -rf store &&
	new_repo r1 <<-EOF &&
	job:
	  image: 127.0.0.1:$P/team/app:1
	  script:
	    - echo "greeting=\$GREETING \$(cat /etc/hello)"
	EOF
	cd r1 &&
	cidre run --executor sandbox --color=never >out 2>&1 &&
	expect_grep "^job +\| Pulling image 127.0.0.1:$P/team/app:1$" out &&
	expect_grep "^job +\| image 127.0.0.1:$P/team/app:1: pulled " out &&
	expect_grep "^job +\| greeting=pulled from-the-registry$" out &&
	cidre run --executor sandbox --color=never >out 2>&1 &&
	expect_no_grep "Pulling" out &&
	cidre run --executor sandbox --color=never --pull always >out 2>&1 &&
	expect_grep "^job +\| Pulling image 127.0.0.1:$P/team/app:1 \(pull_policy: always\)$" out &&
	expect_grep "^job +\| image 127.0.0.1:$P/team/app:1: .*, up to date$" out &&
	expect_exit 2 cidre run --pull sometimes 2>out &&
	expect_grep "pull wants always, if-not-present or never, got .sometimes." out
'

# a pool that outlives its run holds sandboxes of the image as it was:
# removed and unpacked again at the same path, it is new files
test_expect_success 'removed, then pulled again: a kept pool shows the new files' '
	cd r1 &&
	export CIDRE_SANDBOX_POOL_IDLE=60 &&
	cidre run --executor sandbox --color=never >out 2>&1 &&
	cidre pool ls >pools &&
	{ ! file_is_static "$CIDRE_BIN" || test "$(wc -l <pools)" -gt 1; } &&
	cidre image rm 127.0.0.1:$P/team/app:1 &&
	cidre run --executor sandbox --color=never >out 2>&1;
	r=$?; cidre pool stop >/dev/null 2>&1; test $r = 0 &&
	expect_grep "^job +\| image 127.0.0.1:$P/team/app:1: pulled " out &&
	expect_grep "^job +\| greeting=pulled from-the-registry$" out
'

test_expect_success 'pull_policy: never, always, and always with a fallback' '
	cd r1 &&
	cat >.gitlab-ci.yml <<-EOF &&
	never:
	  image: {name: "127.0.0.1:$P/team/other2:1", pull_policy: never}
	  script: [echo never]
	always:
	  image: {name: "127.0.0.1:$P/team/app:1", pull_policy: always}
	  script: [echo always]
	EOF
	git commit -qam ci &&
	expect_exit 1 cidre run --executor sandbox --color=never >out 2>&1 &&
	expect_grep "^never +\| .*image \"127.0.0.1:$P/team/other2:1\": root .* is missing \(nor is it a registered image: .*cidre image pull 127.0.0.1:$P/team/other2:1" out &&
	expect_grep "^always +\| Pulling image 127.0.0.1:$P/team/app:1 \(pull_policy: always\)$" out &&
	expect_grep "^always +\| image 127.0.0.1:$P/team/app:1: .*, up to date$" out &&
	expect_grep "^always +\| always$" out &&
	cat >.gitlab-ci.yml <<-EOF &&
	fallback:
	  image: {name: "127.0.0.1:1/team/app:1", pull_policy: [always, if-not-present]}
	  script: [echo fallback]
	strict:
	  image: {name: "127.0.0.1:1/team/app:1", pull_policy: always}
	  script: [echo strict]
	EOF
	git commit -qam ci &&
	cidre image add 127.0.0.1:1/team/app:1 "$(cidre image ls | sed -n "s/^127.0.0.1:$P\/team\/app:1 *registry *[0-9.]*M *[0-9]*  //p")" &&
	expect_exit 1 cidre run --executor sandbox --color=never >out 2>&1 &&
	expect_grep "^fallback +\| WARNING: pulling image 127.0.0.1:1/team/app:1 failed \(.*\); the image registered here is used \(pull_policy: if-not-present\)$" out &&
	expect_grep "^fallback +\| fallback$" out &&
	expect_grep "^strict +\| ERROR: .*image \"127.0.0.1:1/team/app:1\": pulling it failed: " out &&
	expect_no_grep "^strict +\| strict$" out
'

test_expect_success 'a token server, a CDN, and credentials from where Docker keeps them' '
	export CIDRE_IMAGES="$SCRATCH/store-front" &&
	start_front front ci:s3cret --flaky 1 &&
	read F C <front &&
	expect_exit 1 cidre image pull 127.0.0.1:$F/team/app:1 2>out &&
	expect_grep "token server http://127.0.0.1:$F/token refused a token for team/app without credentials \(HTTP 401\): log in with .docker login 127.0.0.1:$F., or set DOCKER_AUTH_CONFIG" out &&
	mkdir -p home/.docker &&
	printf "{\"auths\": {\"http://127.0.0.1:%s/v2/\": {\"auth\": \"%s\"}}}" \
		$F "$(printf ci:s3cret | base64)" >home/.docker/config.json &&
	cidre image pull 127.0.0.1:$F/team/app:1 >out &&
	expect_grep "^image 127.0.0.1:$F/team/app:1: pulled " out &&
	grep -q "\"GET /v2/team/app/blobs/.*\" 503" front.log &&
	grep -q "^cdn \"GET /cdn/v2/team/app/blobs/.*\" 200" front.log &&
	! grep -q "^cdn .* 400" front.log &&
	rm home/.docker/config.json &&
	printf "{\"auths\": {\"127.0.0.1:%s\": {\"auth\": \"%s\"}}}" \
		$F "$(printf ci:wrong | base64)" >bad.json &&
	expect_exit 1 env DOCKER_AUTH_CONFIG="$(cat bad.json)" \
		"$CIDRE_BIN" image pull 127.0.0.1:$F/team/multi:1 2>out &&
	expect_grep "refused the credentials for team/multi \(HTTP 401\)" out
'

test_expect_success 'a credential helper, as Docker runs it (credHelpers, credsStore)' '
	read F C <front &&
	export CIDRE_IMAGES="$SCRATCH/store-helper" &&
	mkdir -p bin home/.docker &&
	cat >bin/docker-credential-fake <<-EOF &&
	#!/bin/sh
	read -r server
	echo "\$1 \$server" >>"$SCRATCH/helper.log"
	case \$server in
	127.0.0.1:$F) echo "{\"ServerURL\": \"\$server\", \"Username\": \"ci\", \"Secret\": \"s3cret\"}" ;;
	*) echo "credentials not found in native keychain"; exit 1 ;;
	esac
	EOF
	cat >bin/docker-credential-oauth <<-\EOF &&
	#!/bin/sh
	echo "{\"Username\": \"<token>\", \"Secret\": \"idtok-s3cret\"}"
	EOF
	chmod +x bin/docker-credential-fake bin/docker-credential-oauth &&
	printf "{\"credHelpers\": {\"127.0.0.1:%s\": \"fake\"}}" $F >home/.docker/config.json &&
	PATH="$SCRATCH/bin:$PATH" "$CIDRE_BIN" image pull 127.0.0.1:$F/team/app:1 >out &&
	expect_grep "^image 127.0.0.1:$F/team/app:1: pulled " out &&
	expect_grep "^get 127.0.0.1:$F$" helper.log &&
	# an identity token: traded for an access token by a POST, as
	# Docker does it (the front checks the form), never sent as a password
	printf "{\"credsStore\": \"oauth\"}" >home/.docker/config.json &&
	PATH="$SCRATCH/bin:$PATH" "$CIDRE_BIN" image pull 127.0.0.1:$F/team/multi:1 >out &&
	expect_grep "^image 127.0.0.1:$F/team/multi:1: pulled " out &&
	expect_grep "\"POST /token HTTP/1.1\" 200" front.log &&
	printf "{\"credsStore\": \"../../bin/sh\"}" >home/.docker/config.json &&
	! "$CIDRE_BIN" image pull 127.0.0.1:$F/team/multi:1 2>out &&
	expect_grep "is not a credential helper.s name" out &&
	printf "{\"credsStore\": \"missing\"}" >home/.docker/config.json &&
	! "$CIDRE_BIN" image pull 127.0.0.1:$F/team/multi:1 2>out &&
	expect_grep "its credential helper docker-credential-missing is not in PATH" out &&
	rm home/.docker/config.json
'

test_expect_success 'an identity token in a Docker config; a revoked one is refused' '
	read F C <front &&
	export CIDRE_IMAGES="$SCRATCH/store-idtok" &&
	printf "{\"auths\": {\"127.0.0.1:%s\": {\"auth\": \"%s\", \"identitytoken\": \"idtok-s3cret\"}}}" \
		$F "$(printf "00000000-0000-0000-0000-000000000000:" | base64)" >home/.docker/config.json &&
	cidre image pull 127.0.0.1:$F/team/app:1 >out &&
	expect_grep "^image 127.0.0.1:$F/team/app:1: pulled " out &&
	printf "{\"auths\": {\"127.0.0.1:%s\": {\"identitytoken\": \"idtok-revoked\"}}}" \
		$F >home/.docker/config.json &&
	expect_exit 1 cidre image pull 127.0.0.1:$F/team/multi:1 2>out &&
	expect_grep "token server http://127.0.0.1:$F/token refused the identity token for team/multi \(HTTP 400\), an expired or revoked one: log in again with .docker login 127.0.0.1:$F." out &&
	rm home/.docker/config.json
'

test_expect_success 'a job pulls with its DOCKER_AUTH_CONFIG variable' '
	read F C <front &&
	cd r1 &&
	cat >.gitlab-ci.yml <<-EOF &&
	variables:
	  DOCKER_AUTH_CONFIG: "{\"auths\": {\"127.0.0.1:$F\": {\"username\": \"ci\", \"password\": \"s3cret\"}}}"
	job:
	  image: 127.0.0.1:$F/team/multi:1
	  script: [ls /]
	EOF
	git commit -qam ci &&
	cidre run --executor sandbox --color=never >out 2>&1 &&
	expect_grep "^job +\| image 127.0.0.1:$F/team/multi:1: pulled " out &&
	expect_grep "^job +\| multi-$ARCH$" out
'

test_expect_success 'a blob whose digest is wrong is refused, nothing registered or left' '
	export CIDRE_IMAGES="$SCRATCH/store-corrupt" &&
	start_front corrupt ci:s3cret --corrupt &&
	read F2 C2 <corrupt &&
	expect_exit 1 env DOCKER_AUTH_CONFIG="{\"auths\": {\"127.0.0.1:$F2\": {\"username\": \"ci\", \"password\": \"s3cret\"}}}" \
		"$CIDRE_BIN" image pull 127.0.0.1:$F2/team/app:1 2>out &&
	expect_grep "sent a blob for sha256:[0-9a-f]{64} whose digest is sha256:" out &&
	! cidre image ls | grep -q "^127.0.0.1:$F2/" &&
	! ls -a store-corrupt | grep -q "^\.pull-.*[0-9]$" &&
	! ls store-corrupt/roots | grep -v "\.lock$"
'

test_expect_success 'a layer whose download breaks halfway: resumed where it stopped' '
	start_front cut ci:s3cret --cut 1 &&
	read F3 C3 <cut &&
	CIDRE_IMAGES="$SCRATCH/store-cut" DOCKER_AUTH_CONFIG="{\"auths\": {\"127.0.0.1:$F3\": {\"username\": \"ci\", \"password\": \"s3cret\"}}}" \
		"$CIDRE_BIN" image pull 127.0.0.1:$F3/team/app:1 >out 2>err &&
	expect_grep ": pulled 127.0.0.1:$F3/team/app:1@sha256:[0-9a-f]{64} \(1 layer, " out &&
	grep -q "^cdn \"GET /cdn/v2/team/app/blobs/.*\" 206 " cut.log &&
	start_front cutall ci:s3cret --cut 1 --no-range &&
	read F4 C4 <cutall &&
	CIDRE_IMAGES="$SCRATCH/store-cut2" DOCKER_AUTH_CONFIG="{\"auths\": {\"127.0.0.1:$F4\": {\"username\": \"ci\", \"password\": \"s3cret\"}}}" \
		"$CIDRE_BIN" image pull 127.0.0.1:$F4/team/app:1 >out 2>err &&
	expect_grep ": pulled 127.0.0.1:$F4/team/app:1@sha256:[0-9a-f]{64} \(1 layer, " out &&
	! grep -q "\" 206 " cutall.log &&
	test "$(grep -c "^cdn \"GET /cdn/v2/team/app/blobs/.*\" 200 " cutall.log)" -ge 3
'

test_expect_success 'layers are downloaded three at a time, each checked' '
	rm -rf b3 && umoci unpack --rootless --image oci:app b3 >/dev/null &&
	head -c 400000 /dev/urandom >b3/rootfs/second &&
	umoci repack --image oci:three b3 &&
	rm -rf b3 && umoci unpack --rootless --image oci:three b3 >/dev/null &&
	head -c 400000 /dev/urandom >b3/rootfs/third &&
	umoci repack --image oci:three b3 &&
	push oci:oci:three docker://127.0.0.1:$P/team/three:1 &&
	start_front rate ci:s3cret --rate 1000000 &&
	read F5 C5 <rate &&
	CIDRE_IMAGES="$SCRATCH/store-rate" DOCKER_AUTH_CONFIG="{\"auths\": {\"127.0.0.1:$F5\": {\"username\": \"ci\", \"password\": \"s3cret\"}}}" \
		"$CIDRE_BIN" image pull 127.0.0.1:$F5/team/three:1 >out 2>err &&
	expect_grep ": pulled 127.0.0.1:$F5/team/three:1@sha256:[0-9a-f]{64} \(3 layers, " out &&
	for i in 1 2 3; do expect_grep "^pulling layer $i of 3 " err || return 1; done &&
	grep -q "^cdn busy [23]$" rate.log &&
	r=$(CIDRE_IMAGES="$SCRATCH/store-rate" "$CIDRE_BIN" image ls | sed -n "s/^127.0.0.1:$F5\/team\/three:1 *registry *[0-9.]*M *[0-9]*  //p") &&
	test "$(wc -c <"$r/second")" = 400000 && test "$(wc -c <"$r/third")" = 400000 &&
	test "$(cat "$r/etc/hello")" = from-the-registry
'

test_expect_success 'a server: pull_policy of its executor and of a project' '
	mkdir -p data && cat >data/config.yml <<-\EOF &&
	executor:
	  executor: sandbox
	  pull_policy: never
	projects:
	  pulls:
	    pull_policy: if-not-present
	EOF
	start_server data &&
	for p in pulls stays; do
		bare_repo $p <<-EOF || exit 1
		j:
		  image: 127.0.0.1:$P/team/app:1
		  script: [cat /etc/hello]
		EOF
		add_project $p "$SCRATCH/$p.git" || exit 1
	done &&
	api POST /api/v1/projects/pulls/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" 60 | jq -e ".status == \"success\"" &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" p.json)/log" >log &&
	expect_grep "^Pulling image 127.0.0.1:$P/team/app:1$" log &&
	expect_grep "^image 127.0.0.1:$P/team/app:1: pulled " log &&
	expect_grep "^from-the-registry$" log &&
	cidre image --data data ls >out &&
	expect_grep "^127.0.0.1:$P/team/app:1 +registry " out &&
	cidre image --data data rm 127.0.0.1:$P/team/app:1 &&
	api POST /api/v1/projects/stays/pipelines "{}" >p.json && expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" 60 | jq -e ".status == \"failed\"" &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" p.json)/log" >log &&
	expect_no_grep "Pulling" log &&
	expect_grep "nor is it a registered image: pull it with" log &&
	printf "executor:\n  pull_policy: sometimes\n" >bad.yml &&
	! "$CIDRE_BIN" server --data data --config bad.yml -n >out 2>&1 &&
	expect_grep "bad.yml:2:16: .*executor.pull_policy: must be always, if-not-present or never" out
'

test_expect_success 'a run interrupted while its image is pulled ends at once' '
	export CIDRE_IMAGES="$SCRATCH/store-slow" &&
	start_front slow ci:s3cret --slow 60 &&
	read F3 C3 <slow &&
	new_repo r2 <<-EOF &&
	variables:
	  DOCKER_AUTH_CONFIG: "{\"auths\": {\"127.0.0.1:$F3\": {\"username\": \"ci\", \"password\": \"s3cret\"}}}"
	job:
	  image: 127.0.0.1:$F3/team/app:1
	  script: [echo ran]
	EOF
	cd r2 &&
	{ "$CIDRE_BIN" run --executor sandbox --color=never >out 2>&1 & echo $! >"$SCRATCH/run.pid"; } &&
	for i in $(seq 100); do grep -q "Pulling image" out && break; sleep 0.1; done &&
	for i in $(seq 100); do grep -q "^cdn" ../slow.log && break; sleep 0.1; done &&
	kill -INT "$(cat "$SCRATCH/run.pid")" &&
	for i in $(seq 50); do kill -0 "$(cat "$SCRATCH/run.pid")" 2>/dev/null || break; sleep 0.1; done &&
	! kill -0 "$(cat "$SCRATCH/run.pid")" 2>/dev/null &&
	expect_grep "^job +\| Job canceled \(canceled while image \"127.0.0.1:$F3/team/app:1\" was pulled\)$" out &&
	expect_no_grep "ran$" out &&
	! pgrep -f "cidre-client image --store $SCRATCH/store-slow" >/dev/null
'

stop_all
test_done
