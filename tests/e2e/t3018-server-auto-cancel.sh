#!/bin/sh
# workflow:auto_cancel, as GitLab: on_new_commit (conservative, the
# default; interruptible: only the interruptible jobs of the older
# pipeline; none) and on_job_failure (all: a failed job cancels the rest
# of its pipeline); workflow:rules:auto_cancel overrides them.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

mkdir -p data &&
printf "runner:\n  slots: 4\n" >data/config.yml
start_server data || { echo "Bail out! the server does not start"; exit 1; }
export CIDRE_SERVER="$URL" CIDRE_TOKEN="$TOKEN"

job_id() {
	api GET "/api/v1/pipelines/$1" | jq -r ".jobs[] | select(.name == \"$2\") | .id"
}

test_expect_success 'lint: the keys and values of auto_cancel are checked' '
	new_repo l <<-\EOF &&
	workflow:
	  auto_cancel:
	    on_new_commit: sometimes
	    on_job_failure: all
	    on_what: x
	  rules:
	    - if: $CI_COMMIT_BRANCH
	      auto_cancel:
	        on_job_failure: some
	j:
	  script: "true"
	EOF
	expect_exit 2 cidre lint -C l >out 2>&1 &&
	expect_grep "workflow:auto_cancel:on_new_commit must be conservative, interruptible or none" out &&
	expect_grep "on_what" out &&
	expect_grep "workflow:rules:auto_cancel:on_job_failure must be none or all" out &&
	new_repo ok <<-\EOF &&
	workflow:
	  auto_cancel:
	    on_new_commit: interruptible
	  rules:
	    - if: $CI_COMMIT_REF_PROTECTED == "true"
	      auto_cancel:
	        on_new_commit: none
	    - when: always
	j:
	  script: "true"
	EOF
	cidre lint -C ok >out 2>&1
'

test_expect_success 'on_new_commit interruptible: a newer push cancels only the interruptible jobs' '
	bare_repo app <<-\EOF &&
	workflow:
	  auto_cancel:
	    on_new_commit: interruptible
	may-go:
	  interruptible: true
	  script: [sleep 60]
	must-stay:
	  script: [sleep 60]
	EOF
	add_project app "$SCRATCH/app.git" &&
	one=$(cidre trigger app main -q) &&
	wait_for 30 job_status_is "$(job_id "$one" may-go)" running &&
	wait_for 30 job_status_is "$(job_id "$one" must-stay)" running &&
	two=$(cidre trigger app main -q) &&
	wait_for 30 job_status_is "$(job_id "$one" may-go)" canceled &&
	job_status_is "$(job_id "$one" must-stay)" running &&
	cidre cancel -p "$one" >/dev/null && cidre cancel -p "$two" >/dev/null &&
	wait_pipeline "$one" >/dev/null && wait_pipeline "$two" >/dev/null
'

test_expect_success 'on_new_commit none: nothing is canceled; workflow:rules:auto_cancel wins' '
	printf "workflow:\n  auto_cancel:\n    on_new_commit: interruptible\n  rules:\n    - if: \$CI_COMMIT_BRANCH == \"main\"\n      auto_cancel:\n        on_new_commit: none\nwork:\n  interruptible: true\n  script: [sleep 60]\n" >app/.gitlab-ci.yml &&
	(cd app && git commit -q -am none && git push -q origin HEAD:main) &&
	one=$(cidre trigger app main -q) &&
	wait_for 30 job_status_is "$(job_id "$one" work)" running &&
	two=$(cidre trigger app main -q) &&
	wait_for 30 job_status_is "$(job_id "$two" work)" running &&
	job_status_is "$(job_id "$one" work)" running &&
	cidre cancel -p "$one" >/dev/null && cidre cancel -p "$two" >/dev/null &&
	wait_pipeline "$one" >/dev/null && wait_pipeline "$two" >/dev/null
'

test_expect_success 'the default (conservative) cancels the whole older pipeline' '
	printf "work:\n  interruptible: true\n  script: [sleep 60]\nlater:\n  stage: deploy\n  script: [\"true\"]\n" >app/.gitlab-ci.yml &&
	(cd app && git commit -q -am conservative && git push -q origin HEAD:main) &&
	one=$(cidre trigger app main -q) &&
	wait_for 30 job_status_is "$(job_id "$one" work)" running &&
	two=$(cidre trigger app main -q) &&
	wait_pipeline "$one" | jq -e ".status == \"canceled\"" &&
	cidre cancel -p "$two" >/dev/null && wait_pipeline "$two" >/dev/null
'

test_expect_success 'on_job_failure all: a failed job cancels the rest of its pipeline' '
	printf "workflow:\n  auto_cancel:\n    on_job_failure: all\nbad:\n  script: [\"sleep 1\", \"exit 3\"]\nlong:\n  script: [sleep 60]\nok-to-fail:\n  allow_failure: true\n  script: [\"exit 1\"]\n" >app/.gitlab-ci.yml &&
	(cd app && git commit -q -am failure && git push -q origin HEAD:main) &&
	id=$(cidre trigger app main -q) &&
	wait_pipeline "$id" 40 >p.json &&
	jq -e ".status == \"failed\"" p.json &&
	jq -e "(.jobs[] | select(.name == \"bad\") | .status) == \"failed\"" p.json &&
	jq -e "(.jobs[] | select(.name == \"long\") | .status) == \"canceled\"" p.json &&
	grep -q "auto_cancel:on_job_failure all" data.log
'

test_done
