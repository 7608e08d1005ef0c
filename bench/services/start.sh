#!/usr/bin/env bash
# What a service costs a job: `cidre run --executor sandbox` of one job
# that fetches a page from a busybox httpd service, beside the same job
# without the service (it fetches nothing), in one hyperfine run. The
# difference is the service's whole life: its namespaces, its overlay,
# its start, the wait for its port, its end, its scratch removed.
# Results in docs/benchmarks.md ("Services").
#
#   bench/services/start.sh     # needs hyperfine, umoci, busybox-static
#
# Environment: CIDRE (default build/cidre), RUNS (default 30).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
CIDRE=${CIDRE:-$ROOT/build/cidre}
RUNS=${RUNS:-30}
W=$(mktemp -d "${TMPDIR:-/var/tmp}/cidre-bench-svc.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
export CIDRE_IMAGES="$W/store" CIDRE_PULL_POLICY=never CIDRE_SANDBOX_POOL_IDLE=0

umoci init --layout oci >/dev/null
umoci new --image oci:web >/dev/null
umoci unpack --rootless --image oci:web b >/dev/null
r=b/rootfs
mkdir -p "$r/bin" "$r/etc" "$r/www"
cp "$(command -v busybox)" "$r/bin/busybox"
for a in sh httpd wget cat; do ln -s busybox "$r/bin/$a"; done
echo "root:x:0:0:root:/root:/bin/sh" >"$r/etc/passwd"
echo hello >"$r/www/index.html"
umoci repack --image oci:web b >/dev/null
umoci config --image oci:web --config.cmd httpd --config.cmd -f \
	--config.cmd -p --config.cmd 8080 --config.cmd -h --config.cmd /www \
	--config.exposedports 8080/tcp >/dev/null
rm -rf b
"$CIDRE" image add web oci >/dev/null 2>&1

for v in with without; do
	mkdir "$v" && git -C "$v" init -q
	if [ $v = with ]; then
		printf 'j:\n  image: web\n  services: [web]\n  script: [wget -qO- http://web:8080/]\n'
	else
		printf 'j:\n  image: web\n  script: [echo hello]\n'
	fi >"$v/.gitlab-ci.yml"
	git -C "$v" add . && git -C "$v" -c user.name=b -c user.email=b@b commit -qm b
	(cd "$v" && "$CIDRE" run --executor sandbox --color=never >/dev/null)
done
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --runs "$RUNS" --warmup 3 \
	-n "a job with a service" "bash -c 'cd $W/with && $CIDRE run --executor sandbox -q --color=never'" \
	-n "the job alone" "bash -c 'cd $W/without && $CIDRE run --executor sandbox -q --color=never'" \
	--export-markdown "$W/md"
cat "$W/md"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
