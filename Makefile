# Keel build. `make` builds ./keel-server; `make SANITIZE=1` builds an
# ASan+UBSan twin (./keel-server-san) in its own object directory, and
# `make SANITIZE=thread` a ThreadSanitizer one (./keel-server-tsan).
CC ?= cc
DEPS_OK := $(shell scripts/install-deps.sh --check >/dev/null 2>&1 && echo yes)

# Lua 5.1 with Debian's cjson and bitop modules (linked, opened from C).
LUA_CFLAGS := $(shell pkg-config --cflags lua5.1 2>/dev/null)
LUA_LIBS := $(shell pkg-config --libs lua5.1-cjson lua5.1-bitop lua5.1 2>/dev/null)

WARN := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
# Headers generated from files under src/ (the metrics dashboard page).
GEN := build/gen
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -g $(WARN) -Isrc -I$(GEN) $(LUA_CFLAGS) -MMD -MP
# libmicrohttpd serves the metrics endpoint (src/server/metrics.c).
LIBS := -lpthread -ldl -lm -lssl -lcrypto -llzf -lmicrohttpd -luring -lxxhash $(LUA_LIBS)

ifeq ($(SANITIZE),thread)
  # ThreadSanitizer: for the I/O, lazy-free, fsync and metrics threads.
  BUILD := build/tsan
  BIN := keel-server-tsan
  CFLAGS_MODE := -O1 -fsanitize=thread -fno-omit-frame-pointer -DKEEL_FREE_AT_EXIT
  LDFLAGS_MODE := -fsanitize=thread
else ifeq ($(SANITIZE),1)
  BUILD := build/san
  BIN := keel-server-san
  CFLAGS_MODE := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DKEEL_FREE_AT_EXIT
  LDFLAGS_MODE := -fsanitize=address,undefined
else
  BUILD := build/rel
  BIN := keel-server
  CFLAGS_MODE := -O2 -DKEEL_JEMALLOC
  LIBS += -ljemalloc
endif

CFLAGS := $(CFLAGS_COMMON) $(CFLAGS_MODE) $(EXTRA_CFLAGS)
SRCS := $(wildcard src/*/*.c)
OBJS := $(SRCS:src/%.c=$(BUILD)/%.o)
# Unit tests link the layers below the server (DESIGN: testable alone).
LIB_OBJS := $(filter $(BUILD)/base/% $(BUILD)/ds/% $(BUILD)/proto/% $(BUILD)/types/% $(BUILD)/db/% $(BUILD)/net/% $(BUILD)/repl/backlog.o $(BUILD)/server/metrics_format.o $(BUILD)/cmd/cmd_docs_syntax.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# Client-compatibility programs (tests/clients): linked with the client
# library they exercise, never with the server.
HIREDIS_BIN := $(BUILD)/tests/hiredis_patterns
# The lean load generator (bench/loadgen.c): bench-patterns drives the
# limiter rows with it, and the integration suite tests it.
LOADGEN_BIN := $(BUILD)/bench/loadgen
# The pattern examples (examples/): the C ones are built here, and `make
# examples` runs all of them against a fresh server (examples/run.py).
EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)
PYTHON := /usr/bin/python3

.PHONY: all deps run test unit integration integration-iothreads integration-epoll examples bench bench-patterns bench-evict bench-modules bench-defrag format format-check docs clean fuzz

all: deps $(BIN)

deps:
ifneq ($(DEPS_OK),yes)
	@scripts/install-deps.sh
endif

$(BIN): $(OBJS)
	$(CC) $(LDFLAGS_MODE) -o $@ $^ $(LIBS)

$(BUILD)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The dashboard page as a C string: each line quoted, with backslashes,
# quotes and question marks escaped (C11 would read "??x" as a trigraph).
$(GEN)/dashboard_html.h: src/server/dashboard.html
	@mkdir -p $(dir $@)
	{ echo '/* Generated from src/server/dashboard.html by the Makefile. */'; \
	  echo 'static const char dashboard_html[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/    "/' -e 's/$$/\\n"/' $<; \
	  echo '    ;'; } > $@.tmp && mv $@.tmp $@

$(BUILD)/server/metrics.o: $(GEN)/dashboard_html.h

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS_MODE) -o $@ $< $(LIB_OBJS) $(LIBS)

$(HIREDIS_BIN): tests/clients/hiredis_patterns.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS_MODE) -o $@ $< -lhiredis

$(BUILD)/examples/%: examples/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS_MODE) -o $@ $< -lhiredis

