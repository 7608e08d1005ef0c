# cidre — GNU make + pkg-config. `make`, `make test`, `make asan`, `make fuzz`.

# Three binaries, each loading only what it needs (shared libraries cost
# start-up time and resident memory):
#   cidre         run, lint, the job supervisor,     libfyaml, jansson
#                 the client commands (own HTTP/1.1)
#   cidre-server  the server                         + sqlite3, libsodium, zlib
#   cidre-client  the client commands over libcurl   + libcurl
#                 (https://, host names; deliver)
# cidre execs the other two for their commands (src/cidre.c).
PKGS        := libfyaml jansson
SERVER_PKGS := sqlite3 libsodium zlib
CLIENT_PKGS := libcurl
NET_PKGS    := $(SERVER_PKGS) $(CLIENT_PKGS)
CC        ?= cc
CFLAGS    ?= -O2 -g
WARN      := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers -Wformat=2
CPPFLAGS  += -Isrc -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS) $(NET_PKGS))
LDLIBS    += $(shell pkg-config --libs $(PKGS)) -lpthread
SERVER_LIBS := $(shell pkg-config --libs $(SERVER_PKGS))
CLIENT_LIBS := $(shell pkg-config --libs $(CLIENT_PKGS))
NET_LIBS    := $(SERVER_LIBS) $(CLIENT_LIBS)
# each function in a section of its own: the server's link orders them by
# a profile (SERVER_LAYOUT below)
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -ffunction-sections

VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CPPFLAGS  += -DCIDRE_VERSION='"$(VERSION)"'

BUILD     ?= build

