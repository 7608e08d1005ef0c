#!/bin/sh
# A job's artifacts as one ZIP archive: the two routes (a job's, the
# latest build's), what the archive holds (names, modes, stored data,
# UTF-8 names), its errors (expired, a blob gone, no credentials), a
# blob gone halfway; `cidre artifacts get` unpacking it in one request,
# refusing a tampered or cut archive, falling back for an older server;
# `--zip`; the web UI's links.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/lib-server.sh"

mkdir -p data &&
cat >data/config.yml <<'EOF'
artifacts:
  keep_latest: false
retention:
  interval: 1
  grace: 0
EOF
start_server data || { echo "Bail out! the server does not start"; exit 1; }
unset CIDRE_CONFIG XDG_CONFIG_HOME
export CIDRE_SERVER=$URL CIDRE_TOKEN=$TOKEN

# blob SHA: the content-addressed file of an artifact
blob() {
	echo "data/artifacts/$(echo "$1" | cut -c1-2)/$(echo "$1" | cut -c3-)"
}

# A loopback proxy to the server that logs each request line to
# proxy.log: "old" answers artifacts.zip as a server without the route
# does, "cut:N" passes only N bytes of an archive's response.
cat >proxy.py <<'PY'
import socket, sys, threading
up, portfile, log, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

def pipe(a, b, limit=None):
    n = 0
    try:
        while limit is None or n < limit:
            d = a.recv(65536 if limit is None else min(65536, limit - n))
            if not d:
                break
            b.sendall(d)
            n += len(d)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass

def handle(c):
    head = b""
    while b"\r\n\r\n" not in head:
        d = c.recv(65536)
        if not d:
            c.close()
            return
        head += d
    line = head.split(b"\r\n", 1)[0].decode()
    with open(log, "a") as f:
        f.write(line + "\n")
    zip_ = line.split()[1].split("?")[0].endswith("/artifacts.zip")
    if zip_ and mode == "old":
        body = b'{"error":"no such route","status":404}'
        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        c.close()
        return
    limit = int(mode[4:]) if zip_ and mode.startswith("cut:") else None
    u = socket.create_connection(("127.0.0.1", up))
    u.sendall(head)
    t = threading.Thread(target=pipe, args=(u, c, limit))
    t.start()
    pipe(c, u)
    t.join()
    c.close()
    u.close()

s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
PY

# proxy MODE: start one (its URL in $PROXY), the log emptied
proxy() {
	[ -f proxy.pid ] && kill "$(cat proxy.pid)" 2>/dev/null
	rm -f proxy.port proxy.log proxy.pid &&
	: >proxy.log &&
	{ python3 proxy.py "${URL##*:}" proxy.port proxy.log "$1" & echo $! >proxy.pid; } &&
	wait_for 10 test -s proxy.port &&
	PROXY=http://127.0.0.1:$(cat proxy.port)
}

# zipcheck ZIP LISTING.json [PATH...]: the archive holds exactly the listed
# files, in order, stored, made by Unix with their modes, UTF-8 flagged,
# intact; each CRC in its local header (no data descriptor: bit 3 clear)
# but for the PATHs given, which have a descriptor. Then the archive is
# walked by its local headers alone, as a streaming reader (Java's
# ZipInputStream) does, which takes a stored entry only with its sizes.
cat >zipcheck.py <<'PY'
import hashlib, json, struct, sys, zipfile, zlib
z = zipfile.ZipFile(sys.argv[1])
want = json.load(open(sys.argv[2]))
late = set(sys.argv[3:])
infos = z.infolist()
assert [i.filename for i in infos] == [a["path"] for a in want], [i.filename for i in infos]
for i, a in zip(infos, want):
    assert i.compress_type == zipfile.ZIP_STORED, i
    assert i.create_system == 3, i
    assert i.external_attr >> 16 == 0o100000 | a["mode"], (i.filename, oct(i.external_attr >> 16))
    assert i.flag_bits & 0x808 == (0x808 if i.filename in late else 0x800), (i.filename, i.flag_bits)
    assert i.file_size == a["size"], i
    assert hashlib.sha256(z.read(i)).hexdigest() == a["sha256"], i.filename
