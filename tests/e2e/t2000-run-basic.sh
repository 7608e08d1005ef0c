#!/bin/sh
# cidre run: stages in order, live output, summary, exit codes, JSON,
# --list, predefined variables, the working tree snapshot.
. "$(dirname "$0")/lib.sh"

test_expect_success 'a three-stage pipeline runs in stage order' '
	new_repo p <<-\EOF &&
	stages: [build, test, deploy]
	compile:
	  stage: build
	  script:
	    - echo compiled > out.txt
	    - echo "compile done"
	check:
	  stage: test
	  script: echo "check done"
	ship:
	  stage: deploy
	  script: echo "ship done"
	EOF
	(cd p && cidre run --color=never >../out 2>&1) &&
	expect_grep "^compile +\| compile done" out &&
	expect_grep "^check +\| check done" out &&
	test "$(grep -n "| compile done" out | cut -d: -f1)" -lt "$(grep -n "| check done" out | cut -d: -f1)" &&
	test "$(grep -n "| check done" out | cut -d: -f1)" -lt "$(grep -n "| ship done" out | cut -d: -f1)" &&
	expect_grep "^compile +build +success" out &&
	expect_grep "^ship +deploy +success" out &&
	expect_grep "pipeline #1 passed" out
'

test_expect_success 'commands are echoed before they run' '
	expect_grep "^compile +\| \\$ echo compiled > out.txt" out
'

test_expect_success 'a failing job fails the pipeline with exit 1 and skips later stages' '
	new_repo f <<-\EOF &&
	a:
	  stage: build
	  script: exit 4
	b:
	  stage: test
	  script: echo never
	EOF
	(cd f && expect_exit 1 cidre run --color=never >../out 2>&1) &&
	expect_grep "^a +build +failed" out &&
	expect_grep "^b +test +skipped" out &&
	expect_grep "exit code 4" out &&
	expect_no_grep "\| never" out
'

test_expect_success 'the first failing command stops the script' '
	new_repo s <<-\EOF &&
	j:
	  script:
	    - "false"
	    - echo not reached
	EOF
	(cd s && expect_exit 1 cidre run --color=never >../out 2>&1) &&
	expect_no_grep "\| not reached" out
'

test_expect_success 'predefined variables describe the commit' '
	new_repo v <<-\EOF &&
	vars:
	  script:
	    - echo "sha=$CI_COMMIT_SHA"
	    - echo "short=$CI_COMMIT_SHORT_SHA"
	    - echo "branch=$CI_COMMIT_BRANCH ref=$CI_COMMIT_REF_NAME"
	    - echo "title=$CI_COMMIT_TITLE"
	    - echo "ci=$CI cidre=$CIDRE job=$CI_JOB_NAME stage=$CI_JOB_STAGE"
	    - echo "dir=$CI_PROJECT_DIR pwd=$(pwd)"
	    - echo "source=$CI_PIPELINE_SOURCE project=$CI_PROJECT_NAME"
	EOF
	sha=$(git -C v rev-parse HEAD) &&
	(cd v && cidre run --color=never >../out 2>&1) &&
	expect_grep "sha=$sha" out &&
	expect_grep "short=$(echo $sha | cut -c1-8)\$" out &&
	expect_grep "branch=main ref=main" out &&
	expect_grep "title=initial commit" out &&
	expect_grep "ci=true cidre=true job=vars stage=test" out &&
	expect_grep "source=push project=v" out &&
	dir=$(sed -n "s/.*dir=\([^ ]*\) pwd=.*/\1/p" out) &&
	expect_grep "pwd=$dir\$" out
'

test_expect_success 'a job starts with no signal ignored or blocked, whatever cidre run had' '
	new_repo sig <<-\EOF &&
	sig:
	  script:
	    - grep -E "^Sig(Ign|Blk)" /proc/self/status
	EOF
	(trap "" USR1 PIPE HUP; cd sig && cidre run --color=never >../out 2>&1) &&
	expect_grep "SigIgn:[[:space:]]*0+$" out &&
	expect_grep "SigBlk:[[:space:]]*0+$" out
'

