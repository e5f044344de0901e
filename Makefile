# Keel build. `make` builds ./keel-server; `make SANITIZE=1` builds an
# ASan+UBSan twin (./keel-server-san) in its own object directory.
CC ?= cc
DEPS_OK := $(shell scripts/install-deps.sh --check >/dev/null 2>&1 && echo yes)

# Lua 5.1 with Debian's cjson and bitop modules (linked, opened from C).
LUA_CFLAGS := $(shell pkg-config --cflags lua5.1 2>/dev/null)
LUA_LIBS := $(shell pkg-config --libs lua5.1-cjson lua5.1-bitop lua5.1 2>/dev/null)

WARN := -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -g $(WARN) -Isrc $(LUA_CFLAGS) -MMD -MP
LIBS := -lpthread -lm -lcrypto -llzf $(LUA_LIBS)

ifeq ($(SANITIZE),1)
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
LIB_OBJS := $(filter $(BUILD)/base/% $(BUILD)/ds/% $(BUILD)/proto/% $(BUILD)/types/% $(BUILD)/db/% $(BUILD)/net/%,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# Client-compatibility programs (tests/clients): linked with the client
# library they exercise, never with the server.
HIREDIS_BIN := $(BUILD)/tests/hiredis_patterns
PYTHON := /usr/bin/python3

.PHONY: all deps run test unit integration bench format format-check docs clean fuzz

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

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS_MODE) -o $@ $< $(LIB_OBJS) $(LIBS)

$(HIREDIS_BIN): tests/clients/hiredis_patterns.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS_MODE) -o $@ $< -lhiredis

run: all
	./$(BIN)

unit: all $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

integration: all $(HIREDIS_BIN)
	KEEL_SERVER=$(CURDIR)/$(BIN) $(PYTHON) -m pytest -q -x -p no:cacheprovider $(if $(SANITIZE),,-n 2) tests/integration

test: unit integration

bench: all
	$(PYTHON) bench/run.py

docs: all
	$(PYTHON) scripts/gen_commands_md.py > docs/COMMANDS.md

# Fuzz targets (RESP parser, Redis listpack): libFuzzer with clang when
# available, else a standalone random-mutation driver under ASan+UBSan.
# `make fuzz` builds and runs each briefly, the RESP one over
# tests/fuzz/corpus (FUZZ_SECONDS each / FUZZ_ITERATIONS).
FUZZ_SRCS := tests/fuzz/fuzz_resp_parse.c src/proto/resp_parse.c src/base/alloc.c src/base/str.c src/base/util.c
FUZZ_SECONDS ?= 20
HAVE_CLANG := $(shell command -v clang >/dev/null 2>&1 && echo yes)

fuzz: build/fuzz/fuzz_resp_parse build/fuzz/fuzz_redis_listpack
ifeq ($(HAVE_CLANG),yes)
	@mkdir -p build/fuzz/corpus build/fuzz/corpus_rlp
	build/fuzz/fuzz_resp_parse -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build/fuzz/corpus tests/fuzz/corpus
	build/fuzz/fuzz_redis_listpack -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build/fuzz/corpus_rlp
else
	build/fuzz/fuzz_resp_parse tests/fuzz/corpus/*
	build/fuzz/fuzz_redis_listpack
endif

build/fuzz/fuzz_resp_parse: $(FUZZ_SRCS)
	@mkdir -p $(dir $@)
ifeq ($(HAVE_CLANG),yes)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_SRCS)
else
	$(CC) -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -DFUZZ_STANDALONE -fsanitize=address,undefined -o $@ $(FUZZ_SRCS)
endif

# Redis listpack validator/reader (RDB and DUMP payload bytes).
FUZZ_RLP_SRCS := tests/fuzz/fuzz_redis_listpack.c src/ds/redis_listpack.c src/base/alloc.c src/base/log.c src/base/util.c

build/fuzz/fuzz_redis_listpack: $(FUZZ_RLP_SRCS)
	@mkdir -p $(dir $@)
ifeq ($(HAVE_CLANG),yes)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_RLP_SRCS) -lm
else
	$(CC) -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -DFUZZ_STANDALONE -fsanitize=address,undefined -o $@ $(FUZZ_RLP_SRCS) -lm
endif

format:
	clang-format -i src/*/*.c src/*/*.h tests/unit/*.c tests/clients/*.c

format-check:
	clang-format --dry-run --Werror src/*/*.c src/*/*.h tests/unit/*.c tests/clients/*.c

clean:
	rm -rf build keel-server keel-server-san

-include $(OBJS:.o=.d)
