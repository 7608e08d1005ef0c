#!/bin/sh
# Per-job cgroups: each job's tree lives in a cgroup of its own (v1
# memory hierarchy or v2), removed after the job; CIDRE_CGROUP chooses.
. "$(dirname "$0")/lib.sh"

v2=
for d in /sys/fs/cgroup/unified /sys/fs/cgroup; do
	if [ "$(stat -f -c %T "$d" 2>/dev/null)" = cgroup2fs ] && [ -w "$d" ]; then
		v2=$d; break
	fi
done

test_expect_success 'a job runs in its own cgroup, which is removed afterwards' '
	new_repo c <<-\EOF &&
	j:
	  script:
	    - cat /proc/self/cgroup
	EOF
	(cd c && cidre run --color=never --json=../r.json >../out 2>&1) &&
	acc=$(python3 -c "import json; print(json.load(open(\"r.json\"))[\"jobs\"][0][\"accounting\"])") &&
	case $acc in
	cgroup1|cgroup2)
		dir=$(sed -n "s/^j *| [0-9]*:[^:]*memory[^:]*:\(.*cidre-[0-9]*-[0-9]*\)$/\1/p; s/^j *| 0::\(.*cidre-[0-9]*-[0-9]*\)$/\1/p" out | head -1) &&
		test -n "$dir" &&
		! ls -d /sys/fs/cgroup/*"$dir" /sys/fs/cgroup/*/"$dir" 2>/dev/null | grep -q . ;;
	rusage) echo "no cgroup on this machine: $acc" ;;
	*) false ;;
	esac
'

test_expect_success 'CIDRE_CGROUP=none accounts by rusage' '
	(cd c && CIDRE_CGROUP=none cidre run --json=../r.json >../out 2>&1) &&
	expect_grep "\"accounting\": \"rusage\"" r.json
'

test_expect_success 'no cgroup is left behind, even when cidre stops early' '
	mkdir bad && (cd bad && git init -q && printf "j:\n  scirpt: x\n" >.gitlab-ci.yml) &&
	(cd bad && exec "$CIDRE_BIN" run >../out 2>&1) &
	pid=$!
	wait $pid
	rc=$?
	test $rc = 2 &&
	! ls -d /sys/fs/cgroup/*/cidre-$pid-* /sys/fs/cgroup/*/*/cidre-$pid-* \
		/sys/fs/cgroup/*/*/*/cidre-$pid-* 2>/dev/null | grep -q .
'

if [ -n "$v2" ]; then
test_expect_success 'a delegated v2 cgroup: the job is born in its own child cgroup' '
	parent="$v2/cidre-test-$$" && mkdir "$parent" &&
	(cd c && CIDRE_CGROUP="$parent" cidre run --color=never >../out 2>&1); rc=$?
	rmdir "$parent" 2>/dev/null
	test $rc = 0 &&
	expect_grep "^j +\| 0::/cidre-test-[0-9]+/cidre-[0-9]+-[0-9]+$" out
'
fi

if [ -n "$v2" ] && grep -qw hugetlb "$v2/cgroup.controllers"; then
# hugetlb stands in for memory, pids and cpu, which this kind of host
# has on v1 only: the same rule holds for every domain controller
test_expect_success 'a delegated v2 cgroup that holds cidre: its processes move into a leaf, the jobs get its controllers' '
	new_repo lf <<-\EOF &&
	j:
	  script:
	    - echo controllers=$(cat "$CG_MNT$(sed -n "s/^0:://p" /proc/self/cgroup)/cgroup.controllers")
	EOF
	enabled= &&
	if ! grep -qw hugetlb "$v2/cgroup.subtree_control"; then
		echo +hugetlb >"$v2/cgroup.subtree_control" && enabled=1
	fi &&
	T="$v2/cidre-test-leaf-$$" && mkdir "$T" &&
	(echo 0 >"$T/cgroup.procs" && cd lf && CIDRE_CGROUP="$T" CG_MNT="$v2" \
		CIDRE_TEST_CGROUP_ENABLE=hugetlb exec "$CIDRE_BIN" run --color=never >../out 2>&1)
	rc=$?
	sub=$(cat "$T/cgroup.subtree_control") procs=$(cat "$T/cgroup.procs") leaf=no
	[ -d "$T/cidre-main" ] && leaf=yes
	rmdir "$T/cidre-main" "$T" 2>/dev/null
	[ -z "$enabled" ] || echo -hugetlb >"$v2/cgroup.subtree_control"
	test $rc = 0 && test "$sub" = hugetlb && test -z "$procs" && test $leaf = yes &&
	expect_grep "^j +\| controllers=hugetlb$" out
'
fi

test_done
