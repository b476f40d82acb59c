# Makefile for clvae: the library, the CLI, the tests, and the set-up steps.
#
#   make          build bin/clvae and build/libclvae.a
#   make deps     install the Debian packages clvae needs (only the missing ones)
#   make data     fetch and verify the datasets into data/ (tools/fetch_data.sh)
#   make check    deps + build + data + every test; ends with "N passed, M failed"
#   make demo     deps + data + build + the main job
#   make bench    the thesis VAE's training and sampling images/s, clvae beside PyTorch, their
#                 ratios, its slowest conv GEMM call as a fraction of a 1024^3's GFLOP/s
#                 (installs Debian's python3-torch through tools/deps.sh --torch)
#   make clean    remove build/ and bin/
#   make install PREFIX=/usr/local [DESTDIR=...]   bin/clvae, the example configs
#                 (share/clvae/models), the READMEs (share/doc/clvae), the man page clvae(1)
#                 generated from the help, bash completion; make uninstall removes them
#
# Reliability checks (README.md, "Reliability checks"):
#   make fuzz               each libFuzzer harness (tests/fuzz/) for FUZZ_SECONDS (default 120)
#   make check SANITIZE=1   library, CLI and tests built with ASan + UBSan into build/asan,
#                           then every test (see tools/run_tests.sh for leak checking)
#   make valgrind           memcheck on a 1-epoch training run and the host-side tests
#   make check-oclgrind     every kernel, the op tests (small shapes) and training steps under
#                           oclgrind --data-races --uninitialized --check-api (tools/check_oclgrind.sh)

CC       ?= cc
PKGS     := OpenCL clblast libpng zlib
BUILD    := build
BIN      := bin

# SANITIZE=1: AddressSanitizer + UBSan (UB is fatal), in a build folder of its own so the
# normal build is not mixed with it. pocl runs under ASan, so every test runs (tools/run_tests.sh:
# leak checking only for the host-side tests; pocl/LLVM leak and LSan crashes on pocl's threads).
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ifneq ($(filter 1 yes true,$(SANITIZE)),)
override BUILD := build/asan
override BIN   := build/asan/bin
CFLAGS ?= -O1 -g
MODE_CFLAGS := $(SAN_FLAGS)
endif

# FUZZING=1 (set by 'make fuzz-build' for its sub-make): the library and the harnesses in
# tests/fuzz/ built by clang with libFuzzer, ASan and UBSan, into build/fuzz.
FUZZ_CC    ?= clang
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 120
ifeq ($(FUZZING),1)
override BUILD := build/fuzz
override CC    := $(FUZZ_CC)
CFLAGS ?= -O1 -g
MODE_CFLAGS := $(FUZZ_FLAGS)
endif

# Open MPI (libopenmpi-dev, from make deps) for data-parallel training under mpirun; without it
# the build still works and a run started by mpirun says so (src/train/comm.c).
MPI_PKG := $(shell pkg-config --exists ompi-c 2>/dev/null && echo ompi-c)
ifneq ($(MPI_PKG),)
PKGS += $(MPI_PKG)
CPPFLAGS += -DCLVAE_HAVE_MPI
endif

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
# The sanitizer or fuzzer flags of the mode, last (and kept even when CFLAGS is given).
override CFLAGS += $(MODE_CFLAGS)

