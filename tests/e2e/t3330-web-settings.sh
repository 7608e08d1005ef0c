#!/bin/sh
# The project settings page (/p/NAME/settings) over HTTP, as a browser
# without JavaScript uses it: a session cookie, the CSRF token from the
# page, form posts answered 303 back to the page or 400 with the reason
# and nothing changed. Who may see it, who may change anything.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

cat >pipeline.yml <<'YML'
job:
  script:
    - echo "deploy=${DEPLOY_KEY:-none} protected=$CI_COMMIT_REF_PROTECTED"
    - echo "multi=$(printf %s "${MULTI:-}" | od -An -tx1 | tr -d " \n")"
YML

# maint's token for its form posts
tok() {
	page maint /p/app/settings >/dev/null && csrf
}

# on REF: a pipeline on REF; its job's "deploy=" line
on() {
	api POST /api/v1/projects/app/pipelines "{\"ref\":\"$1\"}" >p.json &&
	expect_status 201 &&
	wait_pipeline "$(jq -r .id p.json)" >done.json &&
	jq -e ".status == \"success\"" done.json >/dev/null &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" done.json)/log" | grep "^deploy="
}

test_expect_success 'a project, a maintainer, a developer, a viewer, a stranger' '
	mkdir -p data && start_server data &&
	bare_repo app <pipeline.yml &&
	git -C app.git symbolic-ref HEAD refs/heads/main &&
	(cd app && git push -q origin HEAD:feature/one HEAD:release/1.0) &&
	add_project app "$SCRATCH/app.git" &&
	for u in maint dev view stranger newbie; do
		api POST /api/v1/users "{\"login\":\"$u\",\"password\":\"$u-password-1\"}" \
			>/dev/null && expect_status 201 || return 1
	done &&
	api PUT /api/v1/projects/app/members/maint "{\"role\":\"maintainer\"}" >/dev/null &&
	expect_status 200 &&
	api PUT /api/v1/projects/app/members/dev "{\"role\":\"developer\"}" >/dev/null &&
	api PUT /api/v1/projects/app/members/view "{\"role\":\"viewer\"}" >/dev/null &&
	login_as maint && login_as dev && login_as view && login_as stranger
'

test_expect_success 'a maintainer finds the page from the project page and sees the settings' '
	test "$(page maint /p/app)" = 200 &&
	expect_grep "<a href=\"/p/app/settings\">Settings</a>" page.html &&
	test "$(page maint /p/app/settings)" = 200 &&
	grep -qi "^content-security-policy: default-src .self.; script-src .self." headers &&
	expect_grep "<input type=\"radio\" name=\"public\" value=\"0\" checked>" page.html &&
	expect_grep "<strong id=\"protected-now\">the default branch</strong>" page.html &&
	expect_grep "<tr><td>maint</td>" page.html &&
	expect_grep "<tr><td>dev</td>.*<option value=\"developer\" selected>" page.html &&
	expect_grep "action=\"/p/app/settings/members/view/remove\"" page.html &&
	expect_grep "no variables" page.html &&
	! grep -q "<script>" page.html &&
	test -n "$(csrf)"
'

test_expect_success 'developers and viewers get no link; a viewer 403, a stranger and nobody 404' '
	test "$(page dev /p/app)" = 200 && ! grep -q "/p/app/settings" page.html &&
	test "$(page dev /p/app/settings)" = 403 &&
	test "$(page view /p/app/settings)" = 403 &&
	test "$(page stranger /p/app/settings)" = 404 &&
	test "$(page - /p/app/settings)" = 404 &&
	test "$(page - /p/nope/settings)" = 404
'

test_expect_success 'visibility: public lets anyone read the project; private again hides it' '
	test "$(page - /p/app)" = 404 &&
	test "$(post maint /p/app/settings/public "csrf=$(tok)&public=1")" = 303 &&
	grep -qi "^location: /p/app/settings?done=public" headers &&
	test "$(page - /p/app)" = 200 &&
	api GET /api/v1/projects/app | jq -e ".public == true" &&
	test "$(page maint "/p/app/settings?done=public")" = 200 &&
	expect_grep "id=\"settings-done\" role=\"status\">Visibility saved.<" page.html &&
	expect_grep "name=\"public\" value=\"1\" checked>" page.html &&
	test "$(page - /p/app/settings)" = 403 &&
	test "$(page stranger /p/app/settings)" = 403 &&
	test "$(post maint /p/app/settings/public "csrf=$(tok)&public=0")" = 303 &&
	test "$(page - /p/app)" = 404 &&
	api GET /api/v1/audit | jq -e "any(.[]; .action == \"project.update\" and .actor == \"maint\" and .detail == \"public false\")"
'

