#!/bin/sh
# Container images: cidre image add takes what docker save, podman save
# and skopeo write (a docker-archive, an OCI archive, an OCI layout), made
# here by umoci and skopeo; layers applied in order with their whiteouts;
# the config's Env is the job's; names are references
# (registry:5000/team/app:1); corrupt and hostile images refused, nothing
# left registered or written outside the store.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-sandbox.sh"
need_sandbox
need_tools umoci skopeo
export CIDRE_IMAGES="$SCRATCH/store"
MKOCI="python3 $ROOT/tests/tools/mk-oci.py"
ARCH=$(image_arch)

# An OCI layout with two images: "base" (busybox, /etc/gone, /etc/sub/x,
# lib -> usr/lib) and "v1" on top of it (/etc/gone and /etc/sub/x removed,
# /etc/sub/y added, Env GREETING and PATH set), as umoci writes them.
test_expect_success 'umoci and skopeo make an image in three formats' '
	umoci init --layout oci &&
	umoci new --image oci:base &&
	umoci unpack --rootless --image oci:base b >/dev/null &&
	bb_image b/rootfs &&
	mkdir -p b/rootfs/etc/sub b/rootfs/usr/lib &&
	echo a >b/rootfs/etc/gone && echo x >b/rootfs/etc/sub/x &&
	ln -s usr/lib b/rootfs/lib &&
	umoci repack --image oci:base b &&
	umoci config --image oci:base --tag v1 --config.env GREETING=hello \
		--config.env PATH=/opt/tools:/usr/bin:/bin &&
	rm -rf b && umoci unpack --rootless --image oci:v1 b >/dev/null &&
	rm b/rootfs/etc/gone && rm -r b/rootfs/etc/sub && mkdir b/rootfs/etc/sub &&
	echo y >b/rootfs/etc/sub/y &&
	umoci repack --image oci:v1 b &&
	skopeo copy -q oci:oci:v1 docker-archive:d.tar:team/app:v1 &&
	skopeo copy -q oci:oci:v1 oci-archive:o.tar:v1 &&
	tar -tf d.tar | grep -q "^manifest.json$" &&
	tar -tf o.tar | grep -q "^index.json$"
'

test_expect_success 'each format is registered, under a reference as its name' '
	cidre image add v1 oci >out 2>err &&
	expect_grep "^image v1: oci-layout $SCRATCH/oci .*unpacked to $SCRATCH/store/roots/[0-9a-f]{64}$" out &&
	expect_grep "^unpacking layer 1 of 2 \([0-9.]+ MB\)$" err &&
	expect_grep "^unpacking layer 2 of 2 \([0-9.]+ MB\)$" err &&
	cidre image add registry.example.com:5000/team/app:v1 d.tar >out &&
	expect_grep "^image registry.example.com:5000/team/app:v1: docker-archive $SCRATCH/d.tar " out &&
	cidre image add again:v1 d.tar >out 2>err &&
	test ! -s err &&
	cidre image add o:1 o.tar >out &&
	expect_grep "^image o:1: oci-archive $SCRATCH/o.tar " out &&
	cidre image ls >out &&
	expect_grep "^registry.example.com:5000/team/app:v1 +docker-archive +[0-9.]+M +0  $SCRATCH/store/roots/" out &&
	expect_grep "^v1 +oci-layout " out &&
	expect_grep "^o:1 +oci-archive " out &&
	expect_grep "^ +image: docker.io/team/app:v1, linux/$ARCH, 2 layers, 2 variables$" out &&
	expect_grep "^ +image: v1, linux/$ARCH, 2 layers, 2 variables$" out &&
	ls store/names >out &&
	expect_grep "^registry.example.com:5000\+team\+app:v1.json$" out
'

test_expect_success 'an archive on standard input, as docker save | cidre image add NAME -' '
	cidre image add s:1 - <d.tar >out &&
	expect_grep "^image s:1: docker-archive \(standard input\) .*unpacked to $SCRATCH/store/roots/" out &&
	cat o.tar | cidre image add s:2 - >out &&
	expect_grep "^image s:2: oci-archive \(standard input\) " out &&
	cidre image ls >out &&
	expect_grep "^s:1 +docker-archive " out &&
	! ls -a store | grep -q stdin &&
	printf "not a tarball" | expect_exit 1 cidre image add s:3 - 2>out &&
	expect_grep "cannot be read" out &&
	! ls -a store | grep -q stdin &&
	! cidre image ls | grep -q "^s:3 "
