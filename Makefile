# gnk — GroupNorm kernel compiler.
#   make run    install what is missing, generate, build, tune and run the default workload
#   make test   install what is missing, check the generated code, build with -Werror, run all tests
#               (Criterion, ASan + UBSan, TSan, libFuzzer, pytest, framework parity, NEON under qemu)
#   make bench  side-by-side benchmark against memcpy, PyTorch and oneDNN (see bench/)
# Everything the commands need is installed by them: apt packages (when
# missing) and Python packages into .venv.

SHELL := /bin/bash
CC := clang
LUA := lua5.4
PY := .venv/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NPROC := $(shell nproc 2>/dev/null || echo 2)

APT_PACKAGES := clang lua5.4 libcriterion-dev pkg-config python3-venv python3-pip make
GEN_SPECS := specs/sd15_unet.spec specs/sd15_vae_decoder.spec specs/resnet50_gn.spec
DEFAULT_SPECS := specs/sd15_unet.spec,specs/sd15_vae_decoder.spec

CFLAGS_COMMON := -std=c11 -O2 -g -fPIC -D_GNU_SOURCE -Wall -Wextra -Werror \
  -Iruntime/include -Iruntime -Itemplates -Igenerated
CFLAGS ?=
LDLIBS := -lm -lpthread

# Build variants: build/ (release) and build/asan/ (AddressSanitizer + UBSan).
OBJ := build/obj

# Kernel sources per ISA, each with its own ISA_FLAGS (generated).
include generated/kernels.mk
# AArch64 (NEON) cross build, tested under qemu-user: lib-aarch64, test-neon.
include mk/neon.mk

