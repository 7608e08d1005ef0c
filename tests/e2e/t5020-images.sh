#!/bin/sh
# Images: cidre image add (directory, tarball), ls (size, jobs), rm;
# image: by name or path; bad tarballs refused; missing or incomplete
# images a clear error before the job starts.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-sandbox.sh"
need_sandbox
export CIDRE_IMAGES="$SCRATCH/store"

# mk_tar FILE ENTRY...: a hand-made tarball; ENTRY is f:NAME (a file),
# d:NAME (a directory) or l:NAME:TARGET (a symbolic link).
mk_tar() {
	python3 - "$@" <<-\PY
	import io, sys, tarfile
	with tarfile.open(sys.argv[1], "w") as t:
	    for e in sys.argv[2:]:
	        kind, rest = e.split(":", 1)
	        if kind == "l":
	            name, target = rest.split(":", 1)
	            ti = tarfile.TarInfo(name); ti.type = tarfile.SYMTYPE; ti.linkname = target
	            t.addfile(ti)
	        elif kind == "d":
	            ti = tarfile.TarInfo(rest); ti.type = tarfile.DIRTYPE; ti.mode = 0o755
	            t.addfile(ti)
	        else:
	            data = b"evil\n"; ti = tarfile.TarInfo(rest); ti.size = len(data)
	            t.addfile(ti, io.BytesIO(data))
	PY
}

test_expect_success 'a directory and a tarball are registered; ls shows them' '
	bb_image img &&
	tar -C img -czf img.tar.gz . &&
	cidre image add bb img >out &&
	expect_grep "^image bb: directory $SCRATCH/img \([0-9.]+ MB\)$" out &&
	cidre image add bbt img.tar.gz >out &&
	expect_grep "^image bbt: tarball $SCRATCH/img.tar.gz .*unpacked to $SCRATCH/store/roots/[0-9a-f]{64}$" out &&
	test -x store/roots/*/bin/busybox &&
	cidre image ls >out &&
	expect_grep "^bb +directory +[0-9.]+M +0  $SCRATCH/img$" out &&
	expect_grep "^bbt +tarball +[0-9.]+M +0  $SCRATCH/store/roots/" out
'

test_expect_success 'the same tarball is unpacked once, under its digest' '
	before=$(ls store/roots | wc -l) &&
	cidre image add bbt2 img.tar.gz >out &&
	test "$(ls store/roots | wc -l)" = "$before"
'

test_expect_success 'jobs name images by name; ls counts them and shows the last' '
	new_repo p <<-\EOF &&
	a:
	  image: bb
	  script: [cat /etc/passwd]
	b:
	  image: bbt
	  script: [ls /bin/busybox]
	EOF
	(cd p && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^a +\| root:x:0:0:root:/root:/bin/sh$" out &&
	expect_grep "^b +\| /bin/busybox$" out &&
	cidre image ls >out &&
	expect_grep "^bb +directory +[0-9.]+M +1  " out &&
	expect_grep "last: [0-9TZ:-]+ local/p job a #[0-9]+$" out
'

test_expect_success 'a name with a tag: image: node:20 as a pipeline written for containers has it' '
	cidre image add node:20 img >out &&
	expect_grep "^image node:20: directory " out &&
	new_repo tagged <<-\EOF &&
	a:
	  image: node:20
	  script: [ls /bin/busybox]
	b:
	  image:
	    name: node:20
	    entrypoint: [""]
	  script: [echo in b]
	EOF
	(cd tagged && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^a +\| /bin/busybox$" out &&
	expect_grep "^b +\| in b$" out &&
	cidre image ls >out &&
	expect_grep "^node:20 +directory +[0-9.]+M +2  " out &&
	for bad in node: :20 a:b:c a:.b "a b" a//b:1; do
		expect_exit 1 cidre image add "$bad" img 2>out &&
		expect_grep "bad image name" out || return 1
	done &&
	cidre image rm node:20 &&
	! cidre image ls | grep -q "^node:20 " &&
	new_repo registry <<-\EOF &&
	a:
	  image: registry.example.com/team/app:1.0
	  script: [echo never]
	EOF
	(cd registry && expect_exit 1 cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "root .*/registry.example.com/team/app:1.0 is missing \(nor is it a registered image: pull it with .cidre image pull registry.example.com/team/app:1.0., or register it with .cidre image add registry.example.com/team/app:1.0 ARCHIVE\|PATH., from .docker save registry.example.com/team/app:1.0. or a root filesystem\)" out &&
	expect_no_grep "never" out
