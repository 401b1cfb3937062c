# Benchmark build, run from the repository root:
#   make -f bench/bench.mk bench [SPECS=a.spec,b.spec] [LAYOUT=both] [THREADS=1,2] [REPS=..]
#   (default SPECS: SD 1.5 UNet, SD 1.5 VAE decoder, ResNet-50-GN; ~10 minutes)
#                                [CLOCK=wall|cpu]  (cpu: process CPU time, THREADS=1 only)
#   make -f bench/bench.mk bench-lib       build/libgnkbench.so only
#   make -f bench/bench.mk bench-peers     install PyTorch, oneDNN, ONNX Runtime, matplotlib into $(VENV)
#   make -f bench/bench.mk bench-smoke     a few-second run of bench/testdata/smoke.spec
# Needs build/libgnk.so (the top-level `make lib`).
ifeq ($(origin CC),default)
CC := clang
endif
VENV ?= .venv
PY := $(VENV)/bin/python
SPECS ?= specs/sd15_unet.spec,specs/sd15_vae_decoder.spec,specs/resnet50_gn.spec
LAYOUT ?= both
THREADS ?= 1,2
REPS ?=
CLOCK ?= wall
BENCH_ARGS ?=

BENCH_SRC := bench/bench_core.c bench/bench_gnk.c bench/bench_onednn.c
BENCH_HDR := bench/gnk_bench.h bench/bench_internal.h
PEERS_STAMP := $(VENV)/.gnk-bench-peers

.PHONY: bench bench-lib bench-peers bench-smoke
bench-peers: $(PEERS_STAMP)
$(PEERS_STAMP): bench/requirements.txt bench/requirements-torch.txt bench/torch_cuda_stubs.py bench/install_peers.sh
	bench/install_peers.sh $(VENV)
	@touch $@

bench-lib: build/libgnkbench.so
# DT_RPATH (--disable-new-dtags), not RUNPATH: libdnnl.so has no runpath of its own, and its
# dependencies (libtbb, libsycl, ...) are found through ours.
build/libgnkbench.so: $(BENCH_SRC) $(BENCH_HDR) runtime/include/gnk.h build/libgnk.so $(PEERS_STAMP)
	$(CC) -std=c11 -O2 -g -fPIC -shared -D_GNU_SOURCE -Wall -Wextra -Werror \
	  -Iruntime/include -Ibench -I$(VENV)/include \
	  -o $@ $(BENCH_SRC) -Lbuild -lgnk -L$(VENV)/lib -ldnnl -lpthread -ldl \
	  -Wl,--disable-new-dtags -Wl,-rpath,'$$ORIGIN' -Wl,-rpath,'$$ORIGIN/../$(VENV)/lib'

bench: build/libgnkbench.so
	$(PY) bench/bench.py --layout $(LAYOUT) --threads $(THREADS) --clock $(CLOCK) \
	  $(if $(REPS),--reps $(REPS)) $(foreach s,$(subst $(comma), ,$(SPECS)),--spec $(s)) $(BENCH_ARGS)

# A few seconds: three tiny problems, every peer, both layouts, 1 thread; output under build/.
bench-smoke: build/libgnkbench.so
	$(PY) bench/bench.py --spec bench/testdata/smoke.spec --layout both --threads 1 \
	  --budget 0.02 --out build/bench-smoke

comma := ,
