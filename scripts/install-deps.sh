#!/bin/sh
# Install the Debian packages cidre needs to build (and, with --test, to
# test; with --bench, to benchmark). Installs what is missing with apt-get
# as root, or through sudo when it is there; otherwise prints the exact
# apt-get line to run.
#
# With --test it also fetches, once, the .deb files of a minimal Debian
# (debootstrap --variant=minbase --download-only, from this machine's
# mirror) into $CIDRE_TEST_DEBS (default /var/cache/cidre/test-debs):
# the test of `cidre image build` (t5025) serves them as a mirror of its
# own on 127.0.0.1, since tests reach nothing but loopback.
set -e
BUILD="build-essential pkg-config libfyaml-dev libjansson-dev libsqlite3-dev zlib1g-dev libcurl4-openssl-dev libsodium-dev git curl"
TEST="tzdata libcmocka-dev clang libclang-rt-14-dev perl python3 sqlite3 curl jq unzip openssl bubblewrap busybox-static debootstrap dpkg-dev apt-utils gnupg umoci skopeo zstd docker-registry"
want=$BUILD
case "${1:-}" in
--test)
	# the browser tests (tests/browser): Debian's chromium, and node with
	# npm unless they are installed already (from Debian or elsewhere)
	want="$BUILD $TEST chromium"
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		want="$want nodejs npm"
	fi
	;;
--bench) want="$BUILD hyperfine time rsync nodejs npm" ;;
esac
missing=
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
		|| missing="$missing $p"
done
if [ "$(id -u)" = 0 ]; then
	as_root=
elif command -v sudo >/dev/null 2>&1; then
	as_root=sudo
else
	as_root=none
fi
if [ -n "$missing" ]; then
	if [ "$as_root" = none ]; then
		echo "cidre needs these packages; run as root:" >&2
		echo "  apt-get install -y$missing" >&2
		exit 1
	fi
	$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
[ "${1:-}" = --test ] || exit 0

# The first Debian mirror of apt's sources (one-line and deb822 forms):
# a URL whose path ends in /debian, else deb.debian.org.
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	/etc/apt/sources.list.d/*.sources 2>/dev/null |
	sed -n -e 's/^[[:space:]]*URIs:[[:space:]]*//p' \
		-e 's/^[[:space:]]*deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}//p' |
	tr ' \t' '\n\n' | grep -E '^(https?|file):/.*/debian/?$' | head -n 1) || true
mirror=${mirror:-http://deb.debian.org/debian}
suite=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
suite=${suite:-bookworm}
debs=${CIDRE_TEST_DEBS:-/var/cache/cidre/test-debs}
[ -s "$debs/$suite.done" ] && exit 0
if [ "$as_root" = none ]; then
	echo "the tests need a minimal Debian's .deb files; run as root:" >&2
	echo "  debootstrap --variant=minbase --download-only $suite $debs/$suite $mirror" >&2
	exit 1
fi
echo "fetching a minimal Debian $suite's .deb files for the tests into $debs ..." >&2
$as_root rm -rf "$debs/$suite"
$as_root mkdir -p "$debs"
$as_root debootstrap --variant=minbase --download-only "$suite" "$debs/$suite" "$mirror" \
	>"${TMPDIR:-/tmp}/cidre-test-debs.log" 2>&1 || {
	tail -n 20 "${TMPDIR:-/tmp}/cidre-test-debs.log" >&2
	echo "install-deps: debootstrap --download-only failed (log above)" >&2
	exit 1
}
echo "$suite" | $as_root tee "$debs/$suite.done" >/dev/null
