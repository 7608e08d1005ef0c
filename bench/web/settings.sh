#!/bin/sh
# The settings page and the API's settings writes, timed on one or two
# builds side by side (docs/benchmarks.md, "Project settings").
#
#   bench/web/settings.sh BUILD_DIR [BUILD_DIR_B]
#
# Per build: a server with a project of 200 secret variables and 50
# members; then, alternating between the builds ROUNDS times, the median
# of RUNS requests (curl time_total: server time plus loopback) of
#   GET  /p/proj/settings                      (the page, as the admin token)
#   PUT  /api/v1/projects/proj/variables/V0    (replace a variable)
#   PATCH /api/v1/projects/proj {"protected_branches": [...]}
#   PUT  /api/v1/projects/proj/members/u0      (a member's role)
# Needs curl, git. Everything lives in a temporary directory, removed at the end.
set -e
RUNS=${RUNS:-50}
ROUNDS=${ROUNDS:-3}
T=$(mktemp -d "${TMPDIR:-/tmp}/cidre-bench-settings.XXXXXX")
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

git init -q --bare "$T/app.git"
git clone -q "$T/app.git" "$T/app" 2>/dev/null
printf 'job:\n  script: [true]\n' >"$T/app/.gitlab-ci.yml"
(cd "$T/app" && git add . && git -c user.name=b -c user.email=b@x commit -q -m init &&
	git push -q origin HEAD:main)

# setup NAME BUILD: a server for BUILD in $T/NAME, filled
setup() {
	d=$T/$1
	mkdir -p "$d"
	"$(cd "$2" && pwd)/cidre" server --data "$d/data" --listen 127.0.0.1:0 >>"$d/server.log" 2>&1 &
	PIDS="$PIDS $!"
	i=0
	while [ ! -s "$d/data/server-url" ]; do
		i=$((i + 1)); [ $i -gt 500 ] && { cat "$d/server.log"; exit 1; }
		sleep 0.02
	done
	url=$(cat "$d/data/server-url") tok=$(cat "$d/data/admin-token")
	c() { curl -sf -o /dev/null -H "Authorization: Bearer $tok" -H "Content-Type: application/json" "$@"; }
	c -d "{\"name\":\"proj\",\"repo\":\"$T/app.git\",\"branches\":\"none\"}" "$url/api/v1/projects"
	i=0
	while [ $i -lt 200 ]; do
		c -X PUT -d "{\"value\":\"value-number-$i\",\"masked\":true}" "$url/api/v1/projects/proj/variables/V$i"
		i=$((i + 1))
	done
	i=0
	while [ $i -lt 50 ]; do
		c -d "{\"login\":\"u$i\",\"password\":\"password-$i-long\"}" "$url/api/v1/users"
		c -X PUT -d "{\"role\":\"developer\"}" "$url/api/v1/projects/proj/members/u$i"
		i=$((i + 1))
	done
}

# median NAME METHOD PATH [BODY]: the median time_total in ms of RUNS requests
median() {
	d=$T/$1
	url=$(cat "$d/data/server-url") tok=$(cat "$d/data/admin-token")
	i=0
	: >"$d/times"
	while [ $i -lt "$RUNS" ]; do
		if [ -n "$4" ]; then
			curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X "$2" \
				-H "Authorization: Bearer $tok" -H "Content-Type: application/json" \
				--data-binary "$4" "$url$3" >>"$d/times"
		else
			curl -s -o /dev/null -w '%{http_code} %{time_total}\n' \
				-H "Authorization: Bearer $tok" "$url$3" >>"$d/times"
		fi
		i=$((i + 1))
	done
	# "n/a" when a build answers anything but 2xx (a build without the page)
	if grep -qv '^2' "$d/times"; then printf n/a; return; fi
	cut -d' ' -f2 "$d/times" | sort -n |
		awk '{ a[NR] = $1 } END { printf "%.2f", a[int((NR + 1) / 2)] * 1000 }'
}

one() {
	printf '%s page %s  PUT var %s  PATCH protected %s  PUT member %s  (ms)\n' "$1" \
		"$(median "$1" GET /p/proj/settings)" \
		"$(median "$1" PUT /api/v1/projects/proj/variables/V0 '{"value":"replaced-value","masked":true}')" \
		"$(median "$1" PATCH /api/v1/projects/proj '{"protected_branches":["main","release/*"]}')" \
		"$(median "$1" PUT /api/v1/projects/proj/members/u0 '{"role":"maintainer"}')"
}

setup A "$1"
[ -n "$2" ] && setup B "$2"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
r=0
while [ $r -lt "$ROUNDS" ]; do
	one A
	[ -n "$2" ] && one B
	r=$((r + 1))
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
