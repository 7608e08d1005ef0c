#!/bin/sh
# cidre run on a checked-out tag: CI_COMMIT_TAG, CI_COMMIT_TAG_MESSAGE (an
# annotated tag's subject and body, "" for a lightweight one), no
# CI_COMMIT_BRANCH.
. "$(dirname "$0")/lib.sh"

test_expect_success 'an annotated tag checked out: its name and message' '
	new_repo r <<-\EOF &&
	show:
	  script:
	    - echo "tag=($CI_COMMIT_TAG) branch=($CI_COMMIT_BRANCH)"
	    - printf "message=(%s)\n" "$CI_COMMIT_TAG_MESSAGE"
	EOF
	(cd r && git tag -a v1.0 -m "Release 1.0" -m "Notes here." && git checkout -q v1.0 &&
	 cidre run --color=never >../out 2>&1) &&
	expect_grep "\| tag=\(v1.0\) branch=\(\)" out &&
	expect_grep "\| message=\(Release 1.0" out &&
	expect_grep "\| Notes here.\)" out
'

test_expect_success 'a lightweight tag: an empty message' '
	(cd r && git checkout -q main && git tag light && git checkout -q light &&
	 cidre run --color=never >../out 2>&1) &&
	expect_grep "\| tag=\((light|v1.0)\)" out &&
	expect_no_grep "Release 1.0" out
'

test_done