assert z.testzip() is None
d, p, n = open(sys.argv[1], "rb").read(), 0, 0
while d[p:p + 4] == b"PK\x03\x04":
    flags, crc, csize, size, nl, xl = struct.unpack("<6xH6xIIIHH", d[p:p + 30])
    name = d[p + 30:p + 30 + nl].decode()
    p += 30 + nl + xl
    if flags & 8:
        assert name in late, name
        size = z.getinfo(name).file_size
        crc = struct.unpack("<I", d[p + size + 4:p + size + 8])[0]
    assert zlib.crc32(d[p:p + size]) == crc, name
    p += size + (16 if flags & 8 else 0)
    n += 1
assert n == len(want) and d[p:p + 4] == b"PK\x01\x02", (n, d[p:p + 4])
PY

cat >pipeline.yml <<'YML'
build:
  script:
    - mkdir -p out/sub out/many
    - printf "data\n" >out/a.txt
    - printf "#!/bin/sh\necho tool\n" >out/sub/tool && chmod 755 out/sub/tool
    - ": >out/empty"
    - printf "spaced\n" >"out/with space.txt"
    - printf "caf\n" >"out/café.txt"
    - head -c 12000000 /dev/urandom >out/big.bin
    - for i in $(seq 1 300); do echo "$i" >"out/many/f$i"; done
  artifacts:
    paths: [out/]
short:
  script:
    - mkdir -p out && echo short >out/s.txt
  artifacts:
    paths: [out/]
    expire_in: 1 second
YML

test_expect_success 'set-up: a job with 306 artifacts, one of 12 MB' '
	bare_repo app <pipeline.yml &&
	cidre project add app --repo app.git >/dev/null &&
	id=$(cidre trigger app -q) &&
	wait_pipeline "$id" >done.json &&
	jq -e ".status == \"success\"" done.json &&
	jq -r ".jobs[] | select(.name == \"build\") | .id" done.json >build.id &&
	jq -r ".jobs[] | select(.name == \"short\") | .id" done.json >short.id &&
	curl -sS "$URL/api/v1/jobs/$(cat build.id)/artifacts" >listing.json &&
	jq -e "length == 306" listing.json
'

test_expect_success 'GET /jobs/ID/artifacts.zip: the listed files, stored, with modes' '
	build=$(cat build.id) &&
	curl -sS -D headers -o a.zip "$URL/api/v1/jobs/$build/artifacts.zip" &&
	expect_grep "^HTTP/1.1 200 " headers &&
	expect_grep "^Content-Type: application/zip" headers &&
	expect_grep "^Content-Disposition: attachment; filename=\"build-$build-artifacts.zip\"" headers &&
	expect_grep "^Content-Length: $(wc -c <a.zip)" headers &&
	python3 zipcheck.py a.zip listing.json &&
	if command -v unzip >/dev/null; then
		unzip -tq a.zip >out && expect_grep "^No errors detected" out &&
		unzip -Z a.zip >out &&
		expect_grep "^-rwxr-xr-x .* out/sub/tool$" out &&
		expect_grep "^-rw-r--r-- .* out/a.txt$" out
	fi
'

test_expect_success 'HEAD: the length alone' '
	build=$(cat build.id) &&
	curl -sS -I "$URL/api/v1/jobs/$build/artifacts.zip" >headers &&
	expect_grep "^Content-Length: $(wc -c <a.zip)" headers
'

test_expect_success 'the latest build: /projects/NAME/artifacts.zip?job=&ref=' '
	curl -sS -o latest.zip "$URL/api/v1/projects/app/artifacts.zip?job=build&ref=main" &&
	cmp latest.zip a.zip &&
	api GET "/api/v1/projects/app/artifacts.zip?job=nope" >e.json && expect_status 404 &&
	jq -e ".error | test(\"no successful job nope\")" e.json &&
	api GET "/api/v1/projects/app/artifacts.zip" >/dev/null && expect_status 400
'

test_expect_success 'a viewer may; nobody gets what the listing gives nobody' '
	build=$(cat build.id) &&
	api POST /api/v1/users "{\"login\":\"vera\",\"password\":\"vera-password-1\"}" >/dev/null &&
	expect_status 201 &&
	api PUT /api/v1/projects/app/members/vera "{\"role\":\"viewer\"}" >/dev/null &&
	expect_status 200 &&
	login_as vera &&
	command curl -sS -b vera.jar -o v.zip "$URL/api/v1/jobs/$build/artifacts.zip" &&
	cmp v.zip a.zip &&
	list=$(command curl -sS -o /dev/null -w "%{http_code}" "$URL/api/v1/jobs/$build/artifacts") &&
	zip=$(command curl -sS -o /dev/null -w "%{http_code}" "$URL/api/v1/jobs/$build/artifacts.zip") &&
	test "$list" = "$zip" && { test "$zip" = 401 || test "$zip" = 404; } &&
	code=$(command curl -sS -o /dev/null -w "%{http_code}" -H "Authorization: Bearer nope" \
		"$URL/api/v1/jobs/$build/artifacts.zip") &&
	test "$code" = 401
