#!/usr/bin/env bash
# cidre run vs gitlab-ci-local on the same three pipelines, side by side.
#
#   bench/setup.sh          # once: hyperfine, rsync, node 22, gitlab-ci-local
#   bench/run.sh            # or: make bench
#
# Environment:
#   CIDRE=PATH     the cidre binary (default: build/cidre, else build-bench/cidre)
#   RUNS=20        timed runs of each command (hyperfine --runs)
#   WARMUP=3       untimed runs first (hyperfine --warmup)
#   RSS_RUNS=5     runs under /usr/bin/time for the peak RSS (median taken)
#   PIPELINES="one-job three-stages twenty-jobs"
#   GCL=0          skip gitlab-ci-local (cidre rows only: quick, while iterating)
#
# For each pipeline, two fresh git repositories (one per tool, so that
# neither sees the other's state directory) hold bench/pipelines/NAME/
# .gitlab-ci.yml in one commit. Both tools run with their default options
# and their output goes to /dev/null (hyperfine's default). Rows:
#   cidre                cidre run            (-j defaults to the core count)
#   cidre -j 1           cidre run -j 1       (jobs one at a time)
#   gitlab-ci-local      gitlab-ci-local --no-color   (its defaults)
#   gcl, no schema       ... --no-json-schema-validation  (its fastest)
# JSON from hyperfine, the peak RSS figures and a summary table go to
# bench/results/. A benchmark, not a test: missing a goal is reported, and
# the exit status is 0 unless something could not be measured.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
RSS_RUNS=${RSS_RUNS:-5}
PIPELINES=${PIPELINES:-"one-job three-stages twenty-jobs"}
GCL=${GCL:-1}
ROOT=$(cd "$BENCH_DIR/.." && pwd)
RESULTS="$BENCH_DIR/results"

# --- tools -----------------------------------------------------------------
if [ -z "${CIDRE:-}" ]; then
	for c in "$ROOT/build/cidre" "$ROOT/build-bench/cidre"; do
		[ -x "$c" ] && { CIDRE=$c; break; }
	done
fi
[ -n "${CIDRE:-}" ] && [ -x "$CIDRE" ] ||
	die "no cidre binary: run 'make' first (or set CIDRE=/path/to/cidre)"
CIDRE=$(cd "$(dirname "$CIDRE")" && pwd)/$(basename "$CIDRE")
cidre_version=$("$CIDRE" --version) || die "$CIDRE --version failed"

command -v hyperfine >/dev/null || die "hyperfine is missing: run bench/setup.sh"
command -v jq >/dev/null || die "jq is missing: run bench/setup.sh"
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is missing: run bench/setup.sh"
command -v rsync >/dev/null || die "rsync (needed by gitlab-ci-local) is missing: run bench/setup.sh"
if [ "$GCL" = 0 ]; then
	GCL_NODE=node GCL_JS=none gcl_version="(skipped: GCL=0)"
else
	find_node && [ -f "$GCL_JS" ] ||
		die "gitlab-ci-local is not set up under bench/node_modules: run bench/setup.sh"
	gcl_version=$("$GCL_NODE" "$GCL_JS" --version 2>/dev/null) ||
		die "gitlab-ci-local does not start under $GCL_NODE: run bench/setup.sh"
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
# hyperfine --shell=none splits commands on blanks.
case "$CIDRE$GCL_NODE$GCL_JS$W" in
*[[:space:]]*) die "the paths of cidre, node, gitlab-ci-local and TMPDIR must not contain blanks" ;;
esac
mkdir -p "$RESULTS"

CMD_CIDRE="$CIDRE run"
CMD_CIDRE_J1="$CIDRE run -j 1"
# Run from the cidre repository; gitlab-ci-local accepts only a relative --cwd.
CMD_GCL="$GCL_NODE $GCL_JS --cwd ../gcl --no-color"
CMD_GCL_FAST="$CMD_GCL --no-json-schema-validation"

