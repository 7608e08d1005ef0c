#!/usr/bin/env bash
# Install what bench/run.sh needs; safe to run again (it only does what is
# missing).
#
#   Debian packages: hyperfine, rsync (gitlab-ci-local needs it), time
#                    (GNU /usr/bin/time, for peak RSS), jq, git
#   npm, into bench/node_modules: node 22 (gitlab-ci-local 4.75 needs it)
#                    and gitlab-ci-local, pinned in bench/package.json
#
# Then checks that gitlab-ci-local really runs a one-job pipeline here with
# the shell executor (jobs without "image:"; no container engine needed).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# --- Debian packages -------------------------------------------------------
missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v rsync >/dev/null || missing+=(rsync)
[ -x /usr/bin/time ] || missing+=(time)
command -v jq >/dev/null || missing+=(jq)
command -v git >/dev/null || missing+=(git)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "bench: apt-get install ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	else
		die "missing ${missing[*]}; as root run: apt-get install -y ${missing[*]}"
	fi
fi

# --- node 22 + gitlab-ci-local ---------------------------------------------
have=
if find_node && [ -f "$GCL_JS" ]; then
	have=$("$GCL_NODE" "$GCL_JS" --version 2>/dev/null || true)
fi
if [ "$have" != "$GCL_WANT_VERSION" ]; then
	echo "bench: npm install (node $NODE_WANT_MAJOR, gitlab-ci-local $GCL_WANT_VERSION) into bench/node_modules"
	# No lock file: bench/package.json pins exact versions.
	npm install --prefix "$BENCH_DIR" --no-package-lock --no-audit --no-fund \
		--loglevel=error >&2 ||
		die "npm install failed (is the npm registry reachable?)"
	find_node || die "no Node $NODE_WANT_MAJOR binary under bench/node_modules after npm install"
	[ -f "$GCL_JS" ] || die "gitlab-ci-local is not under bench/node_modules after npm install"
	have=$("$GCL_NODE" "$GCL_JS" --version 2>/dev/null) ||
		die "gitlab-ci-local does not start under $GCL_NODE"
	[ "$have" = "$GCL_WANT_VERSION" ] ||
		die "gitlab-ci-local is $have, wanted $GCL_WANT_VERSION"
fi

# --- does it run a pipeline here? ------------------------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make_repo "$tmp/repo" "$BENCH_DIR/pipelines/one-job/.gitlab-ci.yml"
# (gitlab-ci-local refuses an absolute --cwd: run it from inside the repo.)
if ! (cd "$tmp/repo" && "$GCL_NODE" "$GCL_JS" --no-color) >"$tmp/out" 2>&1 ||
   ! grep -q '> hi' "$tmp/out"; then
	cat "$tmp/out" >&2
	die "gitlab-ci-local $have could not run the one-job pipeline (output above)"
fi
echo "bench: ready: hyperfine $(hyperfine --version | cut -d' ' -f2)," \
	"node $("$GCL_NODE" --version), gitlab-ci-local $have"