test_expect_success 'protected branches: globs, then a protected variable reaches only them' '
	test "$(post maint /p/app/settings/protected "csrf=$(tok)&mode=globs&globs=release%2F*%2C+feature%2Fone")" = 303 &&
	api GET /api/v1/projects/app | jq -e ".protected_branches == [\"release/*\", \"feature/one\"]" &&
	test "$(page maint /p/app/settings)" = 200 &&
	expect_grep "<strong id=\"protected-now\">release/\*,feature/one</strong>" page.html &&
	expect_grep "name=\"globs\" value=\"release/\*, feature/one\"" page.html &&
	test "$(post maint /p/app/settings/variables "csrf=$(csrf)&key=DEPLOY_KEY&value=deploy-key-value&protected=1")" = 303 &&
	grep -qi "^location: /p/app/settings?done=variable" headers &&
	on release/1.0 >got && grep -qx "deploy=deploy-key-value protected=true" got &&
	on main >got && grep -qx "deploy=none protected=false" got &&
	test "$(post maint /p/app/settings/protected "csrf=$(tok)&mode=globs&globs=")" = 303 &&
	api GET /api/v1/projects/app | jq -e ".protected_branches == []" &&
	on release/1.0 >got && grep -qx "deploy=none protected=false" got &&
	test "$(post maint /p/app/settings/protected "csrf=$(tok)&mode=default&globs=x")" = 303 &&
	api GET /api/v1/projects/app | jq -e ".protected_branches == null" &&
	on main >got && grep -qx "deploy=deploy-key-value protected=true" got
'

test_expect_success 'members: add one, change the role, remove it' '
	test "$(post maint /p/app/settings/members "csrf=$(tok)&login=newbie&role=viewer")" = 303 &&
	grep -qi "^location: /p/app/settings?done=member" headers &&
	api GET /api/v1/projects/app/members | jq -e "any(.[]; .login == \"newbie\" and .role == \"viewer\")" &&
	test "$(post maint /p/app/settings/members "csrf=$(tok)&login=newbie&role=developer")" = 303 &&
	api GET /api/v1/projects/app/members | jq -e "any(.[]; .login == \"newbie\" and .role == \"developer\")" &&
	test "$(page maint /p/app/settings)" = 200 &&
	expect_grep "<tr><td>newbie</td>.*<option value=\"developer\" selected>" page.html &&
	test "$(post maint /p/app/settings/members/newbie/remove "csrf=$(csrf)")" = 303 &&
	grep -qi "^location: /p/app/settings?done=member-removed" headers &&
	! api GET /api/v1/projects/app/members | jq -e "any(.[]; .login == \"newbie\")" &&
	test "$(post maint /p/app/settings/members "csrf=$(tok)&login=newbie&role=maintainer")" = 303 &&
	login_as newbie && page newbie /p/app/settings >/dev/null &&
	test "$(post newbie /p/app/settings/members "csrf=$(csrf)&login=newbie&role=viewer")" = 303 &&
	tr -d "\r" <headers | grep -qix "location: /p/app" &&
	test "$(page newbie /p/app/settings)" = 403 &&
	test "$(post maint /p/app/settings/members/newbie/remove "csrf=$(tok)")" = 303 &&
	test "$(post maint /p/app/settings/members "csrf=$(tok)&login=ghost&role=viewer")" = 404 &&
	expect_grep "id=\"settings-error\" role=\"alert\">user ghost not found<" page.html
'

test_expect_success 'a masked protected variable: listed with its flags, its value nowhere, deleted' '
	test "$(post maint /p/app/settings/variables "csrf=$(tok)&key=SECRET_TOKEN&value=s3cr3t-v4lue-never-shown&masked=1&protected=1")" = 303 &&
	api GET /api/v1/projects/app/variables >l.json &&
	jq -e "any(.[]; .key == \"SECRET_TOKEN\" and .masked and .protected)" l.json &&
	test "$(page maint /p/app/settings)" = 200 &&
	expect_grep "<tr><td><code>SECRET_TOKEN</code></td><td>yes</td><td>yes</td><td>just now</td>" page.html &&
	! grep -q "s3cr3t" page.html &&
	! grep -q "deploy-key-value" page.html &&
	test "$(post maint /p/app/settings/variables/SECRET_TOKEN/delete "csrf=$(csrf)")" = 303 &&
	grep -qi "^location: /p/app/settings?done=variable-deleted" headers &&
	api GET /api/v1/projects/app/variables | jq -e "all(.[]; .key != \"SECRET_TOKEN\")" &&
	test "$(post maint /p/app/settings/variables/SECRET_TOKEN/delete "csrf=$(tok)")" = 404
'

test_expect_success 'a value keeps its lines, as LF' '
	test "$(post maint /p/app/settings/variables "csrf=$(tok)&key=MULTI&value=line1%0D%0Aline2")" = 303 &&
	on main >/dev/null &&
	api GET "/api/v1/jobs/$(jq -r ".jobs[0].id" done.json)/log" | grep "^multi=" >hex &&
	test "$(cat hex)" = "multi=$(printf "line1\nline2" | od -An -tx1 | tr -d " \n")"
'

# what a refused post must leave as it was
snapshot() {
	api GET /api/v1/projects/app | jq -c "{public, protected_branches}" &&
	api GET /api/v1/projects/app/variables | jq -c "map({key, masked, protected, updated_at})" &&
	api GET /api/v1/projects/app/members | jq -c .
}