LIB_SRC  := $(filter-out src/cli/%,$(wildcard src/*/*.c))
CLI_SRC  := $(wildcard src/cli/*.c)
CL_SRC   := $(wildcard cl/*.cl)
TEST_SRC := $(wildcard tests/test_*.c)
REF_SRC  := $(wildcard tests/ref/*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/cl_sources.o
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# the tests' own objects: shared helpers and the plain-C references (not in the library)
TEST_OBJ := $(BUILD)/obj/tests/testutil.o $(REF_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libclvae.a

.PHONY: all deps data check test demo clean fuzz fuzz-build valgrind bench install uninstall \
        check-oclgrind
all: $(BIN)/clvae $(TEST_BIN) $(BUILD)/tests/oclgrind_faults

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

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(TEST_OBJ) $(LIB) $(LDLIBS)

# Plain OpenCL, no library: the two Oclgrind faults its quirk works around (tests/test_oclgrind.sh).
$(BUILD)/tests/oclgrind_faults: tests/oclgrind_faults.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDLIBS)

# Fuzz harnesses: tests/fuzz/fuzz_NAME.c linked with the library built the same way.
$(BUILD)/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# ---- install -------------------------------------------------------------
PREFIX  ?= /usr/local
DESTDIR ?=
I_BIN  := $(DESTDIR)$(PREFIX)/bin
I_DATA := $(DESTDIR)$(PREFIX)/share/clvae
I_DOC  := $(DESTDIR)$(PREFIX)/share/doc/clvae
I_MAN  := $(DESTDIR)$(PREFIX)/share/man/man1
I_COMP := $(DESTDIR)$(PREFIX)/share/bash-completion/completions

# The man page comes from the program's own help (tools/gen_man.sh), so it cannot drift.
$(BUILD)/clvae.1: $(BIN)/clvae tools/gen_man.sh
	@mkdir -p $(@D)
	tools/gen_man.sh $(BIN)/clvae > $@.tmp && mv $@.tmp $@

install: $(BIN)/clvae $(BUILD)/clvae.1
	install -d $(I_BIN) $(I_DATA)/models $(I_DOC) $(I_MAN) $(I_COMP)
	install -m 755 $(BIN)/clvae $(I_BIN)/clvae
	install -m 644 models/*.cfg $(I_DATA)/models/
	install -m 644 README.md $(I_DOC)/README.md
	install -m 644 models/README.md $(I_DOC)/models.md
	install -m 644 $(BUILD)/clvae.1 $(I_MAN)/clvae.1
	install -m 644 tools/clvae.bash $(I_COMP)/clvae

uninstall:
	rm -f $(I_BIN)/clvae $(I_MAN)/clvae.1 $(I_COMP)/clvae
	rm -rf $(I_DATA) $(I_DOC)

# ---- tests and demo ------------------------------------------------------
# The build runs in a sub-make so that pkg-config sees the packages that
# 'deps' has just installed. With SANITIZE=1 the tests run on the build/asan
# binaries; otherwise the fuzz harnesses run too, 20 s each (tools/run_tests.sh).
ifneq ($(filter 1 yes true,$(SANITIZE)),)
TEST_ENV := CLVAE_TEST_BUILD=$(BUILD) CLVAE=$(BIN)/clvae CLVAE_SANITIZE=1
TEST_DEPS := all
else
TEST_ENV :=
TEST_DEPS := all fuzz-build
endif

check: deps
	@$(MAKE) --no-print-directory $(TEST_DEPS)
	@tools/fetch_data.sh
	@$(TEST_ENV) tools/run_tests.sh

test: $(TEST_DEPS)
	@$(TEST_ENV) tools/run_tests.sh

fuzz-build:
	@$(MAKE) --no-print-directory FUZZING=1 $(FUZZ_NAMES:%=build/fuzz/fuzz_%)

# Each harness for FUZZ_SECONDS after replaying its regression inputs; new corpus entries
# go to build/fuzz/corpus/NAME, crashes to build/fuzz/artifacts/NAME/.
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@tools/fuzz.sh -t $(FUZZ_SECONDS) $(FUZZ_NAMES)

# Oclgrind's checks on every kernel (tools/check_oclgrind.sh); make check runs its quick part.
check-oclgrind: deps
	@$(MAKE) --no-print-directory all
	@tools/fetch_data.sh digits
	@tools/check_oclgrind.sh

# memcheck on a short training run and on the host-side tests (tools/valgrind.sh).
valgrind: all
	@tools/deps.sh valgrind
	@tools/fetch_data.sh digits
	@tools/valgrind.sh

# clvae bench on the thesis VAE (--gemm: each GEMM call of a training step and a 1024^3 timed),
# then the same model in PyTorch (Debian's build, for the system python3) on one thread and on
# all cores: images/s side by side, clvae / PyTorch, the slowest conv GEMM call against 1024^3.
BENCH_CFG ?= models/mnist_vae.cfg
TORCH_PYTHON ?= /usr/bin/python3
bench: deps
	@tools/deps.sh --torch
	@$(MAKE) --no-print-directory all
	@$(BIN)/clvae bench $(BENCH_CFG) --steps 20 --gemm --json > $(BUILD)/bench_clvae.json 2>/dev/null
	@$(TORCH_PYTHON) tools/torch_bench.py --steps 20 --compare $(BUILD)/bench_clvae.json

demo: deps data
	@$(MAKE) --no-print-directory all
	@tools/demo.sh

clean:
	rm -rf $(BUILD) $(BIN)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
