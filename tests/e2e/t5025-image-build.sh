#!/bin/sh
# cidre image build --debootstrap (docs/images.md), for real, from a
# Debian mirror of the test's own on 127.0.0.1: the .deb files of a
# minimal Debian that scripts/install-deps.sh --test fetched, in a
# repository whose Release the test signs with a key it makes
# (--mirror, --keyring). The image then runs a job in the sandbox. A
# Release signed by another key and a package the mirror lacks are clear
# errors that leave nothing behind.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-sandbox.sh"
need_sandbox
[ "$(id -u)" = 0 ] || skip_all "skipped: debootstrap needs root"
for t in debootstrap dpkg-scanpackages apt-ftparchive gpg python3; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "not ok 1 - $t is missing (scripts/install-deps.sh --test)"
		echo "1..1"; exit 1; }
done
DEBS=${CIDRE_TEST_DEBS:-/var/cache/cidre/test-debs}
SUITE=$(cat "$DEBS"/*.done 2>/dev/null | head -n 1)
ARCHIVES=$DEBS/$SUITE/var/cache/apt/archives
[ -n "$SUITE" ] && ls "$ARCHIVES"/*.deb >/dev/null 2>&1 || {
	echo "not ok 1 - no .deb files in $DEBS (scripts/install-deps.sh --test)"
	echo "1..1"; exit 1; }
STORE=$SCRATCH/images
export GNUPGHOME="$SCRATCH/gnupg"

# sign_release KEYNAME: dists/SUITE/Release of the repository, signed by
# a key of that name (made on first use), both ways apt reads it
sign_release() {
	gpg --batch --quiet --list-keys "$1@cidre.invalid" >/dev/null 2>&1 ||
		gpg --batch --quiet --passphrase '' --quick-gen-key \
			"$1 <$1@cidre.invalid>" ed25519 sign never 2>/dev/null &&
	gpg --batch --yes --quiet -u "$1@cidre.invalid" --clearsign \
		-o "repo/dists/$SUITE/InRelease" "repo/dists/$SUITE/Release" &&
	gpg --batch --yes --quiet -u "$1@cidre.invalid" -abs \
		-o "repo/dists/$SUITE/Release.gpg" "repo/dists/$SUITE/Release" &&
	gpg --batch --yes --export "$1@cidre.invalid" >"$1.gpg"
}

test_expect_success 'a signed mirror of the fetched .deb files, on 127.0.0.1' '
	mkdir -p -m 700 "$GNUPGHOME" &&
	mkdir -p repo/pool/main "repo/dists/$SUITE/main/binary-amd64" &&
	for f in "$ARCHIVES"/*.deb; do
		# an epoch is "%3a" in these names: a URL would decode it
		b=$(basename "$f" | sed "s/%3a/-/") &&
		ln -s "$f" "repo/pool/main/$b" || return 1
	done &&
	(cd repo && dpkg-scanpackages -m pool /dev/null 2>/dev/null) \
		>"repo/dists/$SUITE/main/binary-amd64/Packages" &&
	gzip -k "repo/dists/$SUITE/main/binary-amd64/Packages" &&
	apt-ftparchive -o APT::FTPArchive::Release::Suite="$SUITE" \
		-o APT::FTPArchive::Release::Codename="$SUITE" \
		-o APT::FTPArchive::Release::Architectures=amd64 \
		-o APT::FTPArchive::Release::Components=main \
		release "repo/dists/$SUITE" >Release &&
	mv Release "repo/dists/$SUITE/Release" &&
	sign_release mirror &&
	sign_release stranger &&
	sign_release mirror
'

python3 "$TEST_DIR/../tools/static-http.py" repo "$SCRATCH/web.port" 2>web.log &
WEB_PID=$!
TEST_CLEANUP="${TEST_CLEANUP:+$TEST_CLEANUP; }kill $WEB_PID 2>/dev/null"
n=0
while [ ! -s web.port ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
MIRROR="http://127.0.0.1:$(cat web.port)/"

test_expect_success 'bad --mirror and --keyring are usage errors' '
	expect_exit 2 cidre image --store "$STORE" build d --debootstrap "$SUITE" \
		--mirror "ftp://127.0.0.1/debian" 2>err &&
	expect_grep "wants an http://, https:// or file:/ URL" err &&
	expect_exit 2 cidre image --store "$STORE" build d --debootstrap "$SUITE" \
		--mirror "http://127.0.0.1/a b" 2>err &&
	expect_exit 2 cidre image --store "$STORE" build d --debootstrap "$SUITE" \
		--keyring "$SCRATCH/none.gpg" 2>err &&
	expect_grep "keyring .*none.gpg: No such file" err
'

test_expect_success 'a Release signed by another key is refused; nothing is kept' '
	expect_exit 1 cidre image --store "$STORE" build d --debootstrap "$SUITE" \
		--mirror "$MIRROR" --keyring stranger.gpg >out 2>err &&
	expect_grep "debootstrap failed \(exit [1-9]" err &&
	grep -q -i -E "signature|Release" err &&
	cidre image --store "$STORE" ls >ls &&
	expect_no_grep "^d " ls &&
	! ls "$STORE"/built/.tmp-d-* >/dev/null 2>&1
'

test_expect_success 'a package the mirror lacks fails the build; nothing is kept' '
	expect_exit 1 cidre image --store "$STORE" build d --debootstrap "$SUITE" \
		--mirror "$MIRROR" --keyring mirror.gpg --packages no-such-package \
		>out 2>err &&
	expect_grep "debootstrap failed" err &&
	expect_grep "no-such-package" err &&
	! ls "$STORE"/built/.tmp-d-* >/dev/null 2>&1 &&
	! test -e "$STORE/built/d"
'

test_expect_success 'image build makes and registers a Debian image from the mirror' '
	cidre image --store "$STORE" build deb --debootstrap "$SUITE" \
		--mirror "$MIRROR" --keyring mirror.gpg >out 2>err &&
	expect_grep "debootstrap --variant=minbase $SUITE from $MIRROR" err &&
	# debootstrap says what it does as it goes
	expect_grep "^I: Retrieving " err &&
	expect_grep "^I: Base system installed successfully" err &&
	cidre image --store "$STORE" ls >ls &&
	expect_grep "^deb +directory +[0-9.]+M +0  $STORE/built/deb$" ls &&
	test -x "$STORE/built/deb/bin/bash" &&
	test -s "$STORE/built/deb/etc/debian_version" &&
	test -x "$STORE/built/deb/bin/su" &&
	test -z "$(find "$STORE/built/deb" -xdev -perm /6000 \( -type f -o -type d \))" &&
	# no .deb cache and no package lists in an image
	! ls "$STORE"/built/deb/var/cache/apt/archives/*.deb >/dev/null 2>&1 &&
	test -z "$(ls "$STORE/built/deb/var/lib/apt/lists" | grep -v -e "^partial$" -e "^lock$")"
'

test_expect_success 'a job runs in it: its bash, its Debian, uid nobody' '
	new_repo j <<-\EOF &&
	in-debian:
	  image: deb
	  script:
	    - echo "debian $(cat /etc/debian_version)"
	    - echo "uid $(id -u) $(id -un)"
	    - echo "shell $BASH_VERSION"
	    - dpkg-query -W -f "\${Status}\n" base-files
	EOF
	(cd j && cidre run --executor sandbox --images "$STORE" --color=never \
		>../out 2>&1) &&
	expect_grep "Running in a sandbox: image deb \($STORE/built/deb\)" out &&
	expect_grep "^in-debian +\| debian $(cat "$STORE/built/deb/etc/debian_version")$" out &&
	expect_grep "^in-debian +\| uid 65534 nobody$" out &&
	expect_grep "^in-debian +\| install ok installed$" out &&
	cidre image --store "$STORE" ls >ls &&
	expect_grep "^deb +directory +[0-9.]+M +1 " ls
'

test_done
