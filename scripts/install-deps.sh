#!/bin/sh
# Install the Debian packages cidre needs to build (and, with --test, to
# test; with --bench, to benchmark). Installs what is missing with apt-get
# as root, or through sudo when it is there; otherwise prints the exact
# apt-get line to run.
set -e
BUILD="build-essential pkg-config libfyaml-dev libjansson-dev libsqlite3-dev zlib1g-dev libcurl4-openssl-dev libsodium-dev git curl"
TEST="tzdata libcmocka-dev clang libclang-rt-14-dev perl python3 sqlite3 curl jq openssl bubblewrap busybox-static"
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
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	as_root=
elif command -v sudo >/dev/null 2>&1; then
	as_root=sudo
else
	echo "cidre needs these packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