# Objects are compiled again when the command that compiles them changes
# (a flag, the compiler): $(BUILD)/.flags holds it, is rewritten only when
# it differs, and every object depends on it.
FLAGS_FILE := $(BUILD)/.flags
FLAGS_NOW  := $(CC) $(CPPFLAGS) $(ALL_CFLAGS)
ifneq ($(FLAGS_NOW),$(file <$(FLAGS_FILE)))
$(shell mkdir -p $(BUILD))
$(file >$(FLAGS_FILE),$(FLAGS_NOW))
endif
# what a job needs (the supervisor's part of src/server included); the
# in-process object reader (zlib) is the server's alone
SERVER_GIT := src/git/object.c
CORE_SRC  := $(filter-out $(SERVER_GIT), $(sort $(wildcard src/util/*.c src/pipeline/*.c \
			src/exec/*.c src/git/*.c src/sched/*.c) src/server/pctx.c src/server/supervisor.c \
			src/http/parse.c))
SERVER_SRC := $(filter-out $(CORE_SRC), $(sort $(wildcard src/store/*.c src/http/*.c \
			src/forge/*.c src/server/*.c src/web/*.c src/notify/*.c)) $(SERVER_GIT))
# libcurl's part of the client: cidre-client only
CURL_SRC  := src/client/curl.c src/client/pull.c
CLIENT_SRC := $(filter-out $(CURL_SRC), $(sort $(wildcard src/client/*.c)))
LIB_SRC   := $(CORE_SRC) $(SERVER_SRC) $(CLIENT_SRC) $(CURL_SRC)
CORE_CMD  := src/cmd/run.c src/cmd/lint.c src/cmd/job_exec.c src/cmd/image.c \
	     src/cmd/sandbox_init.c src/cmd/pool.c
SERVER_CMD := src/cmd/server.c
CURL_CMD  := src/cmd/deliver.c
CLIENT_CMD := $(filter-out $(CORE_CMD) $(SERVER_CMD) $(CURL_CMD), $(sort $(wildcard src/cmd/*.c)))
CMD_SRC   := $(sort $(wildcard src/cmd/*.c)) src/cidre.c
CORE_OBJ  := $(CORE_SRC:%.c=$(BUILD)/%.o) $(CORE_CMD:%.c=$(BUILD)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o) $(SERVER_CMD:%.c=$(BUILD)/%.o)
CLIENT_OBJ := $(CLIENT_SRC:%.c=$(BUILD)/%.o) $(CLIENT_CMD:%.c=$(BUILD)/%.o)
CURL_OBJ  := $(CURL_SRC:%.c=$(BUILD)/%.o) $(CURL_CMD:%.c=$(BUILD)/%.o)
# the web UI's templates and static files, embedded (scripts/embed.sh)
WEB_FILES := $(sort $(wildcard src/web/templates/* src/web/static/*))
WEB_OBJ   := $(BUILD)/gen/web_files.o
SERVER_OBJ += $(WEB_OBJ)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o) $(WEB_OBJ)
CMD_OBJ   := $(CMD_SRC:%.c=$(BUILD)/%.o)
# UNIT=tests/unit/t-load.c narrows `make unit` as E2E= narrows `make e2e`
UNIT      ?= $(sort $(wildcard tests/unit/t-*.c))
UNIT_BIN  := $(UNIT:%.c=$(BUILD)/%)

BIN       := $(BUILD)/cidre
NET_BIN   := $(BUILD)/cidre-server $(BUILD)/cidre-client

.PHONY: all clean test unit e2e asan test-asan fuzz fuzz-run lint-banned bench demo demo-run hot-layout

all: $(BIN) $(NET_BIN) cidre

cidre: $(BIN) $(NET_BIN)
	ln -sf $(BIN) cidre

# cidre is started for every job (job-exec): it is linked statically,
# glibc included, so that no dynamic linker runs at all (libfyaml and
# jansson ship their archives; cidre uses no name service and loads
# nothing): `cidre --version` 1.2 -> 0.8 ms, docs/benchmarks.md.
# Sanitizer builds cannot be static: there glibc stays shared.
ifeq ($(findstring sanitize,$(LDFLAGS)),)
CORE_STATIC_LIBS := -static $(shell pkg-config --libs $(PKGS)) -lpthread
else
CORE_STATIC_LIBS := -Wl,-Bstatic $(shell pkg-config --libs $(PKGS)) -Wl,-Bdynamic -lpthread
endif
$(BIN): $(CORE_OBJ) $(CLIENT_OBJ) $(BUILD)/src/cidre.o
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(CORE_STATIC_LIBS)

# the server runs for days and its idle memory is a goal (docs/benchmarks.md):
# it is linked statically, glibc included (each shared library costs
# relocated, dirty pages and page-cache pages mapped around every page
# touched: glibc alone was 0.9 MB of its 4.6 MB idle). It needs no name
# service (the listen address is numeric or localhost) and loads nothing.
# Sanitizer builds cannot be static: there SQLite, libsodium, zlib,
# libfyaml and jansson are static and glibc shared.
ifeq ($(findstring sanitize,$(LDFLAGS)),)
SERVER_STATIC_LIBS := -static $(shell pkg-config --static --libs $(SERVER_PKGS) $(PKGS)) -lm -lpthread
else
SERVER_STATIC_LIBS := -Wl,-Bstatic $(shell pkg-config --libs $(SERVER_PKGS) $(PKGS)) \
	-Wl,-Bdynamic -lm -lpthread
endif
# The server's code layout: the functions it runs, in the order it first
# runs them, at the front of its text (a linker script that `make
# hot-layout` writes from a profile): 1 MB less resident memory, idle and
# after a thousand jobs (docs/internals/build.md). Static links only.
SERVER_LAYOUT := $(if $(findstring sanitize,$(LDFLAGS)),,$(wildcard src/server/hot.ld))
# SQLite's modules the store never uses (full-text search, R-trees, the
# dbstat and sqlite_stmt tables): their registration at every open goes
# to src/store/sqlite_modules.c instead, and their code is not linked.
SQLITE_OMIT := $(foreach f,sqlite3Fts3Init sqlite3Fts5Init sqlite3RtreeInit \
	sqlite3DbstatRegister sqlite3StmtVtabInit,-Wl,--wrap=$(f))
# The linker's note that static SQLite refers to dlopen (its extension
# loading, which the store never enables) is dropped; any other message stays.
define link_server
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $(SERVER_LINK) $(SQLITE_OMIT) -o $@ $(filter %.o,$^) $(SERVER_STATIC_LIBS) 2>$@.ld || \
		{ cat $@.ld >&2; rm -f $@.ld; exit 1; }
	@grep -v -e "in function .unixDlOpen.:" -e "Using .dlopen. in statically linked" $@.ld >&2; \
		rm -f $@.ld
endef
$(BUILD)/cidre-server: SERVER_LINK = $(SERVER_LAYOUT:%=-Wl,-T,%)
$(BUILD)/cidre-server: $(CORE_OBJ) $(SERVER_OBJ) $(BUILD)/src/cidre-server.o $(SERVER_LAYOUT)
	$(link_server)

# the same without a layout, with the linker's map: what a profile is read
# against (scripts/hot-profile.sh)
$(BUILD)/cidre-server.plain: SERVER_LINK = -Wl,-Map=$@.map
$(BUILD)/cidre-server.plain: $(CORE_OBJ) $(SERVER_OBJ) $(BUILD)/src/cidre-server.o
	$(link_server)

# profile the server (valgrind's callgrind, perf if there) and write
# src/server/hot.ld again
hot-layout: $(BIN) $(BUILD)/cidre-server.plain
	scripts/hot-profile.sh $(BUILD)

$(BUILD)/cidre-client: $(CORE_OBJ) $(CLIENT_OBJ) $(CURL_OBJ) $(BUILD)/src/cidre-client.o
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS) $(LDLIBS)

# the same dispatcher, with the server's or the client's commands built in
$(BUILD)/src/cidre-server.o: src/cidre.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DCIDRE_WITH_SERVER $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/src/cidre-client.o: src/cidre.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DCIDRE_WITH_CLIENT $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/%.o: %.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/gen/web_files.c build-fuzz/gen/web_files.c: scripts/embed.sh $(WEB_FILES)
	@mkdir -p $(dir $@)
	sh scripts/embed.sh $@ $(WEB_FILES)

$(WEB_OBJ): $(BUILD)/gen/web_files.c $(FLAGS_FILE)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# Every unit test links the shared helpers in tests/unit/testlib.c.
UNIT_LIB  := $(BUILD)/tests/unit/testlib.o

$(BUILD)/tests/unit/%: tests/unit/%.c $(UNIT_LIB) $(LIB_OBJ) $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(UNIT_LIB) $(LIB_OBJ) $(NET_LIBS) $(LDLIBS) -lcmocka

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(BUILD)/src/cidre-server.d $(BUILD)/src/cidre-client.d

# Objects made on the way to a fuzzer or test are kept.
.SECONDARY: $(UNIT_LIB:.o=.d)

unit: $(UNIT_BIN)
	@CMOCKA_MESSAGE_OUTPUT=TAP prove --exec '' $(UNIT_BIN)

# Loopback receivers the e2e tests start (an HTTP sink, an SMTP sink).
TOOLS     := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))
$(BUILD)/tests/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

E2E ?= $(sort $(wildcard tests/e2e/t[0-9]*.sh))
# A failure's own words are repeated at the end (E2E_FAILURES, lib.sh):
# the end of the output is what a CI summary shows.
e2e: $(BIN) $(NET_BIN) $(TOOLS)
	@rm -f $(BUILD)/e2e-failures.txt
	@CIDRE_BIN=$(abspath $(BIN)) E2E_FAILURES=$(abspath $(BUILD))/e2e-failures.txt \
		prove -j2 --timer $(E2E) || { echo "--- what the failed tests printed (last lines each):"; \
		tail -n 40 $(BUILD)/e2e-failures.txt 2>/dev/null; exit 1; }

# The whole suite, then again under AddressSanitizer + UBSan (with leak
# checking), then the fuzzers for a bounded time.
test: all lint-banned
	$(MAKE) unit e2e
	$(MAKE) test-asan
	$(MAKE) fuzz-run

ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

asan:
	$(MAKE) BUILD=build-asan CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" build-asan/cidre build-asan/cidre-server build-asan/cidre-client

test-asan: asan
	$(MAKE) BUILD=build-asan CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 unit e2e

FUZZ_SECONDS ?= 10
FUZZ_TARGETS := $(patsubst fuzz/%.c,build-fuzz/bin/%,$(wildcard fuzz/fuzz-*.c))
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -fno-omit-frame-pointer -DCIDRE_FUZZING
FUZZ_OBJ     := $(LIB_SRC:%.c=build-fuzz/%.o) build-fuzz/gen/web_files.o
fuzz: $(FUZZ_TARGETS)

build-fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

build-fuzz/gen/web_files.o: build-fuzz/gen/web_files.c
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

build-fuzz/bin/%: fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJ) $(NET_LIBS) $(LDLIBS)

# every fuzzer for FUZZ_SECONDS, one per core at a time
fuzz-run: fuzz
	@scripts/fuzz-run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# curl's idea: functions with a history of buffer overflows stay out.
lint-banned:
	@! grep -nE '\b(sprintf|vsprintf|strcat|strncpy|strtok|gets)\s*\(' $(LIB_SRC) $(CMD_SRC) \
		|| { echo "banned function used (see docs/internals/style.md)"; exit 1; }

# The README's main command: a server with the demo repository, a push,
# and the pipeline as it runs (scripts/demo-server.sh).
demo: all
	scripts/demo-server.sh $(BUILD)

# The demo pipeline with cidre run, no server.
demo-run: all
	rm -rf $(BUILD)/demo-run && mkdir -p $(BUILD)/demo-run && cp -R examples/demo/. $(BUILD)/demo-run/
	cd $(BUILD)/demo-run && git init -q -b main && git add . && \
		git -c user.name='cidre demo' -c user.email=demo@cidre.invalid commit -q -m 'demo: greet'
	cd $(BUILD)/demo-run && $(abspath $(BIN)) run

# cidre run vs gitlab-ci-local (docs/benchmarks.md); setup is idempotent.
bench: $(BIN)
	bench/setup.sh
	CIDRE=$(abspath $(BIN)) bench/run.sh

clean:
	rm -rf build build-asan build-fuzz cidre
