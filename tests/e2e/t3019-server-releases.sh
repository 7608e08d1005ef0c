#!/bin/sh
# The release: keyword: a job whose script passed records a release of its
# project (tag, name, description — a file of the project directory or
# text —, milestones, links), read back through the API and `cidre
# release`; `cidre run` checks and shows it; bad ones fail the job, or
# the lint.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

start_server data || { echo "Bail out! the server does not start"; exit 1; }
export CIDRE_SERVER="$URL" CIDRE_TOKEN="$TOKEN"

cat >pipeline.yml <<'YML'
stages: [build, release]
build:
  stage: build
  script:
    - printf "## Changes\n\n- one for %s\n" "$CI_COMMIT_REF_NAME" >CHANGES.md
  artifacts:
    paths: [CHANGES.md]
release:
  stage: release
  rules:
    - if: $CI_COMMIT_TAG
  script:
    - echo "releasing $CI_COMMIT_TAG"
  release:
    tag_name: $CI_COMMIT_TAG
    name: 'Release $CI_COMMIT_TAG'
    description: ./CHANGES.md
    milestones: [m1]
    assets:
      links:
        - name: binary
          url: https://example.invalid/$CI_COMMIT_TAG/app
          link_type: package
YML

pushed_id() {
	sed -n "s/^remote: cidre: pipeline \([0-9]*\) for .*/\1/p" "$1" | head -n 1
}

test_expect_success 'a tag pipeline records its release' '
	bare_repo app <pipeline.yml &&
	add_project app "$SCRATCH/app.git" &&
	cidre hook install app.git >/dev/null &&
	(cd app && git tag v1.0 && git push origin v1.0) >out 2>&1 &&
	id=$(pushed_id out) &&
	wait_pipeline "$id" >p.json &&
	jq -e ".status == \"success\"" p.json &&
	api GET /api/v1/projects/app/releases >r.json &&
	expect_status 200 &&
	jq -e "length == 1 and .[0].tag_name == \"v1.0\" and .[0].name == \"Release v1.0\"" r.json &&
	jq -e ".[0].description == \"## Changes\n\n- one for v1.0\" and .[0].milestones == [\"m1\"]" r.json &&
	jq -e ".[0].assets.links == [{\"name\": \"binary\", \"url\": \"https://example.invalid/v1.0/app\", \"link_type\": \"package\"}]" r.json &&
	jq -e --arg sha "$(git -C app rev-parse HEAD)" ".[0].commit.id == \$sha and .[0].pipeline_id == $id" r.json &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[] | select(.name == \"release\") | .id" p.json)/log" >log &&
	expect_grep "Release v1.0 \(\"Release v1.0\"\): 1 link, 26 bytes of description" log
'

test_expect_success 'cidre release list and show' '
	cidre release list app >out &&
	expect_grep "^TAG +NAME +RELEASED +COMMIT +PIPELINE$" out &&
	expect_grep "^v1.0 +Release v1.0 +[0-9-]+T[0-9:]+Z +[0-9a-f]{8} +[0-9]+$" out &&
	cidre release show app v1.0 >out &&
	expect_grep "^release v1.0: Release v1.0$" out &&
	expect_grep "^link +binary \(package\): https://example.invalid/v1.0/app$" out &&
	expect_grep "^- one for v1.0$" out &&
	expect_exit 1 cidre release show app v9 2>err &&
	expect_grep "project app has no release v9" err &&
	cidre release list app --json | jq -e "length == 1" &&
	api PATCH /api/v1/projects/app "{\"public\":true}" >/dev/null &&
	test "$(page - /p/app)" = 200 &&
	expect_grep "<h2 id=\"releases\">Releases</h2>" page.html &&
	expect_grep "<li><strong>v1.0</strong> Release v1.0 <span class=\"muted\">[0-9-]{10}</span>" page.html
'

test_expect_success 'a later pipeline of the tag updates its release; a branch records none' '
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"v1.0\"}" >t.json &&
	id=$(jq -r .id t.json) &&
	wait_pipeline "$id" | jq -e ".status == \"success\"" &&
	api GET /api/v1/projects/app/releases/v1.0 >r.json &&
	jq -e ".pipeline_id == $id" r.json &&
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"main\"}" >t.json &&
	wait_pipeline "$(jq -r .id t.json)" | jq -e ".status == \"success\"" &&
	api GET /api/v1/projects/app/releases | jq -e "length == 1"
'

test_expect_success 'cidre run: a release is checked and shown; a bad one fails the job' '
	new_repo r <<-\EOF &&
	rel:
	  script: ["true"]
	  release:
	    tag_name: v2.$CI_PIPELINE_IID
	    description: Plain text notes
	bad:
	  script: ["true"]
	  release:
	    tag_name: v3
	    assets:
	      links:
	        - {name: x, url: "ftp://example.invalid/x"}
	EOF
	(cd r && cidre run rel --color=never >../out 2>&1) &&
	expect_grep "Release v2.[0-9]+ \(\"v2.[0-9]+\"\): 0 links, 16 bytes of description" out &&
	(cd r && expect_exit 1 cidre run bad --color=never >../out 2>&1) &&
	expect_grep "ERROR: Job failed: release: link x: url \"ftp://example.invalid/x\" is not http\(s\)://" out
'

test_expect_success 'a description file is read without following links' '
	echo "top secret" >secret.txt &&
	new_repo s <<-EOF &&
	leak:
	  script:
	    - ln -s $SCRATCH/secret.txt notes.md
	    - mkdir -p d && ln -s $SCRATCH d/up
	  release:
	    tag_name: v4
	    description: ./notes.md
	through-dir:
	  script:
	    - mkdir -p d && ln -s $SCRATCH d/up
	  release:
	    tag_name: v5
	    description: d/up/secret.txt
	EOF
	(cd s && expect_exit 1 cidre run leak --color=never >../out 2>&1) &&
	expect_grep "ERROR: Job failed: release: description file ./notes.md: symbolic links are not followed" out &&
	expect_no_grep "top secret" out &&
	(cd s && expect_exit 1 cidre run through-dir --color=never >../out 2>&1) &&
	expect_grep "description file d/up/secret.txt: symbolic links are not followed" out &&
	expect_no_grep "top secret" out
'

test_expect_success 'lint: what a release needs, and its link types' '
	new_repo l <<-\EOF &&
	a:
	  script: x
	  release:
	    name: no tag
	b:
	  script: x
	  release:
	    tag_name: v1
	    assets:
	      links:
	        - {name: n, url: "https://x.invalid", link_type: zip}
	        - {name: m}
	EOF
	expect_exit 2 cidre lint -C l >out 2>&1 &&
	expect_grep "\"release\" needs \"tag_name\"" out &&
	expect_grep "release:assets:links:link_type\" must be other, runbook, image or package" out &&
	expect_grep "a release link needs \"url\"" out
'

test_done
