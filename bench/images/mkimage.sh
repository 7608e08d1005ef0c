# Sourced by bench/images/*.sh. start_bench_registry starts Debian's
# docker-registry on 127.0.0.1 (any port) with its storage in ./reg, its
# pid in REG_PID and its port in REG_PORT. mk_bench_image writes, in ./oci, the
# benchmarks' image as umoci makes it: two gzip layers, ~230 MB of this
# machine's files (Python's standard library and /usr/share/doc, then
# /usr/lib/python3 and the removal of /usr/share/doc/[a-c]* by
# whiteouts), tagged app, its config's Env A=b.
mk_bench_image() {
	umoci init --layout oci >/dev/null
	umoci new --image oci:base >/dev/null
	umoci unpack --rootless --image oci:base b >/dev/null
	local r=b/rootfs
	mkdir -p "$r/bin" "$r/usr/lib" "$r/usr/share"
	cp "$(command -v busybox)" "$r/bin/busybox"
	ln -s busybox "$r/bin/sh"
	cp -a /usr/lib/python3.11 "$r/usr/lib/"
	cp -a /usr/share/doc "$r/usr/share/"
	umoci repack --image oci:base b >/dev/null
	rm -rf b
	umoci unpack --rootless --image oci:base b >/dev/null
	cp -a /usr/lib/python3 "$r/usr/lib/"
	rm -rf "$r"/usr/share/doc/[a-c]*
	umoci repack --image oci:base b >/dev/null
	umoci config --image oci:base --tag app --config.env A=b >/dev/null
	rm -rf b
}

start_bench_registry() {
	cat >reg.yml <<-EOF
	version: 0.1
	log:
	  level: info
	storage:
	  filesystem:
	    rootdirectory: $PWD/reg
	http:
	  addr: 127.0.0.1:0
	EOF
	docker-registry serve reg.yml >reg.log 2>&1 &
	REG_PID=$!
	for i in $(seq 100); do
		grep -q "listening on 127.0.0.1:" reg.log && break
		sleep 0.1
	done
	REG_PORT=$(sed -n "s/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p" reg.log | head -n1)
}