examples: all $(EXAMPLE_BINS)
	$(PYTHON) examples/run.py --server ./$(BIN) --bin-dir $(BUILD)/examples

run: all
	./$(BIN)

unit: all $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# Test processes at once. The suite's tests mostly wait on their servers, so
# four keep two cores busy; a sanitized server does far more work per test,
# so two.
TEST_JOBS ?= $(if $(SANITIZE),2,4)

integration: all $(HIREDIS_BIN) $(EXAMPLE_BINS) $(LOADGEN_BIN)
	KEEL_SERVER=$(CURDIR)/$(BIN) $(PYTHON) -m pytest -q -x -p no:cacheprovider -n $(TEST_JOBS) tests/integration

# The suite again with I/O threads engaged for every batch (a file list in
# IOTHREADS_TESTS narrows it, e.g. for the ThreadSanitizer build).
IOTHREADS_ARGS := --io-threads 3 --io-threads-do-reads yes --io-threads-min-clients 1
IOTHREADS_TESTS := tests/integration
integration-iothreads: all $(HIREDIS_BIN) $(EXAMPLE_BINS) $(LOADGEN_BIN)
	KEEL_SERVER=$(CURDIR)/$(BIN) KEEL_SERVER_ARGS="$(IOTHREADS_ARGS)" $(PYTHON) -m pytest -q -x -p no:cacheprovider -n $(TEST_JOBS) $(IOTHREADS_TESTS)

# The suite again with plain read and write calls instead of io_uring
# batches (the default where the kernel allows io_uring).
integration-epoll: all $(HIREDIS_BIN) $(EXAMPLE_BINS) $(LOADGEN_BIN)
	KEEL_SERVER=$(CURDIR)/$(BIN) KEEL_SERVER_ARGS="--io-backend epoll" $(PYTHON) -m pytest -q -x -p no:cacheprovider -n $(TEST_JOBS) tests/integration

test: unit integration

bench: all
	$(PYTHON) bench/run.py
	$(PYTHON) bench/observability.py
	$(PYTHON) bench/idempotency.py

# docs/PATTERNS.md's figures: rate limiters and lock cycles, Keel and Redis.
LOCKCYCLE_BIN := $(BUILD)/bench/lockcycle
$(LOCKCYCLE_BIN): bench/lockcycle.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< -lhiredis

$(LOADGEN_BIN): bench/loadgen.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

bench-patterns: all $(LOCKCYCLE_BIN) $(LOADGEN_BIN)
	$(PYTHON) bench/patterns.py ./$(BIN) $(LOCKCYCLE_BIN) $(LOADGEN_BIN)

# Eviction quality (hit rate against an ideal cache) under redis-cli
# --lru-test, Keel and Redis side by side: about 8 minutes, so opt-in.
bench-evict: all
	$(PYTHON) bench/lru_quality.py

# Module commands (the key API, Call, RediSearch), Keel and Redis side by
# side with the same modules loaded (figures in docs/BENCHMARKS.md).
bench-modules: all
	$(PYTHON) bench/modules.py

# Active defragmentation after churn, Keel beside Redis 7.0 (about a
# minute; not part of bench).
bench-defrag: all
	$(PYTHON) bench/defrag.py

docs: all
	$(PYTHON) scripts/gen_commands_md.py > docs/COMMANDS.md

# Fuzz targets (RESP parser with its inline form, Redis listpack, intset,
# the scripts' cmsgpack and struct codecs, RDB loader, AOF loader, RESTORE,
# config-file parser):
# libFuzzer with clang when available, else a standalone random-mutation
# driver under ASan+UBSan. `make fuzz` builds and runs each briefly over its
# seeds (tests/fuzz/corpus*): FUZZ_SECONDS each with libFuzzer; with the
# standalone driver FUZZ_ITERATIONS inputs each (the loader targets stop
# at FUZZ_SECONDS too).
FUZZ_SRCS := tests/fuzz/fuzz_resp_parse.c src/proto/resp_parse.c src/base/alloc.c src/base/str.c src/base/util.c
FUZZ_SECONDS ?= 20
HAVE_CLANG := $(shell command -v clang >/dev/null 2>&1 && echo yes)
FUZZ_LOADERS := build/fuzz/fuzz_rdb_load build/fuzz/fuzz_aof_load build/fuzz/fuzz_restore build/fuzz/fuzz_config
FUZZ_SMALL := build/fuzz/fuzz_intset build/fuzz/fuzz_lua_codecs
FUZZ_SMALL_OPTS = -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -artifact_prefix=$(CURDIR)/build/fuzz/

