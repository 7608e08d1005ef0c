# Helpers for the sandbox executor's tests (t50xx). Source after lib.sh.
#
# The tests need bubblewrap able to make user, pid and network namespaces
# here (root, or unprivileged user namespaces) and a static busybox
# (Debian busybox-static) to build small images from; scripts/install-deps.sh
# --test installs both. Where bubblewrap truly cannot run, the script is
# skipped, saying why; a missing package is a failure, not a skip.

# Pools end with their run here (checks of what a run leaves behind
# count on it); t5060 tests the ones that outlive it.
export CIDRE_SANDBOX_POOL_IDLE="${CIDRE_SANDBOX_POOL_IDLE:-0}"

need_sandbox() {
	command -v bwrap >/dev/null 2>&1 || {
		echo "not ok 1 - bubblewrap is not installed (scripts/install-deps.sh --test)"
		echo "1..1"; exit 1; }
	if ! why=$(bwrap --unshare-user --unshare-pid --unshare-net --ro-bind / / \
		--die-with-parent -- true 2>&1); then
		skip_all "skipped: no bwrap: it cannot make namespaces here: $why"
	fi
	BUSYBOX=$(command -v busybox) && file_is_static "$BUSYBOX" || {
		echo "not ok 1 - a static busybox is needed (Debian busybox-static)"
		echo "1..1"; exit 1; }
}

# need_tools TOOL...: each in PATH, or the script fails saying what installs it
need_tools() {
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || {
			echo "not ok 1 - $t is needed (scripts/install-deps.sh --test)"
			echo "1..1"; exit 1; }
	done
}

# image_arch: this machine's architecture as images name it
image_arch() {
	case $(uname -m) in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	*) uname -m ;;
	esac
}

file_is_static() {
	! ldd "$1" >/dev/null 2>&1
}

# bb_image DIR: a tiny root filesystem, a static busybox and its applets.
bb_image() {
	mkdir -p "$1/bin" "$1/etc" &&
	cp "$BUSYBOX" "$1/bin/busybox" &&
	for a in $("$1/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$1/bin/$a" || return 1
	done &&
	echo "root:x:0:0:root:/root:/bin/sh" >"$1/etc/passwd" &&
	echo "image-secret" >"$1/etc/shadow"
}

# web_image LAYOUT PORT TEXT [UMOCI-CONFIG-ARGS...]: an OCI layout whose
# image "web" is busybox's httpd serving TEXT at /index.html on PORT
# (exposed), a user www (uid 999) in its /etc/passwd and /etc/group
web_image() {
	_l=$1 _p=$2 _t=$3
	shift 3
	umoci init --layout "$_l" &&
	umoci new --image "$_l:web" &&
	rm -rf "$_l.b" &&
	umoci unpack --rootless --image "$_l:web" "$_l.b" >/dev/null &&
	bb_image "$_l.b/rootfs" &&
	mkdir -p "$_l.b/rootfs/www" &&
	echo "www:x:999:999::/www:/bin/sh" >>"$_l.b/rootfs/etc/passwd" &&
	echo "www:x:999:" >"$_l.b/rootfs/etc/group" &&
	echo "$_t" >"$_l.b/rootfs/www/index.html" &&
	umoci repack --image "$_l:web" "$_l.b" &&
	rm -rf "$_l.b" &&
	umoci config --image "$_l:web" --config.cmd httpd --config.cmd -f \
		--config.cmd -p --config.cmd "$_p" --config.cmd -h --config.cmd /www \
		--config.exposedports "$_p/tcp" "$@"
}
