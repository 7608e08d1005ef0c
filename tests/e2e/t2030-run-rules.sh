#!/bin/sh
# rules, only/except and workflow:rules.
. "$(dirname "$0")/lib.sh"

test_expect_success 'rules:if decides with variables; first match wins' '
	new_repo r <<-\EOF &&
	variables:
	  DEPLOY: "no"
	on-main:
	  rules:
	    - if: $CI_COMMIT_BRANCH == "main" && $DEPLOY != "yes"
	  script: echo on-main-ran
	on-tag:
	  rules:
	    - if: $CI_COMMIT_TAG
	  script: echo tag
	deploy:
	  rules:
	    - if: $DEPLOY == "yes"
	      when: manual
	    - if: $CI_COMMIT_REF_NAME =~ /^ma/
	      variables:
	        WHY: regex
	  script: echo "deploy-ran why=$WHY"
	EOF
	(cd r && cidre run --color=never >../out 2>&1) &&
	expect_grep "\| on-main-ran" out &&
	expect_no_grep "^on-tag" out &&
	expect_grep "\| deploy-ran why=regex" out &&
	(cd r && cidre run --color=never -v DEPLOY=yes >../out 2>&1) &&
	expect_grep "^deploy +test +manual" out &&
	expect_no_grep "^on-main " out
'

test_expect_success 'rules:exists and rules:changes' '
	new_repo e <<-\EOF &&
	has-make:
	  rules:
	    - exists: [Makefile]
	  script: echo make
	has-docs:
	  rules:
	    - exists: ["docs/**/*.md"]
	  script: echo docs
	docs-changed:
	  rules:
	    - changes: ["docs/*"]
	  script: echo docs-changed
	EOF
	(cd e && mkdir docs && echo x >docs/a.md && git add . && git commit -q -m docs &&
	 git checkout -q -b topic && echo y >>docs/a.md && git commit -q -am more) &&
	(cd e && cidre run --list >../out 2>&1) &&
	expect_no_grep "^has-make" out &&
	expect_grep "^has-docs" out &&
	expect_grep "^docs-changed" out &&
	(cd e && git checkout -q main && git checkout -q -b other && echo z >z.txt && git add z.txt && git commit -q -m z &&
	 cidre run --list >../out 2>&1) &&
	expect_no_grep "^docs-changed" out
'

test_expect_success 'include:rules:changes includes a file only when the branch changed what it names' '
	new_repo ic <<-\EOF &&
	include:
	  - local: ci/docs.yml
	    rules:
	      - changes: ["docs/**/*"]
	  - local: ci/app.yml
	    rules:
	      - changes:
	          paths: ["src/*.c"]
	base:
	  script: echo base
	EOF
	(cd ic && mkdir -p ci docs/guide src &&
	 printf "docs-job:\n  script: echo docs\n" >ci/docs.yml &&
	 printf "app-job:\n  script: echo app\n" >ci/app.yml &&
	 echo x >docs/guide/a.md && echo "int x;" >src/a.c &&
	 git add . && git commit -q -m files &&
	 git checkout -q -b topic && echo y >>docs/guide/a.md && git commit -q -am docs &&
	 cidre run --list >../out 2>&1) &&
	expect_grep "^docs-job" out &&
	expect_no_grep "^app-job" out &&
	expect_grep "^base" out &&
	(cd ic && git checkout -q main && git checkout -q -b code && echo "int y;" >>src/a.c &&
	 git commit -q -am code && cidre run --list >../out 2>&1) &&
	expect_no_grep "^docs-job" out &&
	expect_grep "^app-job" out
'

