#!/usr/bin/env bash
# The sandbox executor's cost: bubblewrap alone, a trivial job with the
# shell and the sandbox executor (its start-to-exit overhead), and the
# engine benchmark's 6-job pipeline (bench/pipelines/three-stages) with
# each executor. Results in docs/benchmarks.md ("The sandbox executor").
#
#   bench/sandbox/run.sh           # needs hyperfine, bubblewrap, busybox-static
#
# Environment: CIDRE (default build/cidre), RUNS (default 30), WARMUP (5).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
CIDRE=${CIDRE:-$ROOT/build/cidre}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
OUT=$BENCH/results/sandbox
mkdir -p "$OUT"
W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-sandbox.XXXXXX")
trap 'rm -rf "$W"' EXIT

# a busybox image
mkdir -p "$W/img/bin"
cp "$(command -v busybox)" "$W/img/bin/busybox"
for a in $("$W/img/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$W/img/bin/$a"
done

repo() { # repo DIR < pipeline
	mkdir -p "$1" && git -C "$1" init -q && cat >"$1/.gitlab-ci.yml" &&
	git -C "$1" add . && git -C "$1" -c user.name=b -c user.email=b@b commit -qm b
}
printf 'j:\n  script: [echo hi]\n' | repo "$W/one"
printf 'j:\n  image: %s\n  script: [echo hi]\n' "$W/img" | repo "$W/one-img"
repo "$W/six" <"$BENCH/pipelines/three-stages/.gitlab-ci.yml"
sed 's/^  stage: \(.*\)$/  stage: \1\n  image: IMG/' "$BENCH/pipelines/three-stages/.gitlab-ci.yml" |
	sed "s|IMG|$W/img|" | repo "$W/six-img"
mkdir -p "$W/ws"

hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --export-json "$OUT/primitives.json" \
	-n "fork+exec true" "true" \
	-n "bwrap true (as cidre runs it)" \
	"bwrap --unshare-user --unshare-ipc --unshare-pid --unshare-uts --unshare-cgroup-try --unshare-net --die-with-parent --uid 65534 --gid 65534 --cap-drop ALL --ro-bind $W/img/bin /bin --dev /dev --proc /proc --tmpfs /tmp --dir /builds/p --bind $W/ws /builds/p --remount-ro / --chdir /builds/p -- /bin/true"

hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --export-json "$OUT/one-job.json" \
	-n "one job, shell" "$CIDRE run -C $W/one -q" \
	-n "one job, sandbox, host /" "$CIDRE run -C $W/one -q --executor sandbox" \
	-n "one job, sandbox, busybox image" "$CIDRE run -C $W/one-img -q --executor sandbox"

hyperfine -N --runs "$RUNS" --warmup "$WARMUP" --export-json "$OUT/six-jobs.json" \
	-n "6 jobs, shell" "$CIDRE run -C $W/six -q" \
	-n "6 jobs, sandbox, host /" "$CIDRE run -C $W/six -q --executor sandbox" \
	-n "6 jobs, sandbox, busybox image" "$CIDRE run -C $W/six-img -q --executor sandbox"
