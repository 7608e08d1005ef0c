#!/bin/sh
# The examples of the user documentation are tested: every ```yaml block
# of docs/*.md is a complete pipeline that `cidre lint` accepts. A block
# whose first line is `# example: run` is also run with `cidre run` and
# must pass; each `# expect: REGEX` line in it is an extended regular
# expression the run's output must match.
#
# Blocks that are not complete pipelines (fragments, include targets,
# deliberately invalid files) use the fence ```yaml-fragment instead.
. "$(dirname "$0")/lib.sh"

DOCS=$ROOT/docs

# extract FILE OUTDIR: write each ```yaml block of FILE to OUTDIR/N.yml
# and its starting line (of the fence) to OUTDIR/N.line.
extract() {
	mkdir -p "$2" &&
	awk -v out="$2" '
		!inb && /^```yaml[ \t]*$/ {
			inb = 1; n++; f = out "/" n ".yml"
			print NR > (out "/" n ".line"); close(out "/" n ".line")
			printf "" > f
			next
		}
		inb && /^```[ \t]*$/ { inb = 0; close(f); next }
		inb { print > f }
		END { if (inb) { print "unterminated yaml block at end of " FILENAME > "/dev/stderr"; exit 1 } }
	' "$1"
}

# check_block YML REPO: lint (and maybe run) the block in a fresh repo.
check_block() {
	new_repo "$2" <"$1" &&
	(cd "$2" && cidre lint) &&
	if [ "$(sed -n 1p "$1")" = "# example: run" ]; then
		(cd "$2" && cidre run --color=never >../"$2".out 2>&1) || {
			echo "cidre run failed:" >&2; cat "$2".out >&2; return 1
		}
		sed -n 's/^[ \t]*# expect: //p' "$1" >"$2".expect &&
		while IFS= read -r re; do
			expect_grep "$re" "$2".out || return 1
		done <"$2".expect
	fi
}

blocks=0
runs=0
for doc in "$DOCS"/*.md; do
	name=$(basename "$doc" .md)
	extract "$doc" "blocks/$name" || {
		test_expect_success "docs/$name.md: yaml blocks are terminated" false
		continue
	}
	n=1
	while [ -f "blocks/$name/$n.yml" ]; do
		line=$(cat "blocks/$name/$n.line")
		blocks=$((blocks + 1))
		[ "$(sed -n 1p "blocks/$name/$n.yml")" = "# example: run" ] &&
			runs=$((runs + 1))
		test_expect_success "docs/$name.md block $n (line $line) is a valid pipeline" "
			check_block blocks/$name/$n.yml repo-$name-$n
		"
		n=$((n + 1))
	done
done

test_expect_success "the docs hold examples ($blocks blocks, $runs run)" '
	test "$blocks" -ge 20 && test "$runs" -ge 8
'

test_done
