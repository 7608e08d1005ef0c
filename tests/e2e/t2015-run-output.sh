#!/bin/sh
# The live output of `cidre run`: whole lines behind the job's name, in
# order, never two jobs' lines mixed within a line; what the job wrote,
# byte for byte, in its log.
. "$(dirname "$0")/lib.sh"

test_expect_success 'lines cut across reads, CRLF, a last line without newline' '
	mkdir -p o &&
	cat >o/gen.sh <<-\EOF &&
	printf "one\r\ntw"; sleep 0.1; printf "o\n\nthr"; sleep 0.1; printf "ee\r\n"
	printf "last-without-newline"
	EOF
	new_repo o <<-\EOF &&
	j:
	  script:
	    - sh gen.sh
	  after_script:
	    - printf "after-without-newline"
	EOF
	(cd o && cidre run --color=never >../out 2>&1) &&
	grep "^j *| " out | sed "s/^j *| //" >got &&
	printf "%s\n" "\$ sh gen.sh" one two "" three last-without-newline \
		"Running after_script" "\$ printf \"after-without-newline\"" \
		after-without-newline >want &&
	grep -v -e "^Running with" -e "^Checking out" -e "^Job succeeded" -e "^Cleaning" got >got.job &&
	diff want got.job &&
	grep -c "$(printf "^one\r\$")" o/.cidre/logs/j.log >n &&
	test "$(cat n)" = 1 &&
	grep -c "$(printf "^three\r\$")" o/.cidre/logs/j.log >n &&
	test "$(cat n)" = 1 &&
	expect_grep "^two$" o/.cidre/logs/j.log &&
	expect_grep "^last-without-newline" o/.cidre/logs/j.log
'

test_expect_success 'a line over 64 KiB comes in pieces; nothing is lost' '
	mkdir -p l &&
	cat >l/gen.sh <<-\EOF &&
	head -c 150000 /dev/zero | tr "\0" a; echo; echo after
	EOF
	new_repo l <<-\EOF &&
	j:
	  script: [sh gen.sh]
	EOF
	(cd l && cidre run --color=never >../out 2>&1) &&
	grep -E "^j +\| a+$" out >pieces &&
	sed "s/^j *| //" pieces | tr -d "\n" | wc -c >n &&
	test "$(cat n)" = 150000 &&
	test "$(wc -l <pieces)" = 3 &&
	sed "s/^j *| //" pieces | awk "{ if (length(\$0) > m) m = length(\$0) } END { print m }" >n &&
	test "$(cat n)" = 65536 &&
	expect_grep "^j *\| after$" out
'

test_expect_success 'two jobs writing at once: whole lines, each job in order' '
	mkdir -p p &&
	cat >p/gen.sh <<-\EOF &&
	i=0; while [ $i -lt 30000 ]; do echo "$1-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i + 1)); done
	EOF
	new_repo p <<-\EOF &&
	a:
	  script: [sh gen.sh a]
	b:
	  script: [sh gen.sh b]
	EOF
	(cd p && cidre run --color=never -j 2 >../out 2>&1) &&
	grep -E "^[ab] +\| [ab]-" out >lines &&
	test "$(wc -l <lines)" = 60000 &&
	test "$(grep -c -E "^a +\| a-[0-9]+-x{59}$" lines)" = 30000 &&
	test "$(grep -c -E "^b +\| b-[0-9]+-x{59}$" lines)" = 30000 &&
	grep "^a" lines | sed "s/^a *| a-//; s/-.*//" >a.seq &&
	seq 0 29999 >want.seq &&
	cmp a.seq want.seq &&
	grep "^b" lines | sed "s/^b *| b-//; s/-.*//" | cmp - want.seq &&
	test "$(grep -c "" p/.cidre/logs/a.log)" -ge 30000
'

test_done
