#!/usr/bin/env bash
# Trigger a pipeline through the API and block until it is finished, with
# nothing but bash (no process is started: the measurement is the server's).
#
#   trigger-wait.sh URL TOKEN PROJECT [REF [SHA]]
#
# URL is http://127.0.0.1:PORT. POST /api/v1/projects/PROJECT/pipelines
# ({"ref": REF} when given; {"sha": SHA} too: the server then skips its
# fetch when it has the commit), then
# follow the live log of each unfinished job until its "end" event
# (/api/v1/jobs/ID/log/stream: event-driven on the server, no polling),
# then GET the pipeline until its status is final. Exit 0 if it succeeded,
# 1 if it ended otherwise, 2 on a protocol or connection error.
#
# Each request is HTTP/1.0 on a new loopback connection: the server closes
# it after the response, so a response is read to EOF (no chunked or
# Content-Length parsing in bash).
LC_ALL=C
url=${1#http://} token=$2 project=$3 ref=${4:-} sha=${5:-}
host=${url%%:*} port=${url##*:}
port=${port%%/*}

# req METHOD PATH [BODY]: the response body in $body, the status in $code.
req() {
	local m=$1 p=$2 b=${3:-} resp
	exec 3<>"/dev/tcp/$host/$port" || exit 2
	if [ -n "$b" ]; then
		printf '%s %s HTTP/1.0\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
			"$m" "$p" "$token" "${#b}" "$b" >&3
	else
		# projects are private by default: reads carry the token too
		printf '%s %s HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n' "$m" "$p" "$token" >&3
	fi
	IFS= read -r -d '' resp <&3
	exec 3<&-
	code=${resp#HTTP/1.? }
	code=${code%% *}
	body=${resp#*$'\r\n\r\n'}
}

# final STATUS: true when a pipeline with STATUS will not change any more
final() {
	case $1 in success|failed|canceled|skipped|manual) return 0 ;; esac
	return 1
}

# the pipeline's status and its jobs' ids and statuses from $body
parse() {
	local rest=$body j
	pid=${body#*\"id\":}; pid=${pid%%,*}
	pst=${body#*\"status\":\"}; pst=${pst%%\"*}
	unfinished=()
	rest=${rest#*\"jobs\":\[}
	[ "$rest" = "$body" ] && return
	while [ "${rest#*\{\"id\":}" != "$rest" ]; do
		rest=${rest#*\{\"id\":}
		j=${rest%%,*}
		rest=${rest#*\"status\":\"}
		final "${rest%%\"*}" || unfinished+=("$j")
	done
}

b=
[ -n "$ref" ] && b="\"ref\":\"$ref\""
[ -n "$sha" ] && b="$b${b:+,}\"sha\":\"$sha\""
req POST "/api/v1/projects/$project/pipelines" "{$b}"
[ "$code" = 201 ] || { printf 'trigger: HTTP %s: %s\n' "$code" "$body" >&2; exit 2; }
parse
n=0
while ! final "$pst"; do
	for j in "${unfinished[@]}"; do
		req GET "/api/v1/jobs/$j/log/stream"   # returns after its "end" event
	done
	req GET "/api/v1/pipelines/$pid"
	[ "$code" = 200 ] || { printf 'pipeline %s: HTTP %s\n' "$pid" "$code" >&2; exit 2; }
	parse
	n=$((n + 1))
	[ "$n" -gt 100000 ] && { echo "pipeline $pid: still $pst" >&2; exit 2; }
done
[ "$pst" = success ]