'

test_expect_success 'cidre artifacts get: one archive request, the same tree as file by file' '
	build=$(cat build.id) &&
	proxy pass &&
	CIDRE_SERVER=$PROXY cidre artifacts get "$build" -o got >out &&
	expect_grep "^job $build: 306 files \([0-9.]+ MB\) written to got$" out &&
	test "$(wc -l <proxy.log)" = 2 &&
	expect_grep "^GET /api/v1/jobs/$build/artifacts HTTP/1.1$" proxy.log &&
	expect_grep "^GET /api/v1/jobs/$build/artifacts.zip HTTP/1.1$" proxy.log &&
	cidre artifacts get "$build" out/ -o perfile >/dev/null &&
	diff -r got perfile &&
	(cd got && find . -printf "%m %p\n" | sort) >modes.got &&
	(cd perfile && find . -printf "%m %p\n" | sort) >modes.perfile &&
	test_cmp_modes=$(diff modes.got modes.perfile) && test -z "$test_cmp_modes" &&
	expect_grep "^755 ./out/sub/tool$" modes.got &&
	expect_grep "^644 ./out/a.txt$" modes.got &&
	test "$(cat "got/out/with space.txt")" = spaced &&
	test "$(cat "got/out/café.txt")" = caf &&
	test -z "$(find got perfile -name "*.cidre-*")"
'

test_expect_success 'get --zip FILE and --zip -: the archive as sent' '
	build=$(cat build.id) &&
	cidre artifacts get "$build" --zip saved.zip >out &&
	expect_grep "^job $build: artifacts archive \([0-9.]+ MB\) written to saved.zip$" out &&
	cmp saved.zip a.zip &&
	cidre artifacts get "$build" -z - >stdout.zip &&
	cmp stdout.zip a.zip &&
	python3 zipcheck.py stdout.zip listing.json &&
	cidre artifacts get -p app -j build --zip latest2.zip >/dev/null &&
	cmp latest2.zip a.zip &&
	expect_exit 2 cidre artifacts get "$build" out/a.txt --zip x.zip 2>err &&
	expect_grep "zip takes the whole archive" err &&
	expect_exit 2 cidre artifacts list "$build" --zip x.zip 2>err &&
	test ! -e x.zip
'

test_expect_success 'an older server (no archive route): get falls back to file by file' '
	build=$(cat build.id) &&
	proxy old &&
	CIDRE_SERVER=$PROXY cidre artifacts get "$build" -o old >out &&
	expect_grep "^job $build: 306 files" out &&
	diff -r old got &&
	test "$(wc -l <proxy.log)" = 308 &&
	CIDRE_SERVER=$PROXY expect_exit 1 cidre artifacts get "$build" --zip o.zip 2>err &&
	expect_grep "sends no archives" err &&
	test ! -e o.zip && test -z "$(ls | grep cidre-)"
'

test_expect_success 'an archive cut on the way: an error naming the entry, no partial file' '
	build=$(cat build.id) &&
	proxy cut:2000000 &&
	CIDRE_SERVER=$PROXY expect_exit 1 cidre artifacts get "$build" -o cut >out 2>err &&
	expect_grep "^cidre: out/big.bin: the archive was cut: " err &&
	test "$(cat cut/out/a.txt)" = data &&
	test ! -e cut/out/big.bin &&
	test -z "$(find cut -name "*.cidre-*")" &&
	CIDRE_SERVER=$PROXY expect_exit 1 cidre artifacts get "$build" --zip cut.zip 2>err &&
	expect_grep "the archive was cut" err &&
	test ! -e cut.zip && test -z "$(ls | grep cidre-)"
'

