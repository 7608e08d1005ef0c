# Shared by the server benchmarks (sourced, not run): their scratch
# repository, starting a server and waiting for its URL, and the servers
# to stop at the end.
#
# PIDS        servers started; bench_cleanup stops them (by pid) and
#             removes $W

PIDS=()

# bench_cleanup: trap it on EXIT after setting W.
bench_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$W"
}

# trivial_repo DIR [NAME]: a bare repository DIR/NAME.git (NAME: demo) and
# its clone DIR/NAME, whose branch main has one trivial job
# (script: ["true"]); sets SHA to main's commit.
trivial_repo() {
	local n=${2:-demo}
	git init -q --bare "$1/$n.git"
	git clone -q "$1/$n.git" "$1/$n" 2>/dev/null
	(
		cd "$1/$n"
		printf 'job:\n  script: ["true"]\n' >.gitlab-ci.yml
		git add .gitlab-ci.yml
		git -c user.name=bench -c user.email=bench@cidre.invalid commit -q -m one
		git push -q origin HEAD:main
	)
	SHA=$(git --git-dir="$1/$n.git" rev-parse main)
}

# many_branch DIR N: branch "many" of DIR/demo.git, a pipeline of N
# trivial jobs in one stage.
many_branch() {
	(
		cd "$1/demo"
		git checkout -q -b many
		: >.gitlab-ci.yml
		for i in $(seq -w 1 "$2"); do
			printf 'job-%s:\n  stage: test\n  script: ["true"]\n' "$i" >>.gitlab-ci.yml
		done
		git commit -q -a -m many
		git push -q origin many
	)
}

# wait_url DATA LOG PID: wait (10 s at most) for the server PID to write
# DATA/server-url; its log is shown if it does not.
wait_url() {
	local n=0
	while [ ! -s "$1/server-url" ]; do
		n=$((n + 1))
		if [ "$n" -gt 500 ] || ! kill -0 "$3" 2>/dev/null; then
			cat "$2" >&2
			echo "bench: the server did not write $1/server-url" >&2
			exit 1
		fi
		sleep 0.02
	done
}

# bench_server DIR CIDRE [SLOTS]: start CIDRE's server on 127.0.0.1:0 with
# data directory DIR (runner slots SLOTS, default 4), wait for it; sets
# SPID, URL and TOKEN and adds the pid to PIDS.
bench_server() {
	mkdir -p "$1"
	printf 'runner:\n  slots: %d\n' "${3:-4}" >"$1/config.yml"
	# EXECUTOR=sandbox: the jobs in the sandbox (the host's / read-only)
	[ -z "${EXECUTOR:-}" ] || printf 'executor:\n  executor: %s\n' "$EXECUTOR" >>"$1/config.yml"
	"$2" server --data "$1" --listen 127.0.0.1:0 >"$1.log" 2>&1 &
	SPID=$!
	PIDS+=("$SPID")
	wait_url "$1" "$1.log" "$SPID"
	URL=$(cat "$1/server-url")
	TOKEN=$(cat "$1/admin-token")
}

# all_ticks PID: CPU ticks (user + system) of the server PID and of what
# it reaped, plus its live children's and what they reaped: the job
# launcher is the parent of the supervisors (and their bash), and is
# reaped only when the server stops.
all_ticks() {
	local p t=0
	for p in "$1" $(pgrep -P "$1"); do
		t=$(( t + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null || echo 0) ))
	done
	echo "$t"
}
