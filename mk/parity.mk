# Framework parity: gnk's presets (python/gnk/{torch,keras,contrib,mlx,onnx}.py) against the
# real frameworks (tests/python/parity). Include it from the top-level Makefile
# (`include mk/parity.mk`) or run it alone from the repository root:
#   make -f mk/parity.mk parity-deps    install the frameworks into $(PARITY_VENV) (idempotent)
#   make -f mk/parity.mk test-parity    run the parity tests (needs build/libgnk.so: `make lib`)
#
# parity-deps installs, timing each step:
#   1. bench/install_peers.sh: PyTorch CPU (torch --no-deps from bench/requirements-torch.txt
#      plus the CUDA stub libraries of bench/torch_cuda_stubs.py, instead of ~3 GB of
#      nvidia-* wheels), onnx and onnxruntime (bench/requirements.txt): shared with the
#      benchmark, with its own stamp;
#   2. requirements.txt (numpy, pytest, ml_dtypes) and requirements-parity.txt (Keras 3 +
#      JAX, tensorflow-cpu + tf-keras, MLX's CPU build).
# A framework that is missing or fails to import makes its tests skip LOUDLY (printed, and
# listed in a "PARITY: FRAMEWORKS NOT TESTED" section of pytest's summary).

PARITY_VENV ?= .venv
PARITY_PY := $(PARITY_VENV)/bin/python
PARITY_STAMP := $(PARITY_VENV)/.gnk-parity-deps
PARITY_PYTEST_ARGS ?= -rs

.PHONY: parity-deps test-parity
parity-deps: $(PARITY_STAMP)
$(PARITY_STAMP): requirements.txt requirements-parity.txt bench/requirements.txt bench/requirements-torch.txt \
                 bench/torch_cuda_stubs.py bench/install_peers.sh
	@test -x $(PARITY_PY) || python3 -m venv $(PARITY_VENV)
	@t0=$$(date +%s); bench/install_peers.sh $(PARITY_VENV) && \
	  echo "parity-deps: torch/onnx/onnxruntime (bench/install_peers.sh) $$(( $$(date +%s) - t0 )) s"
	@t0=$$(date +%s); $(PARITY_PY) -m pip install -q --disable-pip-version-check --progress-bar off \
	  -r requirements.txt -r requirements-parity.txt && \
	  echo "parity-deps: requirements-parity.txt $$(( $$(date +%s) - t0 )) s"
	@touch $@

test-parity: $(PARITY_STAMP)
	@test -f build/libgnk.so || { echo "test-parity: build/libgnk.so missing: run 'make lib' first"; exit 1; }
	@t0=$$(date +%s); PYTHONPATH=python $(PARITY_PY) -m pytest -q tests/python/parity $(PARITY_PYTEST_ARGS); \
	  rc=$$?; echo "test-parity: $$(( $$(date +%s) - t0 )) s"; exit $$rc
