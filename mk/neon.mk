# mk/neon.mk: the AArch64 (NEON) build of gnk, cross-compiled with clang and
# tested under qemu-user. Included by the top-level Makefile after
# generated/kernels.mk (which lists GNK_KERNEL_SRC_AARCH64: scalar + neon kernels).
#   make lib-aarch64    build/aarch64/libgnk.a: runtime + the scalar and NEON kernels
#   make test-neon      tests/cross/test_portable.c for aarch64, run under qemu-aarch64
#   make test-portable  the same test program, native (x86-64), on build/libgnk.a
# The cross toolchain is Debian's: clang's own aarch64 backend, lld, the arm64
# libc/libgcc of the -cross packages, and qemu-user-static; installed when missing.

# Included anywhere, this file leaves the including Makefile's default goal alone.
A64_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)
SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NEON_APT_PACKAGES := clang lld libc6-dev-arm64-cross libgcc-12-dev-arm64-cross qemu-user-static

A64 := build/aarch64
A64_OBJ := $(A64)/obj
A64_SYSROOT := /usr/aarch64-linux-gnu
# clang finds the arm64 headers, crt files and libgcc of the Debian -cross
# packages by itself from the target triple (no --sysroot: libc.so's absolute
# paths would then be looked up below it); GNU ld cannot link aarch64, lld can.
A64_CC := clang --target=aarch64-linux-gnu
A64_CFLAGS := -std=c11 -O2 -g -fPIC -D_GNU_SOURCE -Wall -Wextra -Werror \
  -Iruntime/include -Iruntime -Itemplates -Igenerated
A64_LDFLAGS := -fuse-ld=lld
A64_LDLIBS := -lm -lpthread
# qemu-aarch64 (qemu-user) when present, else qemu-aarch64-static; -L: where the arm64 ld.so and libc live.
QEMU_AARCH64 = $(shell command -v qemu-aarch64 2>/dev/null || echo qemu-aarch64-static) -L $(A64_SYSROOT)
# The makefile that included this one (sub-makes re-read it), and build in
# parallel unless the caller's make already runs a job server.
A64_MAKEFILE := $(firstword $(MAKEFILE_LIST))
A64_JOBS = $(if $(filter -j% --jobserver%,$(MAKEFLAGS)),,-j$(shell nproc 2>/dev/null || echo 2))

A64_RUNTIME_OBJ := $(patsubst %.c,$(A64_OBJ)/%.o,$(sort $(wildcard runtime/*.c)))
A64_KERNEL_OBJ := $(patsubst %.c,$(A64_OBJ)/%.o,$(GNK_KERNEL_SRC_AARCH64))
# Each ISA's kernels get that ISA's flags only (none for scalar and neon today).
$(patsubst %.c,$(A64_OBJ)/%.o,$(GNK_KERNELS_NEON)): A64_ISA_FLAGS := $(GNK_ISA_FLAGS_NEON)

.PHONY: neon-deps lib-aarch64 test-neon test-portable

neon-deps: $(A64)/.deps
$(A64)/.deps:
	@mkdir -p $(@D)
	@missing=""; for p in $(NEON_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; fi
	@touch $@

$(A64_OBJ)/runtime/%.o: runtime/%.c runtime/include/gnk.h runtime/include/gnk_half.h runtime/gnk_internal.h \
    runtime/gnk_kernel_abi.h generated/gnk_kernels.inc | $(A64)/.deps
	@mkdir -p $(@D)
	@echo "  CC [aarch64] $<"
	@$(A64_CC) $(A64_CFLAGS) -c $< -o $@

$(A64_OBJ)/generated/kernels/%.o: generated/kernels/%.c runtime/gnk_kernel_abi.h runtime/include/gnk_half.h \
    $(wildcard templates/isa/*.h) | $(A64)/.deps
	@mkdir -p $(@D)
	@echo "  CC [aarch64] $<"
	@$(A64_CC) $(A64_CFLAGS) -O3 $(A64_ISA_FLAGS) -c $< -o $@

$(A64)/libgnk.a: $(A64_RUNTIME_OBJ) $(A64_KERNEL_OBJ)
	@echo "  AR [aarch64] $@ ($(words $^) objects)"
	@rm -f $@ && ar rcs $@ $^

$(A64)/test-portable: tests/cross/test_portable.c tests/c/test_shapes.h $(A64)/libgnk.a runtime/include/gnk.h runtime/include/gnk_half.h
	$(A64_CC) $(A64_CFLAGS) $(A64_LDFLAGS) -o $@ tests/cross/test_portable.c $(A64)/libgnk.a $(A64_LDLIBS)

lib-aarch64: | $(A64)/.deps
	@$(MAKE) --no-print-directory -f $(A64_MAKEFILE) $(A64_JOBS) $(A64)/libgnk.a

test-neon: | $(A64)/.deps
	@$(MAKE) --no-print-directory -f $(A64_MAKEFILE) $(A64_JOBS) $(A64)/test-portable
	$(QEMU_AARCH64) $(A64)/test-portable

build/test-portable: tests/cross/test_portable.c tests/c/test_shapes.h build/libgnk.a runtime/include/gnk.h runtime/include/gnk_half.h
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -o $@ tests/cross/test_portable.c build/libgnk.a $(LDLIBS)

test-portable: build/test-portable
	./build/test-portable

.DEFAULT_GOAL := $(A64_SAVED_DEFAULT_GOAL)
