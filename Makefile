# hotline — build, test, demo. Plain make; pkg-config finds the libraries.
#
#   make            build lib/libhotline.so and bin/hotline-dispatcher, bin/hotline-worker, bin/hotline
#   make test       build (also with ASan/UBSan) and run every test; last line "N passed, N failed"
#   make demo       run the 诸城市 demo: dispatcher, auto workers and a stream of calls
#   make bench      benchmarks (QUICK=1 for a short run)
#   make soak       100,000 tickets through their life, 20 workers, dispatcher restarts (SOAK_*)
#   make fuzz       each libFuzzer harness for FUZZ_SECONDS (default 60)
#   make valgrind   integration tests with the programs under valgrind (VALGRIND_TESTS)
#   make deps       install the Debian packages (as root)
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
O       ?= build/rel
SAN     ?=

DEB_PACKAGES := pkg-config libzmq3-dev libuv1-dev libcjson-dev libsqlite3-dev libcmocka-dev tzdata \
                clang libclang-rt-14-dev valgrind libhttp-parser-dev
PKGS         := libzmq libuv libcjson sqlite3

# Build dependencies: when one is missing, install it as root or say exactly what to run.
# http-parser ships no .pc file: its header says it is there.
HAVE_DEPS := $(shell pkg-config --exists $(PKGS) cmocka 2>/dev/null && test -e /usr/share/zoneinfo/Asia/Shanghai \
               && command -v clang >/dev/null && command -v valgrind >/dev/null && test -e /usr/include/http_parser.h && echo yes)
ifneq ($(HAVE_DEPS),yes)
ifneq ($(filter deps clean,$(MAKECMDGOALS)),)
else
$(info hotline: build dependencies are missing)
ifeq ($(shell id -u),0)
$(info hotline: installing: apt-get install -y $(DEB_PACKAGES))
DEPS_RC := $(shell (apt-get install -y --no-install-recommends $(DEB_PACKAGES) || (apt-get update && apt-get install -y --no-install-recommends $(DEB_PACKAGES))) >&2; echo $$?)
ifneq ($(DEPS_RC),0)
$(error apt-get failed; run: apt-get update && apt-get install -y $(DEB_PACKAGES))
endif
else
$(error run as root: apt-get update && apt-get install -y $(DEB_PACKAGES))
endif
endif
endif

ifeq ($(SAN),1)
O        := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT      := -O1 -g
else
SANFLAGS :=
OPT      ?= -O2 -g
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA     := $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-format-truncation \
            $(OPT) $(SANFLAGS) -Iinclude -I$(GEN) $(PKG_CFLAGS) -MMD -MP
LDFLAGS  += $(SANFLAGS)
LDLIBS   := $(PKG_LIBS) -lhttp_parser -lm

