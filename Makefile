# Makefile for clvae: the library, the CLI, the tests, and the set-up steps.
#
#   make          build bin/clvae and build/libclvae.a
#   make deps     install the Debian packages clvae needs (only the missing ones)
#   make data     fetch and verify the datasets into data/ (tools/fetch_data.sh)
#   make check    deps + build + data + every test; ends with "N passed, M failed"
#   make demo     deps + data + build + the main job
#   make clean    remove build/ and bin/

CC       ?= cc
PKGS     := OpenCL clblast libpng zlib
BUILD    := build
BIN      := bin

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Wshadow -MMD -MP
CPPFLAGS += -Iinclude -Isrc -I$(BUILD)/gen -DCL_TARGET_OPENCL_VERSION=120 \
            -D_POSIX_C_SOURCE=200809L $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lm

# -Werror in CI (CI=true is set there) or on request (WERROR=1).
ifneq ($(filter true 1,$(CI) $(WERROR)),)
CFLAGS += -Werror
endif

LIB_SRC  := $(wildcard src/*.c)
CLI_SRC  := $(wildcard src/cli/*.c)
CL_SRC   := $(wildcard cl/*.cl)
TEST_SRC := $(wildcard tests/test_*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/cl_sources.o
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
LIB      := $(BUILD)/libclvae.a

.PHONY: all deps data check test demo clean
all: $(BIN)/clvae $(TEST_BIN)

# ---- set-up --------------------------------------------------------------
deps:
	@tools/deps.sh

data:
	@tools/fetch_data.sh

# ---- build ---------------------------------------------------------------
$(BUILD)/clembed: tools/clembed.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -O1 -Wall -Wextra -o $@ $<

# Kernel sources are embedded into the library; CLVAE_KERNEL_DIR=cl reads them
# from disk instead.
$(BUILD)/gen/cl_sources.c: $(CL_SRC) $(BUILD)/clembed
	@mkdir -p $(@D)
	$(BUILD)/clembed $@ $(CL_SRC)

$(BUILD)/obj/gen/cl_sources.o: $(BUILD)/gen/cl_sources.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN)/clvae: $(CLI_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/obj/tests/testutil.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/obj/tests/testutil.o $(LIB) $(LDLIBS)

# ---- tests and demo ------------------------------------------------------
# The build runs in a sub-make so that pkg-config sees the packages that
# 'deps' has just installed.
check: deps
	@$(MAKE) --no-print-directory all
	@tools/fetch_data.sh
	@tools/run_tests.sh

test: all
	@tools/run_tests.sh

demo: deps data
	@$(MAKE) --no-print-directory all
	@tools/demo.sh

clean:
	rm -rf $(BUILD) $(BIN)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