fuzz: build/fuzz/fuzz_resp_parse build/fuzz/fuzz_redis_listpack $(FUZZ_SMALL) $(FUZZ_LOADERS)
ifeq ($(HAVE_CLANG),yes)
	@mkdir -p build/fuzz/corpus build/fuzz/corpus_rlp build/fuzz/corpus_rdb build/fuzz/corpus_aof \
		build/fuzz/corpus_intset build/fuzz/corpus_lua build/fuzz/corpus_restore build/fuzz/corpus_config
	build/fuzz/fuzz_resp_parse -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build/fuzz/corpus tests/fuzz/corpus
	build/fuzz/fuzz_redis_listpack -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build/fuzz/corpus_rlp
	build/fuzz/fuzz_intset $(FUZZ_SMALL_OPTS) build/fuzz/corpus_intset tests/fuzz/corpus_intset
	build/fuzz/fuzz_lua_codecs $(FUZZ_SMALL_OPTS) build/fuzz/corpus_lua tests/fuzz/corpus_lua
	build/fuzz/fuzz_rdb_load $(FUZZ_LOADER_OPTS) build/fuzz/corpus_rdb tests/fuzz/corpus_rdb
	build/fuzz/fuzz_aof_load $(FUZZ_LOADER_OPTS) build/fuzz/corpus_aof tests/fuzz/corpus_aof
	build/fuzz/fuzz_restore $(FUZZ_LOADER_OPTS) build/fuzz/corpus_restore tests/fuzz/corpus_restore
	build/fuzz/fuzz_config $(FUZZ_LOADER_OPTS) build/fuzz/corpus_config tests/fuzz/corpus_config