{
	echo "date:      $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine:   $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
		"$(awk '/MemTotal/ {printf "%.0f GB RAM", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
	echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min, before the runs)"
	echo "cidre:     $cidre_version ($CIDRE)"
	if [ "$GCL" = 0 ]; then
		echo "reference: gitlab-ci-local $gcl_version"
	else
		echo "reference: gitlab-ci-local $gcl_version on node $("$GCL_NODE" --version)"
	fi
	echo "hyperfine: $(hyperfine --version | cut -d' ' -f2), --warmup $WARMUP --runs $RUNS --shell=none; peak RSS: median of $RSS_RUNS runs of /usr/bin/time -f %M"
} | tee "$RESULTS/machine.txt"
if awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" 'BEGIN {exit !(l > n / 2)}'; then
	echo "bench: warning: the machine is busy (load $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores); figures will be noisy and high" >&2
fi

# The peak RSS in KB of the largest single process of the command's tree
# (GNU time reports the child's ru_maxrss, which Linux folds the reaped
# grandchildren's into), as the median of RSS_RUNS runs.
peak_rss() {
	local i f="$W/rss"
	: >"$f.all"
	for i in $(seq "$RSS_RUNS"); do
		/usr/bin/time -f %M -o "$f" "$@" >/dev/null 2>&1 ||
			die "failed while measuring peak RSS: $*"
		tail -1 "$f" >>"$f.all"
	done
	sort -n "$f.all" | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : int((v[NR/2]+v[NR/2+1])/2)}'
}

jobs_of() { grep -cE '^[A-Za-z0-9_.-]+:' "$1" | awk -v s="$(grep -c '^stages:' "$1")" '{print $1 - s}'; }

for p in $PIPELINES; do
	yml="$BENCH_DIR/pipelines/$p/.gitlab-ci.yml"
	[ -f "$yml" ] || die "no pipeline $yml"
	make_repo "$W/$p/cidre" "$yml"
	make_repo "$W/$p/gcl" "$yml"
	cd "$W/$p/cidre"

	# One checked run of each, so a failure shows its output instead of
	# being a bare hyperfine "non-zero exit code".
	$CMD_CIDRE >"$W/out" 2>&1 || { cat "$W/out" >&2; die "cidre run failed on $p (output above)"; }
	if [ "$GCL" != 0 ]; then
		$CMD_GCL >"$W/out" 2>&1 || { cat "$W/out" >&2; die "gitlab-ci-local failed on $p (output above)"; }
	fi

	echo
	echo "== $p ($(jobs_of "$yml") jobs)"
	set -- -n cidre "$CMD_CIDRE" -n "cidre -j 1" "$CMD_CIDRE_J1"
	[ "$GCL" = 0 ] || set -- "$@" -n gitlab-ci-local "$CMD_GCL" \
		-n "gitlab-ci-local --no-json-schema-validation" "$CMD_GCL_FAST"
	hyperfine --shell=none --warmup "$WARMUP" --runs "$RUNS" \
		--export-json "$RESULTS/$p.json" "$@" ||
		die "hyperfine failed on $p"

	echo "peak RSS ($RSS_RUNS runs each) ..."
	{
		echo "cidre $(peak_rss $CMD_CIDRE)"
		echo "cidre-j1 $(peak_rss $CMD_CIDRE_J1)"
		if [ "$GCL" != 0 ]; then
			echo "gcl $(peak_rss $CMD_GCL)"
			echo "gcl-fast $(peak_rss $CMD_GCL_FAST)"
		fi
	} >"$RESULTS/$p.rss"
	cd "$ROOT"
done

# --- summary ---------------------------------------------------------------
ms() { jq -r ".results[$2].$3 * 1000" "$RESULTS/$1.json"; }
rss_mb() { awk -v k="$2" '$1 == k {printf "%.1f", $2/1024}' "$RESULTS/$1.rss"; }

