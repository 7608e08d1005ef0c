#!/bin/sh
# parallel: N and parallel:matrix, with needs on matrix jobs.
. "$(dirname "$0")/lib.sh"

test_expect_success 'parallel: N makes N jobs with CI_NODE_INDEX/TOTAL' '
	new_repo p <<-\EOF &&
	shard:
	  parallel: 3
	  script: echo "node $CI_NODE_INDEX of $CI_NODE_TOTAL"
	EOF
	(cd p && cidre run --color=never >../out 2>&1) &&
	expect_grep "^shard 1/3 +\| node 1 of 3" out &&
	expect_grep "^shard 3/3 +\| node 3 of 3" out &&
	test $(grep -cE "^shard [0-9]/3 +test +success" out) = 3
'

test_expect_success 'parallel:matrix makes one job per combination' '
	new_repo m <<-\EOF &&
	stages: [build, deploy]
	build:
	  stage: build
	  parallel:
	    matrix:
	      - OS: [linux, bsd]
	        ARCH: [amd64, arm64]
	      - OS: mac
	        ARCH: arm64
	  script: echo "$OS-$ARCH" > "$OS-$ARCH.txt" && echo "built $OS-$ARCH"
	  artifacts:
	    paths: ["*.txt"]
	ship:
	  stage: deploy
	  needs:
	    - job: build
	      parallel:
	        matrix:
	          - OS: linux
	            ARCH: amd64
	  script: ls *.txt
	EOF
	(cd m && cidre run --color=never >../out 2>&1) &&
	test $(grep -cE "^build: \[.*\] +build +success" out) = 5 &&
	expect_grep "^build: \[linux, amd64\] +\| built linux-amd64" out &&
	expect_grep "^build: \[mac, arm64\] +\| built mac-arm64" out &&
	expect_grep "^ship +\| linux-amd64.txt" out &&
	expect_no_grep "^ship +\| bsd" out
'

test_expect_success 'needs on a whole matrix job waits for every instance' '
	new_repo n <<-\EOF &&
	t:
	  stage: build
	  parallel:
	    matrix:
	      - V: [a, b]
	  script: echo $V > $V.out
	  artifacts: {paths: ["*.out"]}
	all:
	  stage: test
	  needs: [t]
	  script: cat a.out b.out
	EOF
	(cd n && cidre run --color=never >../out 2>&1) &&
	expect_grep "^all +\| a" out && expect_grep "^all +\| b" out
'

test_expect_success 'too large a parallel is an error' '
	new_repo big <<-\EOF &&
	j:
	  parallel: 500
	  script: "true"
	EOF
	(cd big && expect_exit 2 cidre run >../out 2>&1) &&
	expect_grep "^.gitlab-ci.yml:2:[0-9]+: error:" out
'

test_done