test_expect_success 'a tampered blob: the server cuts the archive there, get keeps no file of it' '
	build=$(cat build.id) &&
	sha=$(jq -r ".[] | select(.path == \"out/with space.txt\") | .sha256" listing.json) &&
	cp "$(blob "$sha")" blob.bak &&
	printf X | dd of="$(blob "$sha")" bs=1 seek=0 conv=notrunc 2>/dev/null &&
	expect_exit 1 cidre artifacts get "$build" -o bad >out 2>err &&
	expect_grep "^cidre: out/with space.txt: SHA-256 [0-9a-f]{64}, the listing says $sha$" err &&
	expect_grep "the archive was cut" err &&
	expect_grep "^job $build: 305 files" out &&
	wait_for 10 grep -q "artifacts.zip of job $build cut at out/with space.txt: its file is damaged in the store (CRC-32 [0-9a-f]*, recorded [0-9a-f]*)" data.log &&
	test ! -e "bad/out/with space.txt" &&
	test "$(cat bad/out/a.txt)" = data &&
	test -z "$(find bad -name "*.cidre-*")" &&
	! curl -sS -o /dev/null "$URL/api/v1/jobs/$build/artifacts.zip" &&
	# one file alone is sent as it is: the client checks it
	expect_exit 1 cidre artifacts get "$build" "out/with space.txt" -o bad1 >out 2>err &&
	expect_grep "^cidre: out/with space.txt: SHA-256 [0-9a-f]{64}, the listing says $sha$" err &&
	test ! -e "bad1/out/with space.txt" &&
	test -z "$(find bad1 -name "*.cidre-*" 2>/dev/null)" &&
	cp blob.bak "$(blob "$sha")"
'

test_expect_success 'a blob gone before the first byte: 410, as for one file' '
	build=$(cat build.id) &&
	sha=$(jq -r ".[] | select(.path == \"out/sub/tool\") | .sha256" listing.json) &&
	mv "$(blob "$sha")" tool.bak &&
	api GET "/api/v1/jobs/$build/artifacts.zip" >e.json && expect_status 410 &&
	jq -e ".error == \"the file of artifact out/sub/tool is gone from the store\"" e.json &&
	api GET "/api/v1/jobs/$build/artifacts/out/sub/tool" >e1.json && expect_status 410 &&
	test "$(jq .error e.json)" = "$(jq .error e1.json)" &&
	expect_exit 1 cidre artifacts get "$build" -o gone 2>err &&
	expect_grep "is gone from the store" err &&
	mv tool.bak "$(blob "$sha")"
'

test_expect_success 'a blob gone halfway: the response is cut, and the server says so' '
	build=$(cat build.id) &&
	sha=$(jq -r ".[] | select(.path == \"out/with space.txt\") | .sha256" listing.json) &&
	cat >halfway.py <<-\PY &&
	import os, socket, sys
	port, path, blob = int(sys.argv[1]), sys.argv[2], sys.argv[3]
	s = socket.socket()
	s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
	s.connect(("127.0.0.1", port))
	s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n\r\n"
	           % (path, os.environ["TOKEN"])).encode())
	got = b""
	while b"\r\n\r\n" not in got:
	    got += s.recv(4096)
	head, body = got.split(b"\r\n\r\n", 1)
	length = int([l.split(b":")[1] for l in head.split(b"\r\n")
	              if l.lower().startswith(b"content-length:")][0])
	# the server is held in the 12 MB entry: the last one goes now
	os.rename(blob, blob + ".away")
	n = len(body)
	while True:
	    d = s.recv(1 << 20)
	    if not d:
	        break
	    n += len(d)
	os.rename(blob + ".away", blob)
	print(n, length)
	sys.exit(0 if n < length else 1)
	PY
	TOKEN=$TOKEN python3 halfway.py "${URL##*:}" "/api/v1/jobs/$build/artifacts.zip" \
		"$(blob "$sha")" &&
	wait_for 10 grep -q "artifacts.zip of job $build cut at out/with space.txt: its file is gone" \
		data.log &&
	curl -sS -o again.zip "$URL/api/v1/jobs/$build/artifacts.zip" && cmp again.zip a.zip
'

# art_crc JOB PATH: the CRC-32 the store keeps for it ("": none); set_crc JOB PATH VALUE
art_crc() {
	sqlite3 data/cidre.db "SELECT crc32 FROM artifacts WHERE job_id = $1 AND path = '$2'"
}
set_crc() {
	sqlite3 data/cidre.db "UPDATE artifacts SET crc32 = $3 WHERE job_id = $1 AND path = '$2'"
}