{
	echo
	echo "| pipeline | jobs | cidre ms (mean) | median / min | cidre CPU ms | cidre -j 1 ms | gitlab-ci-local ms | gcl no-schema ms | ratio | ratio vs no-schema | cidre peak RSS MB | gcl peak RSS MB |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for p in $PIPELINES; do
		c=$(ms "$p" 0 mean); cs=$(ms "$p" 0 stddev); c1=$(ms "$p" 1 mean)
		cm=$(ms "$p" 0 median); cn=$(ms "$p" 0 min)
		cu=$(awk -v u="$(ms "$p" 0 user)" -v s="$(ms "$p" 0 system)" 'BEGIN {print u + s}')
		if [ "$GCL" = 0 ]; then
			g=0 gs=0 gf=0
		else
			g=$(ms "$p" 2 mean); gs=$(ms "$p" 2 stddev); gf=$(ms "$p" 3 mean)
		fi
		awk -v p="$p" -v n="$(jobs_of "$BENCH_DIR/pipelines/$p/.gitlab-ci.yml")" \
		    -v c="$c" -v cs="$cs" -v cm="$cm" -v cn="$cn" -v cu="$cu" -v c1="$c1" \
		    -v g="$g" -v gs="$gs" -v gf="$gf" \
		    -v cr="$(rss_mb "$p" cidre)" -v gr="$(rss_mb "$p" gcl)" \
		    'BEGIN {
			if (g > 0)
				printf "| %s | %d | %.1f ± %.1f | %.1f / %.1f | %.1f | %.1f | %.0f ± %.0f | %.0f | %.1f× | %.1f× | %s | %s |\n",
				    p, n, c, cs, cm, cn, cu, c1, g, gs, gf, g/c, gf/c, cr, gr
			else
				printf "| %s | %d | %.1f ± %.1f | %.1f / %.1f | %.1f | %.1f | – | – | – | – | %s | – |\n",
				    p, n, c, cs, cm, cn, cu, c1, cr
		    }'
	done
} | tee "$RESULTS/summary.md"

# Goals (from the issue): >= 25x faster and <= 28 ms on the 6-job pipeline,
# <= 2 ms per extra job, <= 8 MB peak RSS.
has() { case " $PIPELINES " in *" $1 "*) return 0 ;; esac; return 1; }
{
	echo
	if has one-job && has twenty-jobs; then
		for i in 0 1 2; do
			[ "$GCL" = 0 ] && [ $i = 2 ] && break
			name=$(jq -r ".results[$i].command" "$RESULTS/one-job.json")
			awk -v n="$name" -v a="$(ms one-job $i mean)" -v b="$(ms twenty-jobs $i mean)" \
				'BEGIN {printf "per extra job, %s: %.2f ms  ((t20 - t1) / 19)\n", n, (b - a) / 19}'
		done
	fi
	goal() { awk -v w="$1" -v v="$2" -v op="$3" -v lim="$4" -v u="$5" 'BEGIN {
		ok = (op == "<=") ? (v <= lim) : (v >= lim)
		printf "goal: %-32s %s %s%s  measured %.2f%s  %s\n", w, op, lim, u, v, u, ok ? "MET" : "MISSED" }'; }
	if has three-stages; then
		goal "6-job pipeline, cidre" "$(ms three-stages 0 mean)" "<=" 28 " ms"
		[ "$GCL" = 0 ] ||
		goal "6-job pipeline, speed-up" "$(awk -v g="$(ms three-stages 2 mean)" -v c="$(ms three-stages 0 mean)" 'BEGIN {print g/c}')" ">=" 25 "×"
	fi
	if has one-job && has twenty-jobs; then
		goal "per extra job, cidre" "$(awk -v a="$(ms one-job 0 mean)" -v b="$(ms twenty-jobs 0 mean)" 'BEGIN {print (b-a)/19}')" "<=" 2 " ms"
	fi
	goal "peak RSS, cidre (worst pipeline)" "$(for p in $PIPELINES; do cat "$RESULTS/$p.rss"; done | awk '$1 == "cidre" && $2 > m {m = $2} END {print m/1024}')" "<=" 8 " MB"
} | tee -a "$RESULTS/summary.md"
echo
echo "results: $RESULTS/ (hyperfine JSON per pipeline, *.rss in KB, summary.md, machine.txt)"