test_expect_success 'rules:changes:compare_to compares with the merge base of the ref given' '
	new_repo ct <<-\EOF &&
	since-release:
	  rules:
	    - changes:
	        paths: ["src/*"]
	        compare_to: $BASE
	  script: echo since-release
	since-push:
	  rules:
	    - changes: ["src/*"]
	  script: echo since-push
	EOF
	(cd ct && mkdir -p docs src && echo x >docs/x.md && git add . && git commit -q -m a &&
	 git branch release &&
	 echo "int b;" >src/b.c && git add . && git commit -q -m b &&
	 git checkout -q -b topic && echo y >>docs/x.md && git commit -q -am c &&
	 cidre run --list -v BASE=release >../out 2>&1) &&
	expect_grep "^since-release" out &&
	expect_no_grep "^since-push" out &&
	(cd ct && cidre run --list -v BASE=main >../out 2>&1) &&
	expect_no_grep "^since-release" out &&
	(cd ct && expect_exit 2 cidre run --list -v BASE=no-such-ref >../out 2>&1) &&
	expect_grep "^.gitlab-ci.yml:3:7: error: rules:changes:compare_to is not a valid ref: no-such-ref" out
'

test_expect_success 'rules:when, allow_failure and a rule without if' '
	new_repo w <<-\EOF &&
	j:
	  rules:
	    - if: $X == "1"
	      when: never
	    - when: always
	      allow_failure: true
	  script: exit 1
	EOF
	(cd w && cidre run --color=never >../out 2>&1) &&
	expect_grep "^j +test +failed \(allowed\)" out &&
	(cd w && cidre run -v X=1 --list >../out 2>&1) &&
	expect_no_grep "^j " out
'

test_expect_success 'only/except on refs and variables' '
	new_repo o <<-\EOF &&
	main-only:
	  only: [main]
	  script: "true"
	not-main:
	  except: [main]
	  script: "true"
	tags-only:
	  only: [tags]
	  script: "true"
	by-regex:
	  only: ["/^ma.n$/"]
	  script: "true"
	by-var:
	  only:
	    variables:
	      - $FLAG == "on"
	  script: "true"
	EOF
	(cd o && cidre run --list >../out 2>&1) &&
	expect_grep "^main-only" out && expect_no_grep "^not-main" out &&
	expect_no_grep "^tags-only" out && expect_grep "^by-regex" out &&
	expect_no_grep "^by-var" out &&
	(cd o && cidre run --list -v FLAG=on >../out 2>&1) &&
	expect_grep "^by-var" out
'

test_expect_success 'workflow:rules can stop the whole pipeline' '
	new_repo wf <<-\EOF &&
	workflow:
	  rules:
	    - if: $CI_COMMIT_BRANCH == "release"
	    - if: $FORCE
	      variables:
	        MODE: forced
	j:
	  script: echo "mode=$MODE"
	EOF
	(cd wf && cidre run --color=never >../out 2>&1) &&
	expect_grep "workflow:rules" out && expect_no_grep "mode=" out &&
	(cd wf && cidre run --color=never -v FORCE=1 >../out 2>&1) &&
	expect_grep "\| mode=forced" out
'

test_expect_success 'a bad rules:if expression is a configuration error with its position' '
	new_repo bad <<-\EOF &&
	j:
	  rules:
	    - if: $A == "x" &&
	  script: "true"
	EOF
	(cd bad && expect_exit 2 cidre run >../out 2>&1) &&
	expect_grep "^.gitlab-ci.yml:3:[0-9]+: error:" out
'

test_expect_success '--source merge_request_event plans a merge request pipeline' '
	new_repo mr <<-\EOF &&
	branch-only:
	  rules:
	    - if: $CI_COMMIT_BRANCH
	  script: "true"
	mr-only:
	  rules:
	    - if: $CI_MERGE_REQUEST_IID && $CI_MERGE_REQUEST_TARGET_BRANCH_NAME == $CI_DEFAULT_BRANCH
	  script: echo "from $CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"
	EOF
	(cd mr && git checkout -q -b topic && cidre run --list >../out 2>&1) &&
	expect_grep "^branch-only" out &&
	expect_no_grep "^mr-only" out &&
	(cd mr && cidre run --list --source merge_request_event >../out 2>&1) &&
	expect_no_grep "^branch-only" out &&
	expect_grep "^mr-only" out
'

test_done