'

test_expect_success 'layers apply in order: whiteouts remove what is under them' '
	for r in store/roots/*/; do
		test -x "$r/bin/busybox" &&
		test ! -e "$r/etc/gone" &&
		test ! -e "$r/etc/sub/x" &&
		test -f "$r/etc/sub/y" &&
		test "$(readlink "$r/lib")" = usr/lib || return 1
	done
'

test_expect_success 'a job runs in each, with the image config Env, variables over it' '
	new_repo p <<-\EOF &&
	a:
	  image: v1
	  script:
	    - echo "GREETING=$GREETING PATH=$PATH HOME=$HOME"
	    - ls /etc/sub; test ! -e /etc/gone && echo no-gone
	b:
	  image: {name: "registry.example.com:5000/team/app:v1", entrypoint: [""]}
	  variables: {GREETING: from-job}
	  script: echo "GREETING=$GREETING"
	c:
	  image: o:1
	  script: echo "c GREETING=$GREETING"
	EOF
	(cd p && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^a +\| GREETING=hello PATH=/opt/tools:/usr/bin:/bin HOME=/tmp$" out &&
	expect_grep "^a +\| y$" out &&
	expect_grep "^a +\| no-gone$" out &&
	expect_grep "^b +\| GREETING=from-job$" out &&
	expect_grep "^c +\| c GREETING=hello$" out &&
	cidre image ls >out &&
	expect_grep "^v1 +oci-layout +[0-9.]+M +1  " out
'

test_expect_success 'variables in image: are expanded, as GitLab does' '
	new_repo vars <<-\EOF &&
	variables:
	  REGISTRY: registry.example.com:5000
	  TAG: v1
	a:
	  image: "$REGISTRY/team/app:${TAG}"
	  script: echo "a GREETING=$GREETING"
	b:
	  image: {name: "o:$B_TAG"}
	  variables: {B_TAG: "1"}
	  script: echo "b GREETING=$GREETING"
	c:
	  image: "$NOT_SET"
	  script: echo never
	EOF
	(cd vars && expect_exit 1 cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "Running in a sandbox: image registry.example.com:5000/team/app:v1 " out &&
	expect_grep "^a +\| a GREETING=hello$" out &&
	expect_grep "^b +\| b GREETING=hello$" out &&
	expect_grep "^c +\| ERROR: Job failed: image \"\\\$NOT_SET\" expands to nothing \(are its variables set\?\)" out &&
	expect_no_grep never out
'

test_expect_success 'an unregistered reference says how to register it' '
	new_repo q <<-\EOF &&
	a:
	  image: registry.example.com/team/other:2
	  script: "true"
	EOF
	(cd q && expect_exit 1 cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "pull it with .cidre image pull registry.example.com/team/other:2., or register it with .cidre image add registry.example.com/team/other:2 ARCHIVE\|PATH., from .docker save registry.example.com/team/other:2. or a root filesystem" out
'

test_expect_success 'of several images, the name picks one; else the choice is asked for' '
	expect_exit 1 cidre image add nosuch:3 oci 2>out &&
	expect_grep "holds 2 images \(base, v1\)" out &&
	cidre image add base oci >out &&
	r=$(sed -n "s/.*unpacked to //p" out) &&
	test -f "$r/etc/gone" && test -f "$r/etc/sub/x" &&
	ino=$(stat -c %i "$r/etc/gone") &&
	cidre image add base2:base oci >out &&
	expect_grep "unpacked to $r$" out &&
	test "$(stat -c %i "$r/etc/gone")" = "$ino"
'

test_expect_success 'a path in image: takes an archive too (one image)' '
	new_repo r <<-EOF &&
	a:
	  image: $SCRATCH/d.tar
	  script: echo "GREETING=\$GREETING"
	EOF
	(cd r && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^a +\| GREETING=hello$" out
'

test_expect_success 'the image ENTRYPOINT runs the job shell; image:entrypoint replaces it' '
	rm -rf b && umoci unpack --rootless --image oci:base b >/dev/null &&
	mkdir -p b/rootfs/usr/local/bin &&
	printf "#!/bin/sh\nexport FROM_ENTRY=\"entry ran \$1\"\nexec \"\$@\"\n" >b/rootfs/usr/local/bin/entry.sh &&
	printf "#!/bin/sh\nexport FROM_ENTRY=\"other \$1 \$2\"\nshift\nexec \"\$@\"\n" >b/rootfs/other.sh &&
	printf "#!/bin/sh\necho i am a tool, not a shell\nexit 3\n" >b/rootfs/usr/local/bin/tool &&
	chmod 755 b/rootfs/usr/local/bin/entry.sh b/rootfs/other.sh b/rootfs/usr/local/bin/tool &&
	umoci repack --image oci:ep b &&
	umoci config --image oci:ep --config.entrypoint entry.sh &&
	umoci config --image oci:ep --tag tool --config.entrypoint tool &&
	umoci config --image oci:ep --tag gone --config.entrypoint /no/such &&
	for t in ep tool gone; do
		skopeo copy -q oci:oci:$t oci:$t:$t && umoci rm --image oci:$t || return 1
	done &&
	cidre image add ep:1 ep >/dev/null 2>&1 &&
	cidre image add tool:1 tool >/dev/null 2>&1 &&
	cidre image add gone:1 gone >/dev/null 2>&1 &&
	cidre image ls >ls &&
	expect_grep "^ +image: ep, linux/$ARCH, 2 layers, 0 variables, entrypoint entry.sh$" ls &&
	new_repo ep <<-\EOF &&
	entry:
	  image: ep:1
	  script: echo "FROM_ENTRY=$FROM_ENTRY"
	after-entry:
	  image: ep:1
	  script: echo main
	  after_script: [echo "after FROM_ENTRY=$FROM_ENTRY"]
	none:
	  image: {name: "ep:1", entrypoint: [""]}
	  script: echo "FROM_ENTRY=${FROM_ENTRY:-unset}"
	own:
	  image: {name: "ep:1", entrypoint: ["/other.sh", "first-word"]}
	  script: echo "FROM_ENTRY=$FROM_ENTRY"
	tool:
	  image: tool:1
	  script: echo SHOULD-NOT-RUN
	tool-overridden:
	  image: {name: tool:1, entrypoint: [""]}
	  script: echo ran without the tool
	shell-c:
	  image: {name: "ep:1", entrypoint: ["/bin/sh", "-c"]}
	  script: [echo the script ran, "false"]
	EOF
	(cd ep && cidre run --executor sandbox --color=never >../out 2>&1) ;
	expect_grep "^entry +\| Running in a sandbox: image ep:1 \(.*\), entrypoint /usr/local/bin/entry.sh, network " out &&
	expect_grep "^entry +\| FROM_ENTRY=entry ran /bin/sh$" out &&
	expect_grep "^after-entry +\| after FROM_ENTRY=entry ran /bin/sh$" out &&
	expect_grep "^none +\| FROM_ENTRY=unset$" out &&
	expect_grep "^own +\| FROM_ENTRY=other first-word /bin/sh$" out &&
	expect_grep "^tool +\| i am a tool, not a shell$" out &&
	expect_no_grep "SHOULD-NOT-RUN" out &&
	expect_grep "^tool +test +failed " out &&
	expect_grep "^tool-overridden +\| ran without the tool$" out &&
	expect_grep "^shell-c +\| The entrypoint \"/bin/sh -c\" takes a command string: the job.s shell runs without it$" out &&
	expect_grep "^shell-c +\| the script ran$" out &&
	expect_grep "^shell-c +test +failed " out &&
	new_repo gone <<-\EOF &&
	gone:
	  image: gone:1
	  script: echo SHOULD-NOT-RUN
	EOF
	(cd gone && expect_exit 1 cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "ERROR: Job failed: image \"gone:1\": its entrypoint cannot run: /no/such is not an executable file in the image \(image:entrypoint: \[\"\"\] runs the job without it\)$" out &&
	(cd ep && cidre run --color=never entry >../out 2>&1) &&
	expect_grep "^entry +\| FROM_ENTRY=$" out
'

test_expect_success 'a corrupt blob is refused, nothing registered' '
	cp -r oci bad &&
	big=$(ls -S bad/blobs/sha256/* | head -1) &&
	chmod u+w "$big" &&
	printf "X" | dd of="$big" bs=1 seek=100 conv=notrunc 2>/dev/null &&
	n=$(ls store/roots | wc -l) &&
	expect_exit 1 cidre image add bad:v1 bad 2>out &&
	expect_grep "does not match its digest.*the image is corrupt" out &&
	! cidre image ls | grep -q "^bad:v1 " &&
	test "$(ls store/roots | wc -l)" = "$n"
'

test_expect_success 'an opaque whiteout empties what lower layers put in a directory' '
	cat >spec.json <<-EOF &&
	{"out": "opq", "images": [{"arch": "$ARCH", "layers": [
	  ["d:bin", "F:bin/busybox:$BUSYBOX", "l:bin/sh:busybox", "d:d", "f:d/a", "f:d/k"],
	  ["d:d", "f:d/.wh..wh..opq", "f:d/b"]]}]}
	EOF
	$MKOCI spec.json &&
	cidre image add opq opq >out &&
	r=$(sed -n "s/.*unpacked to //p" out) &&
	test "$(ls "$r/d")" = b
'

test_expect_success 'a multi-platform index gives this machine its image' '
	cat >spec.json <<-EOF &&
	{"out": "multi", "images": [{"ref": "m:1", "platforms": ["s390x", "$ARCH"],
	  "layers": [["d:bin", "F:bin/busybox:$BUSYBOX", "l:bin/sh:busybox"]]}]}
	EOF
	$MKOCI spec.json &&
	cidre image add m:1 multi >out &&
	r=$(sed -n "s/.*unpacked to //p" out) &&
	grep -q "\"architecture\": \"$ARCH\"" "$r.image.json" &&
	cat >spec.json <<-EOF &&
	{"out": "s390", "images": [{"ref": "m:1", "platforms": ["s390x"],
	  "layers": [["d:bin", "F:bin/busybox:$BUSYBOX", "l:bin/sh:busybox"]]}]}
	EOF
	$MKOCI spec.json &&
	expect_exit 1 cidre image add s390 s390 2>out &&
	expect_grep "it has no image for linux/$ARCH \(1 for other platforms\)" out &&
	cat >spec.json <<-EOF &&
	{"out": "arm", "images": [{"arch": "s390x",
	  "layers": [["d:bin", "F:bin/busybox:$BUSYBOX", "l:bin/sh:busybox"]]}]}
	EOF
	$MKOCI spec.json &&
	expect_exit 1 cidre image add arm arm 2>out &&
	expect_grep "it is an image for s390x; this machine runs $ARCH" out
'

# hostile: each refused, nothing written outside the store
test_expect_success 'a layer that writes through a lower layer link is refused' '
	mkdir host &&
	cat >spec.json <<-EOF &&
	{"out": "evil1", "images": [{"arch": "$ARCH", "layers": [
	  ["l:evil:$SCRATCH/host"], ["f:evil/pwned"]]}]}
	EOF
	$MKOCI spec.json &&
	expect_exit 1 cidre image add evil evil1 2>out &&
	expect_grep "evil/pwned goes through the symbolic link evil of a lower layer" out &&
	cat >spec.json <<-EOF &&
	{"out": "evil2", "images": [{"arch": "$ARCH", "layers": [
	  ["l:evil:$SCRATCH/host"], ["h:x:evil/secret"]]}]}
	EOF
	echo secret >host/secret &&
	$MKOCI spec.json &&
	expect_exit 1 cidre image add evil evil2 2>out &&
	expect_grep "evil/secret goes through the symbolic link evil of a lower layer" out &&
	cat >spec.json <<-EOF &&
	{"out": "evil3", "images": [{"arch": "$ARCH", "layers": [
	  ["l:evil:$SCRATCH/host"], ["f:evil/.wh.secret"]]}]}
	EOF
	$MKOCI spec.json &&
	expect_exit 1 cidre image add evil evil3 2>out &&
	expect_grep "the whiteout of evil/secret goes through the symbolic link evil" out &&
	test "$(ls host)" = secret &&
	! cidre image ls | grep -q "^evil "
'

test_expect_success 'bad members, media types, digests and configs are refused' '
	cat >spec.json <<-EOF &&
	{"out": "dots", "images": [{"arch": "$ARCH", "layers": [["f:a/../../escape"]]}]}
	EOF
	$MKOCI spec.json &&
	expect_exit 1 cidre image add dots dots 2>out &&
	expect_grep "refused: .*\.\." out &&
	test ! -e escape && test ! -e store/escape &&
	cat >spec.json <<-EOF &&
	{"out": "enc", "images": [{"arch": "$ARCH", "layers": [["f:a"]],
	  "layer_type": "application/vnd.oci.image.layer.v1.tar+encrypted"}]}
	EOF
	$MKOCI spec.json &&
	expect_exit 1 cidre image add enc enc 2>out &&
	expect_grep "layer 1 is of type application/vnd.oci.image.layer.v1.tar\+encrypted, which cidre cannot unpack" out &&
	cat >spec.json <<-EOF &&
	{"out": "dig", "images": [{"arch": "$ARCH", "layers": [["f:a"]],
	  "config_digest": "sha256:../../../../etc/passwd"}]}
	EOF
	$MKOCI spec.json &&
	expect_exit 1 cidre image add dig dig 2>out &&
	expect_grep "is not a sha256 digest" out &&
	cat >spec.json <<-EOF &&
	{"out": "env", "images": [{"arch": "$ARCH", "layers": [["f:a"]],
	  "env": ["NOEQUALS"]}]}
	EOF
	$MKOCI spec.json &&
	expect_exit 1 cidre image add env env 2>out &&
	expect_grep "Env has a bad entry \(#1\): not NAME=value" out &&
	printf "{not json" >dig/index.json &&
	expect_exit 1 cidre image add dig dig 2>out &&
	expect_grep "index.json is not JSON" out &&
	ls store/roots >out &&
	! grep -q "^\.tmp" out &&
	for n in dots enc dig env; do
		! cidre image ls | grep -q "^$n " || return 1
	done
'

test_expect_success 'no setuid or setgid bit is left in the store' '
	cat >spec.json <<-EOF &&
	{"out": "suid", "images": [{"arch": "$ARCH", "layers": [
	  ["d:bin", "F:bin/busybox:$BUSYBOX", "l:bin/sh:busybox", "s:bin/su", "d:tmp"]]}]}
	EOF
	$MKOCI spec.json &&
	cidre image add suid suid >out &&
	r=$(sed -n "s/.*unpacked to //p" out) &&
	test "$(stat -c %a "$r/bin/su")" = 755 &&
	mkdir -p flat/bin && cp "$BUSYBOX" flat/bin/busybox && ln -s busybox flat/bin/sh &&
	cp "$BUSYBOX" flat/bin/su && chmod 6755 flat/bin/su &&
	mkdir -m 2775 flat/shared && mkdir -m 1777 flat/tmp &&
	tar -C flat -cf flat.tar . &&
	tar -tvf flat.tar | grep -q "rwsr-sr-x.*bin/su" &&
	cidre image add flat flat.tar >out &&
	r=$(sed -n "s/.*unpacked to //p" out) &&
	test "$(stat -c %a "$r/bin/su")" = 755 &&
	test "$(stat -c %a "$r/shared")" = 775 &&
	test "$(stat -c %a "$r/tmp")" = 1777
'

test_expect_success 'rm removes an unpacked image and its config once no name uses it' '
	r=$(cidre image ls | sed -n "s/^o:1 .* \([^ ]*\)$/\1/p") &&
	test -f "$r.image.json" &&
	cidre image rm o:1 &&
	test -d "$r" && test -f "$r.image.json" &&
	cidre image rm s:2 &&
	test ! -e "$r" && test ! -e "$r.image.json"
'

test_expect_success 'bad names are refused' '
	for bad in a//b:1 /a a/ "a/b:" "host:x/a" "a@sha256:12" "A B" "-a/b"; do
		expect_exit 1 cidre image add "$bad" oci 2>out &&
		expect_grep "bad image name" out || return 1
	done
'

test_done