else
	build/fuzz/fuzz_resp_parse tests/fuzz/corpus/*
	build/fuzz/fuzz_redis_listpack
	FUZZ_SECONDS=$(FUZZ_SECONDS) build/fuzz/fuzz_intset tests/fuzz/corpus_intset
	FUZZ_SECONDS=$(FUZZ_SECONDS) build/fuzz/fuzz_lua_codecs tests/fuzz/corpus_lua
	FUZZ_SECONDS=$(FUZZ_SECONDS) build/fuzz/fuzz_rdb_load tests/fuzz/corpus_rdb
	FUZZ_SECONDS=$(FUZZ_SECONDS) build/fuzz/fuzz_aof_load tests/fuzz/corpus_aof
	FUZZ_SECONDS=$(FUZZ_SECONDS) build/fuzz/fuzz_restore tests/fuzz/corpus_restore
	FUZZ_SECONDS=$(FUZZ_SECONDS) build/fuzz/fuzz_config tests/fuzz/corpus_config
endif

build/fuzz/fuzz_resp_parse: $(FUZZ_SRCS)
	@mkdir -p $(dir $@)
ifeq ($(HAVE_CLANG),yes)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_SRCS) -lm
else
	$(CC) -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -DFUZZ_STANDALONE -fsanitize=address,undefined -o $@ $(FUZZ_SRCS) -lm
endif

# Redis listpack validator/reader (RDB and DUMP payload bytes).
FUZZ_RLP_SRCS := tests/fuzz/fuzz_redis_listpack.c src/ds/redis_listpack.c src/base/alloc.c src/base/log.c src/base/log_syslog.c src/base/util.c

build/fuzz/fuzz_redis_listpack: $(FUZZ_RLP_SRCS)
	@mkdir -p $(dir $@)
ifeq ($(HAVE_CLANG),yes)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_RLP_SRCS) -lm
else
	$(CC) -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -DFUZZ_STANDALONE -fsanitize=address,undefined -o $@ $(FUZZ_RLP_SRCS) -lm
endif

# Intset blobs and Keel's intset (ds/ alone), and the scripts' cmsgpack and
# struct modules (with Lua only); both drive themselves with fuzz_main.h
# when clang is missing.
FUZZ_INTSET_SRCS := tests/fuzz/fuzz_intset.c src/ds/intset.c src/base/alloc.c src/base/log.c src/base/log_syslog.c src/base/util.c
FUZZ_LUA_SRCS := tests/fuzz/fuzz_lua_codecs.c src/script/cmsgpack.c src/script/struct.c
ifeq ($(HAVE_CLANG),yes)
  FUZZ_SMALL_CC := clang -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -Itests/fuzz -fsanitize=fuzzer,address,undefined
else
  FUZZ_SMALL_CC := $(CC) -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -Itests/fuzz -DFUZZ_STANDALONE -fsanitize=address,undefined
endif

build/fuzz/fuzz_intset: $(FUZZ_INTSET_SRCS) tests/fuzz/fuzz_main.h
	@mkdir -p $(dir $@)
	$(FUZZ_SMALL_CC) -o $@ $(FUZZ_INTSET_SRCS) -lm

build/fuzz/fuzz_lua_codecs: $(FUZZ_LUA_SRCS) tests/fuzz/fuzz_main.h
	@mkdir -p $(dir $@)
	$(FUZZ_SMALL_CC) $(LUA_CFLAGS) -o $@ $(FUZZ_LUA_SRCS) $(shell pkg-config --libs lua5.1 2>/dev/null) -lm

# The loader targets link the whole server (its own objects, built with the
# fuzzing flags; main.c with main renamed, since the driver has one) and
# tests/fuzz/fuzz_server.c. fuzz_aof_load includes aof.c itself.
ifeq ($(HAVE_CLANG),yes)
  FUZZ_CC := clang
  FUZZ_OBJ := build/fuzz/obj-clang
  FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
  FUZZ_SAN_CC := $(FUZZ_SAN) -fsanitize=fuzzer-no-link
  FUZZ_SAN_LD := $(FUZZ_SAN) -fsanitize=fuzzer
  FUZZ_DRIVER :=
else
  FUZZ_CC := $(CC)
  FUZZ_OBJ := build/fuzz/obj-cc
  FUZZ_SAN_CC := -fsanitize=address,undefined -fno-sanitize-recover=undefined
  FUZZ_SAN_LD := -fsanitize=address,undefined
  FUZZ_DRIVER := -DFUZZ_STANDALONE
endif
FUZZ_LOADER_OPTS = -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=30 -artifact_prefix=$(CURDIR)/build/fuzz/
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $(WARN) -Werror=incompatible-pointer-types -Isrc -I$(GEN) -Itests/fuzz $(LUA_CFLAGS) -MMD -MP
FUZZ_SRV_OBJS := $(SRCS:src/%.c=$(FUZZ_OBJ)/%.o)
FUZZ_LIBS := -lpthread -ldl -lm -lssl -lcrypto -llzf -lmicrohttpd -luring -lxxhash $(LUA_LIBS)

$(FUZZ_OBJ)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN_CC) -c -o $@ $<

$(FUZZ_OBJ)/server/metrics.o: $(GEN)/dashboard_html.h

$(FUZZ_OBJ)/server/main.o: src/server/main.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN_CC) -Dmain=keel_main -c -o $@ $<

$(FUZZ_OBJ)/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN_CC) $(FUZZ_DRIVER) -c -o $@ $<

build/fuzz/fuzz_rdb_load: $(FUZZ_OBJ)/fuzz/fuzz_rdb_load.o $(FUZZ_OBJ)/fuzz/fuzz_server.o $(FUZZ_SRV_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN_LD) -o $@ $^ $(FUZZ_LIBS)

build/fuzz/fuzz_restore: $(FUZZ_OBJ)/fuzz/fuzz_restore.o $(FUZZ_OBJ)/fuzz/fuzz_server.o $(FUZZ_SRV_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN_LD) -o $@ $^ $(FUZZ_LIBS)

build/fuzz/fuzz_config: $(FUZZ_OBJ)/fuzz/fuzz_config.o $(FUZZ_OBJ)/fuzz/fuzz_server.o $(FUZZ_SRV_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN_LD) -o $@ $^ $(FUZZ_LIBS)

build/fuzz/fuzz_aof_load: $(FUZZ_OBJ)/fuzz/fuzz_aof_load.o $(FUZZ_OBJ)/fuzz/fuzz_server.o \
		$(filter-out $(FUZZ_OBJ)/persist/aof.o,$(FUZZ_SRV_OBJS))
	$(FUZZ_CC) $(FUZZ_SAN_LD) -o $@ $^ $(FUZZ_LIBS)

format:
	clang-format -i src/*/*.c src/*/*.h tests/unit/*.c tests/clients/*.c tests/modules/*.c tests/fuzz/*.c tests/fuzz/*.h examples/*.c bench/*.c

format-check:
	clang-format --dry-run --Werror src/*/*.c src/*/*.h tests/unit/*.c tests/clients/*.c tests/modules/*.c tests/fuzz/*.c tests/fuzz/*.h examples/*.c bench/*.c

clean:
	rm -rf build keel-server keel-server-san

-include $(OBJS:.o=.d)
-include $(wildcard $(FUZZ_OBJ)/*/*.d)