RUNTIME_SRC := $(sort $(wildcard runtime/*.c))
KERNEL_SRC := $(GNK_KERNEL_SRC)
RUNTIME_OBJ := $(RUNTIME_SRC:%.c=$(OBJ)/%.o)
KERNEL_OBJ := $(KERNEL_SRC:%.c=$(OBJ)/%.o)

.PHONY: all run test deps venv gen check-gen lib test-gen test-c test-run test-asan test-tsan test-fuzz test-python test-parity test-neon bench clean
all: lib build/gnk-run

# ---------------------------------------------------------------- install
deps: build/.deps
build/.deps:
	@mkdir -p build
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi
	@# the sanitizer and libFuzzer runtimes (libclang-rt-<version>-dev, only recommended by clang)
	@v=$$($(CC) -dumpversion | cut -d. -f1); \
	if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return d && n; }' | \
	     $(CC) -fsanitize=fuzzer,address,undefined -x c - -o /dev/null 2>/dev/null || \
	   ! echo 'int main(void) { return 0; }' | $(CC) -fsanitize=thread -x c - -o /dev/null 2>/dev/null; then \
	  echo "installing: libclang-rt-$$v-dev (sanitizer and libFuzzer runtimes)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libclang-rt-$$v-dev; fi
	@touch $@

venv: .venv/.stamp
.venv/.stamp: requirements.txt | build/.deps
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

# ---------------------------------------------------------------- generator
gen: | build/.deps
	$(LUA) gen/gnk_gen.lua --out generated --default $(DEFAULT_SPECS) $(GEN_SPECS)

check-gen: | build/.deps
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	$(LUA) gen/gnk_gen.lua --out $$tmp --default $(DEFAULT_SPECS) $(GEN_SPECS) && \
	if diff -r $$tmp generated >/dev/null; then echo "check-gen: generated/ matches the generator"; \
	else diff -r $$tmp generated | head -20; echo "check-gen: generated/ differs from gen/ + templates/ (run make gen)"; exit 1; fi

# ---------------------------------------------------------------- library
lib: build/libgnk.so build/libgnk.a

$(OBJ)/runtime/%.o: runtime/%.c runtime/include/gnk.h runtime/gnk_internal.h runtime/gnk_kernel_abi.h generated/gnk_kernels.inc | build/.deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -c $< -o $@

# Each kernel is compiled with its own ISA's flags only (ISA_FLAGS, from kernels.mk).
$(OBJ)/generated/kernels/%.o: generated/kernels/%.c runtime/gnk_kernel_abi.h runtime/include/gnk_half.h $(wildcard templates/isa/*.h) | build/.deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -O3 $(ISA_FLAGS) -c $< -o $@

build/libgnk.so: $(RUNTIME_OBJ) $(KERNEL_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS)

build/libgnk.a: $(RUNTIME_OBJ) $(KERNEL_OBJ)
	rm -f $@ && ar rcs $@ $^

build/gnk-run: bench/gnk_run.c build/libgnk.a runtime/include/gnk.h generated/gnk_default_workload.inc
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -o $@ bench/gnk_run.c build/libgnk.a $(LDLIBS)

# One kernel's statistics and normalization phases timed apart (performance research).
build/phases: bench/phases.c build/libgnk.a runtime/gnk_internal.h
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -march=native -o $@ bench/phases.c build/libgnk.a $(LDLIBS)

# AVX-512 research tools, built with the AVX-512 kernels' flags (from the generator's ISA list):
# silu_cost, the SiLU's cost per 16 floats and its instructions' throughput; layout_model, each
# layout's memory traffic with the arithmetic stripped, next to memcpy.
build/silu_cost build/layout_model: build/%: bench/%.c templates/isa/gnk_vec_avx512.h templates/isa/gnk_vec_x4.h build/libgnk.a
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -O3 $(GNK_ISA_FLAGS_AVX512) -o $@ $< build/libgnk.a $(LDLIBS)
# silu_cost_avx2: the same for the AVX2 SiLU (8 floats a vector), with the AVX2 kernels' flags.
build/silu_cost_avx2: bench/silu_cost.c templates/isa/gnk_vec_avx2.h build/libgnk.a
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -O3 $(GNK_ISA_FLAGS_AVX2) -DSILU_COST_AVX2 -o $@ $< build/libgnk.a $(LDLIBS)

# Two builds of one kernel in one process (bench/kernel_ab.sh links it with both); make
# test compiles it alone, so that -Werror keeps it compiling.
build/kernel_ab.o: bench/kernel_ab.c runtime/gnk_internal.h runtime/gnk_kernel_abi.h | build/.deps
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -c -o $@ bench/kernel_ab.c

# The research tools are built (not run) by make test, so that -Werror keeps them compiling.
RESEARCH_TOOLS := build/phases build/overhead build/kernel_ab.o build/stream_model \
  $(if $(filter x86_64,$(shell uname -m)),build/silu_cost build/silu_cost_avx2 build/layout_model)

# One core's streaming rates, the parts of the roof (read, write, copy, memcpy, read-twice
# schedules; this machine's vectors).
build/stream_model: bench/stream_model.c | build/.deps
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -O3 -march=native -o $@ bench/stream_model.c

# Call overhead above the kernel (plan-cache lookup + validation), tiny problems.
build/overhead: bench/overhead.c build/libgnk.a runtime/gnk_internal.h
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -o $@ bench/overhead.c build/libgnk.a $(LDLIBS)

# ---------------------------------------------------------------- main job
SPEC ?=
LAYOUT ?= nchw
DTYPE ?= f32
THREADS ?= 1
run: | build/.deps
	$(MAKE) --no-print-directory -j$(NPROC) build/gnk-run
	./build/gnk-run --layout $(LAYOUT) --dtype $(DTYPE) --threads $(THREADS) $(SPEC)

# ---------------------------------------------------------------- tests
TEST_SRC := $(sort $(wildcard tests/c/*.c))
CRITERION_FLAGS := $(shell pkg-config --cflags criterion 2>/dev/null)
CRITERION_LIBS := $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

build/test-gnk: $(TEST_SRC) tests/c/test_util.h tests/c/test_shapes.h tests/c/test_desc.h build/libgnk.a
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(CRITERION_FLAGS) -o $@ $(TEST_SRC) build/libgnk.a $(CRITERION_LIBS) $(LDLIBS)

test-gen: | build/.deps
	$(LUA) tests/gen/test_template.lua

test-c: build/test-gnk
	./build/test-gnk --jobs 2

# The main job's binary on a three-problem spec, tuned and estimated, both
# layouts, 1 and 2 threads: it exits non-zero when a plan fails or an output
# misses its float64 reference.
test-run: build/gnk-run
	./build/gnk-run bench/testdata/smoke.spec
	./build/gnk-run --estimate --layout nhwc --threads 2 bench/testdata/smoke.spec

# The whole C suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
test-asan: | build/.deps
	$(MAKE) --no-print-directory -j$(NPROC) OBJ=build/asan/obj CFLAGS="$(ASAN_FLAGS) -O1" build/asan/test-gnk
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build/asan/test-gnk --jobs 2

build/asan/test-gnk: $(TEST_SRC) tests/c/test_util.h tests/c/test_shapes.h tests/c/test_desc.h $(RUNTIME_OBJ) $(KERNEL_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(CRITERION_FLAGS) -o $@ $(TEST_SRC) $(RUNTIME_OBJ) $(KERNEL_OBJ) $(CRITERION_LIBS) $(LDLIBS)

# The concurrency surfaces under ThreadSanitizer (tests/tsan/tsan_stress.c; Criterion's
# forking runner crashes under TSan): the runtime instrumented, the kernels (no shared
# state, disjoint slices of y) linked from the release build.
TSAN_OBJ := $(RUNTIME_SRC:%.c=build/tsan/obj/%.o)
build/tsan/obj/runtime/%.o: runtime/%.c runtime/include/gnk.h runtime/gnk_internal.h runtime/gnk_kernel_abi.h generated/gnk_kernels.inc | build/.deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -O1 -fsanitize=thread -c $< -o $@
build/tsan/tsan_stress: tests/tsan/tsan_stress.c tests/c/test_desc.h $(TSAN_OBJ) $(KERNEL_OBJ)
	@echo "  LD [tsan] $@ (runtime instrumented, $(words $(KERNEL_OBJ)) release kernel objects)"
	@$(CC) $(CFLAGS_COMMON) -O1 -fsanitize=thread -o $@ $< $(TSAN_OBJ) $(KERNEL_OBJ) $(LDLIBS)
# TSan needs its fixed memory layout: where the kernel's address randomization
# breaks it ("unexpected memory mapping"), rerun without randomization.
test-tsan: | build/.deps
	$(MAKE) --no-print-directory -j$(NPROC) build/tsan/tsan_stress
	@export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"; \
	if ! ./build/tsan/tsan_stress 2> build/tsan/stderr.log; then \
	  if grep -q "unexpected memory mapping" build/tsan/stderr.log; then \
	    echo "test-tsan: rerun without address randomization (setarch -R)"; setarch "$$(uname -m)" -R ./build/tsan/tsan_stress; \
	  else cat build/tsan/stderr.log; exit 1; fi; \
	fi

# libFuzzer over the wisdom parser and descriptor validation / planning /
# execution (tests/fuzz), with ASan + UBSan over the runtime (coverage-
# instrumented) and the kernels (test-asan's objects); tests/fuzz/run.sh runs
# each from its corpus with a fixed seed and number of mutations.
FUZZ_OBJ := $(RUNTIME_SRC:%.c=build/fuzz/obj/%.o)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
build/fuzz/obj/runtime/%.o: runtime/%.c runtime/include/gnk.h runtime/gnk_internal.h runtime/gnk_kernel_abi.h generated/gnk_kernels.inc | build/.deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@
build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ) $(KERNEL_OBJ)
	@echo "  LD [fuzz] $@ (runtime with coverage, $(words $(KERNEL_OBJ)) ASan kernel objects)"
	@$(CC) $(CFLAGS_COMMON) -O1 $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(KERNEL_OBJ) $(LDLIBS)
# (the objects of both are kept: make would delete them as intermediates)
.SECONDARY: $(TSAN_OBJ) $(FUZZ_OBJ)
test-fuzz: | build/.deps
	$(MAKE) --no-print-directory -j$(NPROC) OBJ=build/asan/obj CFLAGS="$(ASAN_FLAGS) -O1" build/fuzz/fuzz_wisdom build/fuzz/fuzz_desc
	tests/fuzz/run.sh

test-python: build/libgnk.so .venv/.stamp
	PYTHONPATH=python $(PY) -m pytest -q tests/python --ignore=tests/python/parity

# Framework parity against the real packages (torch, keras 3 + jax, tf-keras,
# mlx, onnxruntime + onnx reference): installed into .venv by mk/parity.mk.
include mk/parity.mk
test-parity: build/libgnk.so

test: | build/.deps
	$(MAKE) --no-print-directory check-gen
	$(MAKE) --no-print-directory test-gen
	$(MAKE) --no-print-directory -j$(NPROC) lib build/gnk-run build/test-gnk $(RESEARCH_TOOLS)
	$(MAKE) --no-print-directory test-c
	$(MAKE) --no-print-directory test-run
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-tsan
	$(MAKE) --no-print-directory test-fuzz
	$(MAKE) --no-print-directory test-python
	$(MAKE) --no-print-directory test-parity
	$(MAKE) --no-print-directory test-portable
	$(MAKE) --no-print-directory test-neon

# ---------------------------------------------------------------- benchmark
# Side-by-side benchmark (memcpy roof, gnk, gnk generic, PyTorch, oneDNN,
# ONNX Runtime); installs the peers into .venv on first use. Options pass
# through: SPECS=a.spec,b.spec LAYOUT=nchw|nhwc|both THREADS=1,2 REPS=N CLOCK=wall|cpu
bench: lib venv
	$(MAKE) --no-print-directory -f bench/bench.mk bench

clean:
	rm -rf build