test_expect_success 'uncommitted and untracked files are seen; ignored ones are not' '
	new_repo w <<-\EOF &&
	look:
	  script:
	    - cat tracked.txt
	    - cat new.txt
	    - test ! -e secret.log && echo "no secret"
	    - test ! -e .cidre && echo "no state dir"
	EOF
	(cd w && echo committed >tracked.txt && echo "*.log" >.gitignore &&
	 git add . && git commit -q -m files &&
	 echo edited >tracked.txt && echo fresh >new.txt && echo x >secret.log) &&
	(cd w && cidre run --color=never >../out 2>&1) &&
	expect_grep "\| edited" out &&
	expect_grep "\| fresh" out &&
	expect_grep "\| no secret" out &&
	expect_grep "\| no state dir" out &&
	test -z "$(git -C w status --porcelain | grep cidre)"
'

test_expect_success 'each job gets a fresh workspace' '
	new_repo ws <<-\EOF &&
	one:
	  stage: build
	  script: touch leftover
	two:
	  stage: test
	  script: test ! -e leftover
	EOF
	(cd ws && cidre run >../out 2>&1)
'

test_expect_success '--json writes a machine-readable report' '
	(cd p && cidre run --json=../report.json >../out 2>&1) &&
	python3 -c "
import json; r = json.load(open(\"report.json\"))
assert r[\"status\"] == \"success\", r
names = [j[\"name\"] for j in r[\"jobs\"]]
assert names == [\"compile\", \"check\", \"ship\"], names
assert all(j[\"status\"] == \"success\" and j[\"exit_code\"] == 0 for j in r[\"jobs\"])
assert r[\"id\"] == 2
" &&
	(cd p && cidre run --json >../stdout.json 2>../stderr) &&
	python3 -c "import json; json.load(open(\"stdout.json\"))" &&
	expect_grep "compile done" stderr
'

test_expect_success '--list shows the plan without running' '
	(cd p && cidre run --list >../out 2>&1) &&
	expect_grep "^JOB +STAGE +WHEN" out &&
	expect_grep "^compile +build +on_success" out &&
	expect_no_grep "compile done" out
'

test_expect_success 'running only named jobs' '
	(cd p && cidre run --color=never check >../out 2>&1) &&
	expect_grep "check done" out &&
	expect_no_grep "compile done" out &&
	(cd p && cidre run --color=never --job ship --job check >../out 2>&1) &&
	expect_grep "ship done" out && expect_grep "check done" out &&
	(cd p && expect_exit 2 cidre run nosuchjob >../out 2>&1) &&
	expect_grep "nosuchjob" out
'

test_expect_success 'a configuration error exits 2 and runs nothing' '
	new_repo bad <<-\EOF &&
	job:
	  scirpt: echo hi
	EOF
	(cd bad && expect_exit 2 cidre run >../out 2>&1) &&
	expect_grep "^.gitlab-ci.yml:2:3: error: .*scirpt" out &&
	test ! -d bad/.cidre/builds
'

test_expect_success '.cidre.yml wins over .gitlab-ci.yml; --file picks another' '
	new_repo both <<-\EOF &&
	from-gitlab:
	  script: echo gitlab
	EOF
	printf "from-cidre:\n  script: echo cidre\n" >both/.cidre.yml &&
	printf "from-other:\n  script: echo other\n" >both/other.yml &&
	(cd both && cidre run --color=never >../out 2>&1) &&
	expect_grep "from-cidre +\| cidre" out &&
	(cd both && cidre run --color=never --file other.yml >../out 2>&1) &&
	expect_grep "from-other +\| other" out
'

test_expect_success 'runs from a subdirectory of the repository' '
	mkdir -p p/sub/dir &&
	(cd p/sub/dir && cidre run >../../../out 2>&1) &&
	expect_grep "passed" out
'

test_expect_success 'help and version' '
	cidre --help >out && expect_grep "run " out &&
	cidre help run >out && expect_grep "usage: cidre run" out &&
	cidre run -h >out && expect_grep "usage: cidre run" out &&
	cidre --version >out && expect_grep "^cidre [0-9]" out &&
	expect_exit 2 cidre frobnicate 2>out &&
	expect_grep "^cidre: .frobnicate. is not a cidre command. See .cidre --help.\.$" out &&
	expect_exit 2 cidre lnit 2>out &&
	expect_grep "^cidre: .lnit. is not a cidre command; did you mean .lint.\? " out &&
	expect_exit 2 cidre sandbox-int 2>out &&
	expect_no_grep "did you mean" out &&
	expect_exit 2 cidre run --exector sandbox 2>out &&
	expect_grep "^did you mean .--executor.\?$" out &&
	expect_exit 129 cidre lint --jsno 2>out &&
	expect_grep "^cidre lint: unknown or incomplete option .--jsno.; did you mean .--json.\?$" out
'

test_done