LIB_SRC   := $(wildcard protocol/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(O)/%.o)
DISP_SRC  := $(wildcard dispatcher/*.c)
DISP_OBJ  := $(DISP_SRC:%.c=$(O)/%.o)
DISP_LIB  := $(filter-out $(O)/dispatcher/main.o,$(DISP_OBJ))
WORK_SRC  := $(wildcard workers/*.c)
WORK_OBJ  := $(WORK_SRC:%.c=$(O)/%.o)
WORK_LIB  := $(filter-out $(O)/workers/main.o,$(WORK_OBJ))
CLI_SRC   := $(wildcard clients/*.c)
CLI_OBJ   := $(CLI_SRC:%.c=$(O)/%.o)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/unit/%)
INTEG_SRC := $(wildcard tests/integration/test_*.c)
INTEG_BIN := $(INTEG_SRC:tests/integration/%.c=$(O)/tests/integration/%)
HARNESS   := $(O)/tests/integration/harness.o
BENCH_SRC := $(wildcard bench/*.c)
BENCH_OBJ := $(BENCH_SRC:%.c=$(O)/%.o)
BENCH_BIN := $(O)/bench/hotline-bench

# Web pages compiled into the programs (protocol/embed.sh): the dashboard
# (dispatcher/web/) and the handheld page (workers/web/).
GEN             := build/gen
WEB_ASSETS      := $(sort $(wildcard dispatcher/web/*.html dispatcher/web/*.css dispatcher/web/*.js))
HANDHELD_ASSETS := $(sort $(wildcard workers/web/*.html workers/web/*.css workers/web/*.js))

SHLIB     := $(O)/lib/libhotline.so
# The release build also lands where the README points: bin/ and lib/.
BINS      := $(O)/bin/hotline-dispatcher $(O)/bin/hotline-worker $(O)/bin/hotline
RPATH     := -Wl,-rpath,'$$ORIGIN/../lib'

.PHONY: deps-browser
.PHONY: all deps test unit integration demo bench soak valgrind fuzz fuzz-build clean install check-config san
.DEFAULT_GOAL := all
.SECONDARY:

all: $(BINS) $(SHLIB)
ifeq ($(O),build/rel)
	@mkdir -p bin lib
	@cp -f $(SHLIB) lib/ && cp -f $(BINS) bin/
endif

deps:
	@if pkg-config --exists $(PKGS) cmocka && test -e /usr/share/zoneinfo/Asia/Shanghai && command -v clang >/dev/null && command -v valgrind >/dev/null \
	    && test -e /usr/include/http_parser.h; then \
	  echo "hotline: dependencies present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y --no-install-recommends $(DEB_PACKAGES) || \
	  (apt-get update && apt-get install -y --no-install-recommends $(DEB_PACKAGES)); \
	else echo "run as root: apt-get update && apt-get install -y $(DEB_PACKAGES)"; exit 1; fi

# The browser tests' own needs: Debian's chromium and a CJK font, and
# playwright-core from npm (tests/browser/run.sh installs them on demand too).
deps-browser:
	@if [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y --no-install-recommends chromium fonts-wqy-zenhei || \
	  (apt-get update && apt-get install -y --no-install-recommends chromium fonts-wqy-zenhei); \
	else echo "run as root: apt-get update && apt-get install -y chromium fonts-wqy-zenhei"; exit 1; fi
	cd tests/browser && npm ci --no-audit --no-fund

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -c $< -o $@

$(GEN)/web_assets.h: $(WEB_ASSETS) protocol/embed.sh
	@mkdir -p $(GEN)
	sh protocol/embed.sh web_assets $(WEB_ASSETS) >$@.tmp && mv $@.tmp $@

$(GEN)/handheld_assets.h: $(HANDHELD_ASSETS) protocol/embed.sh
	@mkdir -p $(GEN)
	sh protocol/embed.sh handheld_assets $(HANDHELD_ASSETS) >$@.tmp && mv $@.tmp $@

$(O)/dispatcher/web.o: $(GEN)/web_assets.h
$(O)/workers/http.o: $(GEN)/handheld_assets.h

$(SHLIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Programs link the library's objects statically: one file to copy, and the
# sanitizer build instruments everything. lib/libhotline.so serves other users.
$(O)/bin/hotline-dispatcher: $(DISP_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/bin/hotline-worker: $(WORK_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/bin/hotline: $(CLI_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/unit/%: tests/unit/%.c $(LIB_OBJ) $(DISP_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Idispatcher -o $@ $< $(DISP_LIB) $(LIB_OBJ) $(LDFLAGS) $(LDLIBS) $(CMOCKA)

# Unit tests of the worker's modules (test_worker_*) link its objects instead.
$(O)/tests/unit/test_worker_%: tests/unit/test_worker_%.c $(LIB_OBJ) $(WORK_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iworkers -o $@ $< $(WORK_LIB) $(LIB_OBJ) $(LDFLAGS) $(LDLIBS) $(CMOCKA)

$(O)/tests/integration/%: tests/integration/%.c $(HARNESS) $(LIB_OBJ) $(BINS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/integration -o $@ $< $(HARNESS) $(LIB_OBJ) $(LDFLAGS) $(LDLIBS) $(CMOCKA)

tests: $(UNIT_BIN) $(INTEG_BIN) $(BENCH_BIN)

# bench/: the driver links the dispatcher's objects (its bulk loader writes
# through the store module) and runs the real binaries.
$(O)/bench/%.o: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Idispatcher -c $< -o $@

$(BENCH_BIN): $(BENCH_OBJ) $(DISP_LIB) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpthread

# libFuzzer harnesses (clang): tests/fuzz/fuzz_*.c, built with ASan/UBSan.
# `make fuzz FUZZ_SECONDS=300` runs each for that long; `make test` runs each
# briefly over its seed corpus and kept regressions (tests/fuzz/regressions/).
FUZZ_CC      ?= clang
FUZZ_O       ?= build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -g -O1 -MMD -MP \
                -fsanitize=fuzzer-no-link,address,undefined -Iinclude -Idispatcher -I$(GEN) $(PKG_CFLAGS)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_O)/%.o) $(filter-out $(FUZZ_O)/dispatcher/main.o,$(DISP_SRC:%.c=$(FUZZ_O)/%.o))
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,$(FUZZ_O)/%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_O)/dispatcher/web.o: $(GEN)/web_assets.h

$(FUZZ_O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_O)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_BIN)

# make test: the release build and the ASan/UBSan build, every test of each.
test: all
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory SAN=1 all tests
	@$(MAKE) --no-print-directory fuzz-build
	@tests/run.sh build/rel build/san

unit: all
	@$(MAKE) --no-print-directory tests
	@TESTS_ONLY=unit tests/run.sh build/rel

integration: all
	@$(MAKE) --no-print-directory tests
	@TESTS_ONLY=integration tests/run.sh build/rel

san:
	@$(MAKE) --no-print-directory SAN=1 all tests

# The soak (tests/integration/test_soak.c, which make test runs with 2,000
# tickets): SOAK_TICKETS through their whole life with SOAK_WORKERS auto
# workers and SOAK_RESTARTS restarts of the dispatcher; prints the figures.
SOAK_TICKETS  ?= 100000
SOAK_WORKERS  ?= 20
SOAK_RESTARTS ?= 4
soak: all
	@$(MAKE) --no-print-directory $(O)/tests/integration/test_soak
	@mkdir -p tests/out
	@SOAK_TICKETS=$(SOAK_TICKETS) SOAK_WORKERS=$(SOAK_WORKERS) SOAK_RESTARTS=$(SOAK_RESTARTS) \
	  HOTLINE_BIN=$(CURDIR)/$(O)/bin HOTLINE_TEST_OUT=$(CURDIR)/tests/out CMOCKA_MESSAGE_OUTPUT=TAP \
	  $(O)/tests/integration/test_soak

# valgrind: integration tests with every hotline-* program under memcheck
# (HOTLINE_VALGRIND=1; see tests/integration/harness.h). make test runs
# test_valgrind this way; this runs a wider, representative set.
VALGRIND_TESTS ?= test_valgrind test_dispatcher_ops test_dispatcher_idem test_dispatcher_events \
                  test_dispatcher_input test_dispatcher_durable test_worker_offline test_console_watch
valgrind: all
	@$(MAKE) --no-print-directory tests
	@HOTLINE_VALGRIND=1 TESTS_ONLY=integration TEST_FILTER="$(VALGRIND_TESTS)" \
	  TEST_TIMEOUT=$${TEST_TIMEOUT:-1800} tests/run.sh build/rel

check-config: all
	bin/hotline-dispatcher -c config/zhucheng.json --check

demo: all
	@clients/demo.sh

# make bench: every benchmark against limits measured in the same run, one
# table (bench/README.md). QUICK=1: small counts, seconds (make test runs it).
bench: all $(BENCH_BIN)
	@$(BENCH_BIN) --bin $(O)/bin --dir var/bench$(if $(QUICK),-quick) $(if $(QUICK),--quick) $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf build bin lib tests/out

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/hotline \
	  $(DESTDIR)$(PREFIX)/share/hotline
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(SHLIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 include/hotline/*.h $(DESTDIR)$(PREFIX)/include/hotline/
	install -m 0644 config/*.json config/README.md $(DESTDIR)$(PREFIX)/share/hotline/

-include $(shell find build -name '*.d' 2>/dev/null)
