#!/bin/sh
# The server's code layout (src/server/hot.ld, docs/internals/build.md):
# the functions the server runs lie together in .text.hot, those it never
# runs do not, and the layout still names the code as it is (a profile
# older than many renames would leave the hot code scattered again).
. "$(dirname "$0")/lib.sh"
SERVER_BIN=$(dirname "$CIDRE_BIN")/cidre-server
if ldd "$SERVER_BIN" >/dev/null 2>&1; then
	skip_all "a dynamic cidre-server (sanitizer build) has no layout"
fi

# section NAME: "start end" of a section of the server, in hex
section() {
	readelf -SW "$SERVER_BIN" |
		awk -v s="$1" '{ for (i = 1; i < NF; i++) if ($i == s) { print $(i + 2), $(i + 4); exit } }'
}
# inside START SIZE FUNC...: each FUNC's address lies in [START, START+SIZE)
inside() {
	start=$1 size=$2
	shift 2
	for f in "$@"; do
		a=$(nm --defined-only "$SERVER_BIN" | awk -v f="$f" '$3 == f { print $1; exit }')
		[ -n "$a" ] || { echo "no function $f"; return 1; }
		[ $((0x$a >= 0x$start && 0x$a < 0x$start + 0x$size)) = 1 ] ||
			{ echo "$f at $a, not in $start+$size"; return 1; }
	done
}

test_expect_success 'the server has its hot text and constants' '
	section .text.hot >hot &&
	section .rodata.hot >rohot &&
	read start size <hot && [ $((0x$size)) -gt 500000 ] &&
	read start size <rohot && [ $((0x$size)) -gt 50000 ]
'

test_expect_success 'the hot constants are not executable (a segment of their own flags)' '
	read start size <rohot &&
	readelf -lW "$SERVER_BIN" | awk "\$1 == \"LOAD\"" >segs &&
	cat segs &&
	in=$(while read -r t off va pa fs ms rest; do
		if [ $((0x$start >= va && 0x$start < va + ms)) = 1 ]; then echo "$rest"; fi
	done <segs) &&
	echo "the segment of .rodata.hot: $in" &&
	test -n "$in" && ! echo "$in" | grep -q E
'

test_expect_success 'what the server runs is in it: start, HTTP, store, runner, YAML' '
	read start size <hot &&
	inside "$start" "$size" main server_main http_server_start runner_main fill_slots \
		store_open sqlite3_step sqlite3VdbeExec malloc h_trigger yaml_parse \
		pipeline_load plan_build json_loadb fy_parser_parse \
		server_create_pipeline record_end
'

test_expect_success 'what it never runs is not: cidre run, lint, image builds' '
	read start size <hot &&
	for f in cmd_run cmd_lint cmd_image; do
		! inside "$start" "$size" "$f" || return 1
	done
'

test_expect_success 'SQLite modules the store never uses are not linked (sqlite_modules.c)' '
	nm --defined-only "$SERVER_BIN" | awk "{ print \$3 }" >syms &&
	grep -qx sqlite3_open_v2 syms &&
	grep -qx __wrap_sqlite3Fts5Init syms &&
	for f in sqlite3Fts3Init sqlite3Fts5Init sqlite3RtreeInit fts5ApiCallback rtreeInsertCell \
		sqlite3DbstatRegister; do
		! grep -qx "$f" syms || { echo "$f is linked"; return 1; }
	done
'

test_expect_success 'the layout names functions that exist (9 in 10 at least)' '
	sed -n "s/^ *\*src\/.*(\.text\.\(.*\))$/\1/p" "$ROOT/src/server/hot.ld" |
		sed -E "s/^(unlikely|startup|hot)\.//" | sort -u >listed &&
	nm --defined-only "$SERVER_BIN" | awk "{ print \$3 }" | sort -u >defined &&
	n=$(wc -l <listed) && [ "$n" -gt 300 ] &&
	missing=$(comm -23 listed defined | wc -l) &&
	echo "$missing of $n listed functions are gone" &&
	[ $((missing * 10)) -le "$n" ]
'

test_done