test_expect_success 'an artifact stored before CRCs were kept: checked by its SHA-256, its CRC after its data, then learnt' '
	build=$(cat build.id) &&
	crc=$(art_crc "$build" out/a.txt) &&
	test "$crc" = "$(printf "data\n" | python3 -c "import sys, zlib; print(zlib.crc32(sys.stdin.buffer.read()))")" &&
	set_crc "$build" out/a.txt NULL &&
	# no CRC kept: a damaged file is found by its SHA-256
	asha=$(jq -r ".[] | select(.path == \"out/a.txt\") | .sha256" listing.json) &&
	cp "$(blob "$asha")" a.bak &&
	printf Y | dd of="$(blob "$asha")" bs=1 seek=0 conv=notrunc 2>/dev/null &&
	! curl -sS -o /dev/null "$URL/api/v1/jobs/$build/artifacts.zip" &&
	wait_for 10 grep -q "artifacts.zip of job $build cut at out/a.txt: its file is damaged in the store (SHA-256 [0-9a-f]*, recorded $asha)" data.log &&
	test "$(art_crc "$build" out/a.txt)" = "" &&
	cp a.bak "$(blob "$asha")" &&
	# whole again: a descriptor after its data, then its CRC learnt for the next
	curl -sS -o old.zip "$URL/api/v1/jobs/$build/artifacts.zip" &&
	python3 zipcheck.py old.zip listing.json out/a.txt &&
	test $(($(wc -c <old.zip) - $(wc -c <a.zip))) = 16 &&
	test "$(art_crc "$build" out/a.txt)" = "$crc" &&
	curl -sS -o again.zip "$URL/api/v1/jobs/$build/artifacts.zip" && cmp again.zip a.zip &&
	cidre artifacts get "$build" -o old >out &&
	test "$(cat old/out/a.txt)" = data
'

# A directory on a 4 MiB file system of the test's own (root only: the CI
# runs as root): the 12 MB file does not fit, the 305 others do.
if [ "$(id -u)" = 0 ] && mkdir -p small && mount -t tmpfs -o size=4m cidre-test-small small 2>/dev/null; then
	TEST_CLEANUP="${TEST_CLEANUP:-:}; umount -l '$SCRATCH/small' 2>/dev/null"
	test_expect_success 'a full disk where get writes: that file reported, the others written' '
		build=$(cat build.id) &&
		expect_exit 1 cidre artifacts get "$build" -o small/x >out 2>err &&
		expect_grep "^cidre: cannot write small/x/out/big.bin.cidre-[A-Za-z0-9]*: No space left on device$" err &&
		expect_grep "^job $build: 305 files" out &&
		test ! -e small/x/out/big.bin &&
		test "$(cat "small/x/out/with space.txt")" = spaced &&
		test "$(ls small/x/out/many | wc -l)" = 300 &&
		test -z "$(find small -name "*.cidre-*")"
	'
fi

# gone JOB: its artifacts listing answers 410
gone() {
	api GET "/api/v1/jobs/$1/artifacts" >/dev/null && test "$(cat "$STATUS_FILE")" = 410
}

test_expect_success 'expired artifacts: 410 with the listing'"'"'s message' '
	short=$(cat short.id) &&
	wait_for 15 gone "$short" &&
	api GET "/api/v1/jobs/$short/artifacts" >l.json && expect_status 410 &&
	api GET "/api/v1/jobs/$short/artifacts.zip" >z.json && expect_status 410 &&
	test "$(jq .error z.json)" = "$(jq .error l.json)" &&
	jq -e ".error | test(\"expired at\")" z.json &&
	expect_exit 1 cidre artifacts get "$short" -o exp 2>err &&
	expect_grep "expired at" err
'

test_expect_success 'the web UI: "Download all (.zip)" on the job page and the folder page' '
	build=$(cat build.id) &&
	test "$(page vera /jobs/$build)" = 200 &&
	expect_grep "<a class=\"muted\" href=\"/api/v1/jobs/$build/artifacts.zip\" download>Download all \(.zip\)</a>" page.html &&
	test "$(page vera /jobs/$build/artifacts/out/)" = 200 &&
	expect_grep "<a class=\"muted\" href=\"/api/v1/jobs/$build/artifacts.zip\" download>Download all \(.zip\)</a>" page.html &&
	short=$(cat short.id) &&
	test "$(page vera /jobs/$short)" = 200 &&
	expect_no_grep "artifacts.zip" page.html
'

test_done
