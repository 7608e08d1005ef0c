#!/bin/sh
# Run greet's tests and write a JUnit report to the file named by $1.
bin=${GREET:-bin/greet}
report=$1
pass=0 fail=0 cases=
check() { # name expected-exit expected-output args...
	name=$1 want_rc=$2 want_out=$3; shift 3
	out=$("$bin" "$@" 2>/dev/null); rc=$?
	if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ]; then
		pass=$((pass + 1)); echo "PASS $name"
		cases="$cases<testcase classname=\"greet\" name=\"$name\"/>"
	else
		fail=$((fail + 1)); echo "FAIL $name (exit $rc, output '$out')"
		cases="$cases<testcase classname=\"greet\" name=\"$name\"><failure message=\"exit $rc\"/></testcase>"
	fi
}
check greets_by_name 0 "Hello, Ada!" Ada
check needs_a_name 2 ""
check refuses_empty_name 2 "" ""
check refuses_long_name 1 "" "$(printf '%070d' 0)"
printf '<?xml version="1.0"?>\n<testsuite name="greet" tests="%d" failures="%d">%s</testsuite>\n' \
	$((pass + fail)) "$fail" "$cases" >"$report"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