'

test_expect_success 'a missing image is a clear error before the job starts' '
	new_repo m <<-\EOF &&
	j:
	  image: nosuch
	  script: [echo SHOULD-NOT-RUN]
	k:
	  image: /nonexistent/root
	  script: [echo SHOULD-NOT-RUN]
	EOF
	(cd m && expect_exit 1 cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^j +\| ERROR: Job failed: image: image \"nosuch\" is not registered in $SCRATCH/store \(register it with .cidre image add nosuch PATH\|TARBALL., or give a path\)" out &&
	expect_grep "^k +\| ERROR: Job failed: image: image \"/nonexistent/root\": root /nonexistent/root is missing" out &&
	expect_no_grep "^[jk] +\| SHOULD-NOT-RUN" out
'

test_expect_success 'an incomplete or corrupt image is a clear error before the job starts' '
	root=$(sed -n "s/.*\"root\": \"\(.*\)\".*/\1/p" store/names/bbt.json) &&
	rm "$root.ok" &&
	printf "{not json" >store/names/broken.json &&
	new_repo c <<-\EOF &&
	j:
	  image: bbt
	  script: [echo SHOULD-NOT-RUN]
	k:
	  image: broken
	  script: [echo SHOULD-NOT-RUN]
	EOF
	(cd c && expect_exit 1 cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^j +\| ERROR: Job failed: image: image \"bbt\": its root .* is incomplete or missing" out &&
	expect_grep "^k +\| ERROR: Job failed: image: image \"broken\": .*broken.json is corrupt" out &&
	expect_no_grep "^[jk] +\| SHOULD-NOT-RUN" out &&
	rm store/names/broken.json
'

test_expect_success 'tarballs with ../ members, absolute members, or links out are refused' '
	mk_tar dotdot.tar f:bin/sh f:../evil &&
	mk_tar abs.tar f:bin/sh f:/tmp/evil-abs-$$ &&
	mk_tar linkout.tar f:bin/sh d:etc l:etc/passwd:../../../etc/passwd &&
	mk_tar deep.tar f:bin/sh f:a/../../evil &&
	expect_exit 1 cidre image add x dotdot.tar 2>out &&
	expect_grep "tarball .*dotdot.tar refused: member \"../evil\" has a \"..\" component" out &&
	expect_exit 1 cidre image add x abs.tar 2>out &&
	expect_grep "refused: member \"/tmp/evil-abs-$$\" has an absolute path" out &&
	test ! -e /tmp/evil-abs-$$ &&
	expect_exit 1 cidre image add x linkout.tar 2>out &&
	expect_grep "refused: symbolic link \"etc/passwd\" -> \"../../../etc/passwd\" points outside the image" out &&
	expect_exit 1 cidre image add x deep.tar 2>out &&
	expect_grep "refused: member \"a/../../evil\"" out &&
	test ! -e "$SCRATCH/../evil" && test ! -e evil &&
	! cidre image ls | grep -q "^x " &&
	test -z "$(ls -A store/roots | grep tmp)"
'

test_expect_success 'a gzip tarball (decompressed once): refused alike; a cut one cannot be read' '
	mk_tar dd2.tar f:bin/sh f:../evil2 && gzip -9 dd2.tar &&
	expect_exit 1 cidre image add x dd2.tar.gz 2>out &&
	expect_grep "tarball .*dd2.tar.gz refused: member \"../evil2\" has a \"..\" component" out &&
	tar -C img -czf whole.tar.gz . && head -c 5000 whole.tar.gz >cut.tar.gz &&
	expect_exit 1 cidre image add y cut.tar.gz 2>out &&
	expect_grep "tarball .*cut.tar.gz cannot be read" out &&
	! cidre image ls | grep -q "^[xy] " &&
	test -z "$(ls -A store/roots | grep tmp)"
'

test_expect_success 'a gzip tarball is decompressed once, not once per tar run' '
	mkdir -p zbin &&
	printf "#!/bin/sh\necho \"gzip \$*\" >>$SCRATCH/z.log\nexec /bin/gzip \"\$@\"\n" >zbin/gzip &&
	printf "#!/bin/sh\necho \"pigz \$*\" >>$SCRATCH/z.log\nexec /bin/gzip \"\$@\"\n" >zbin/pigz &&
	chmod +x zbin/gzip zbin/pigz &&
	echo 1 >img/z1 && tar -C img -czf z1.tar.gz . &&
	echo 2 >img/z1 && tar -C img -czf z2.tar.gz . && rm img/z1 &&
	rm -f z.log &&
	PATH="$SCRATCH/zbin:$PATH" "$CIDRE_BIN" image add once z1.tar.gz >out &&
	expect_grep "^image once: tarball " out &&
	test "$(grep -c . z.log)" = 1 &&
	expect_grep "^pigz -dc -- $SCRATCH/z1.tar.gz$" z.log &&
	rm -f z.log zbin/pigz &&
	PATH="$SCRATCH/zbin:/usr/bin:/bin" "$CIDRE_BIN" image add once2 z2.tar.gz >out &&
	test "$(grep -c . z.log)" = 1 &&
	expect_grep "^gzip -dc -- $SCRATCH/z2.tar.gz$" z.log
'

test_expect_success 'an absolute link inside a tarball stays inside the image' '
	mkdir -p li/bin li/etc && cp "$BUSYBOX" li/bin/busybox && ln -s busybox li/bin/sh &&
	ln -s busybox li/bin/cat && echo inside >li/etc/motd && ln -s /etc/motd li/hello &&
	tar -C li -cf li.tar . &&
	cidre image add li li.tar >out &&
	new_repo al <<-\EOF &&
	j:
	  image: li
	  script: [cat /hello]
	EOF
	(cd al && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^j +\| inside$" out
'

test_expect_success 'a tarball named by path in image: is unpacked into the store' '
	new_repo tp <<-EOF &&
	j:
	  image: $SCRATCH/li.tar
	  script: [cat /hello]
	EOF
	(cd tp && cidre run --executor sandbox --color=never >../out 2>&1) &&
	expect_grep "^j +\| inside$" out
'

test_expect_success 'jobs starting together on a new tarball unpack it once' '
	tar -C li -czf li2.tar.gz . &&
	before=$(ls store/roots | grep -c "^[0-9a-f]*$") &&
	new_repo par <<-EOF &&
	a:
	  image: $SCRATCH/li2.tar.gz
	  script: [cat /hello]
	b:
	  image: $SCRATCH/li2.tar.gz
	  script: [cat /hello]
	c:
	  image: $SCRATCH/li2.tar.gz
	  script: [cat /hello]
	EOF
	(cd par && cidre run -j 3 --executor sandbox --color=never >../out 2>&1) &&
	test "$(grep -E -c "^[abc] +\| inside$" out)" = 3 &&
	test "$(ls store/roots | grep -c "^[0-9a-f]*$")" = $((before + 1)) &&
	test -z "$(ls -A store/roots | grep tmp)"
'

test_expect_success 'rm unregisters; an unpacked root is removed when no name uses it' '
	root=$(sed -n "s/.*\"root\": \"\(.*\)\".*/\1/p" store/names/li.json) &&
	test -d "$root" &&
	cidre image rm li &&
	test ! -d "$root" &&
	cidre image rm bb &&
	test -d img &&
	! cidre image ls | grep -q "^bb " &&
	expect_exit 1 cidre image rm bb 2>out &&
	expect_grep "image \"bb\" is not registered" out
'

test_expect_success 'bad names and paths are refused' '
	expect_exit 1 cidre image add "../x" img 2>out &&
	expect_grep "bad image name" out &&
	expect_exit 1 cidre image add y /nonexistent 2>out &&
	expect_grep "/nonexistent: No such file or directory" out &&
	mkdir noshell && expect_exit 1 cidre image add y noshell 2>out &&
	expect_grep "not an image: image root .*noshell has no shell" out
'

test_expect_success '--store and --data choose the store' '
	cidre image --data data add bb img >/dev/null &&
	test -f data/images/names/bb.json &&
	cidre image --store other add bb img >/dev/null &&
	test -f other/names/bb.json
'

test_done
