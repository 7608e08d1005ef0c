#!/bin/sh
# Run every built fuzzer for SECONDS each, as many at a time as there are
# cores (each fuzzer is one process on one core): `make fuzz-run`.
#
#   scripts/fuzz-run.sh SECONDS TARGET...
#
# A fuzzer's corpus grows in build-fuzz/corpus-NAME (seeds from
# fuzz/corpus/NAME); its output goes to build-fuzz/NAME.log, whose last
# "Done N runs" line is printed. The first fuzzer to fail prints the end of its log and
# makes the exit status 1 (the others still finish).
set -u
seconds=$1
shift
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
supp=$(pwd)/fuzz/lsan.supp

one() {
	n=$(basename "$1")
	mkdir -p "build-fuzz/corpus-$n"
	seeds=
	[ -d "fuzz/corpus/$n" ] && seeds=fuzz/corpus/$n
	if LSAN_OPTIONS=suppressions=$supp "$1" -max_total_time="$seconds" -max_len=8192 \
		-timeout=10 -rss_limit_mb=2048 "build-fuzz/corpus-$n" $seeds \
		>"build-fuzz/$n.log" 2>&1; then
		last=$(grep -a '^Done' "build-fuzz/$n.log" | tail -1)
		echo "fuzz: $n for ${seconds}s: ${last:-$(tail -1 "build-fuzz/$n.log")}"
	else
		echo "fuzz: $n FAILED:"
		tail -50 "build-fuzz/$n.log"
		return 1
	fi
}

rc=0
running=0
pids=
for t in "$@"; do
	one "$t" &
	pids="$pids $!"
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		# wait for the oldest (portable sh has no wait -n)
		set -- $pids
		wait "$1" || rc=1
		shift
		pids="$*"
		running=$((running - 1))
	fi
done
for p in $pids; do
	wait "$p" || rc=1
done
exit $rc