test_expect_success 'a post without the CSRF token or with a wrong one is refused' '
	snapshot >before &&
	test "$(post maint /p/app/settings/public "public=1")" = 403 &&
	expect_grep "CSRF" page.html &&
	test "$(post maint /p/app/settings/public "csrf=0123456789abcdef&public=1")" = 403 &&
	test "$(post maint /p/app/settings/variables "csrf=&key=X&value=y")" = 403 &&
	test "$(post maint /p/app/settings/members/dev/remove "csrf=nope")" = 403 &&
	snapshot >after && cmp before after
'

test_expect_success 'a developer'"'"'s post is refused, with the developer'"'"'s own token too' '
	snapshot >before &&
	page dev /p/app >/dev/null && t=$(csrf) && test -n "$t" &&
	test "$(post dev /p/app/settings/public "csrf=$t&public=1")" = 403 &&
	test "$(post dev /p/app/settings/variables "csrf=$t&key=X&value=yyyyyyyy")" = 403 &&
	test "$(post dev /p/app/settings/members "csrf=$t&login=dev&role=maintainer")" = 403 &&
	test "$(post dev /p/app/settings/variables/DEPLOY_KEY/delete "csrf=$t")" = 403 &&
	test "$(post stranger /p/app/settings/public "csrf=$t&public=1")" = 404 &&
	snapshot >after && cmp before after
'

test_expect_success 'bad input: 400 with the reason shown, nothing changed' '
	snapshot >before &&
	test "$(post maint /p/app/settings/variables "csrf=$(tok)&key=1BAD&value=v")" = 400 &&
	expect_grep "id=\"settings-error\" role=\"alert\">variable names are \[A-Za-z_\]\[A-Za-z0-9_\]\*, at most 255 bytes<" page.html &&
	expect_grep "<h2>Secret variables</h2>" page.html &&
	test "$(post maint /p/app/settings/variables "csrf=$(tok)&key=SHORT&value=tiny7ch&masked=1")" = 400 &&
	expect_grep "a masked value must be one line of at least 8 characters" page.html &&
	! grep -q "tiny7ch" page.html &&
	expect_grep "name=\"key\" value=\"SHORT\"" page.html &&
	test "$(post maint /p/app/settings/variables "csrf=$(tok)&key=LINES&value=two%0Alines%21%21&masked=1")" = 400 &&
	test "$(post maint /p/app/settings/protected "csrf=$(tok)&mode=globs&globs=main%2C+rel%01ease")" = 400 &&
	expect_grep "protected_branches must be null \(the default branch\) or an array of at most 100 branch globs" page.html &&
	test "$(post maint /p/app/settings/protected "csrf=$(tok)&mode=sideways")" = 400 &&
	test "$(post maint /p/app/settings/public "csrf=$(tok)&public=maybe")" = 400 &&
	test "$(post maint /p/app/settings/members "csrf=$(tok)&login=dev&role=owner")" = 400 &&
	expect_grep "role must be viewer, developer or maintainer" page.html &&
	test "$(post maint /p/app/settings/members "csrf=$(tok)&role=viewer")" = 400 &&
	big=$(head -c 10001 /dev/zero | tr "\0" a) &&
	test "$(post maint /p/app/settings/variables "csrf=$(tok)&key=BIG&value=$big")" = 400 &&
	expect_grep "value must be a string of at most 10000 bytes" page.html &&
	many=$(seq 1 101 | sed "s/^/b/" | paste -sd, -) &&
	test "$(post maint /p/app/settings/protected "csrf=$(tok)&mode=globs&globs=$many")" = 400 &&
	huge=$(head -c 90000 /dev/zero | tr "\0" a) &&
	test "$(post maint /p/app/settings/protected "csrf=$(tok)&mode=globs&globs=$huge")" = 400 &&
	expect_grep "protected_branches must be null" page.html &&
	snapshot >after && cmp before after
'

test_expect_success 'the 200-variable cap is the API'"'"'s' '
	i=0 && t=$(tok) &&
	while [ $i -lt 198 ]; do
		api PUT /api/v1/projects/app/variables/V$i "{\"value\":\"v\"}" >/dev/null &&
		i=$((i + 1)) || return 1
	done &&
	test "$(api GET /api/v1/projects/app/variables | jq length)" = 200 &&
	test "$(post maint /p/app/settings/variables "csrf=$t&key=ONE_MORE&value=v")" = 400 &&
	expect_grep "a project has at most 200 variables" page.html &&
	test "$(post maint /p/app/settings/variables "csrf=$t&key=V0&value=replaced")" = 303
'

test_expect_success 'the administrator token may post too (no session: no CSRF token)' '
	refresh &&
	test "$(command curl -sS -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $TOKEN" \
		--data "public=1" "$URL/p/app/settings/public")" = 303 &&
	api GET /api/v1/projects/app | jq -e ".public == true"
'

test_done
