#!/usr/bin/env bash
# Install the benchmark's peers (PyTorch CPU, oneDNN, ONNX Runtime, matplotlib) into a venv.
#   bench/install_peers.sh [VENV]        (default: .venv; created if missing)
# Idempotent: when the requirement files are unchanged and the peers import, it returns at once.
# GNK_BENCH_TORCH_FULL=1: install torch with its nvidia-* CUDA wheels (~3 GB) instead of
# torch --no-deps + CPU stubs for its CUDA libraries (bench/torch_cuda_stubs.py).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${1:-.venv}
py=$venv/bin/python
stamp=$venv/.gnk-bench-peers
full=${GNK_BENCH_TORCH_FULL:-0}

[ -x "$py" ] || python3 -m venv "$venv"

want=$(cat "$here/requirements.txt" "$here/requirements-torch.txt" "$here/torch_cuda_stubs.py" | sha256sum | cut -c1-16)-full$full

check() {
  "$py" - <<'EOF'
import os, sys, sysconfig
import torch, torch.nn.functional as F
F.group_norm(torch.ones(1, 4, 2, 2), 2)
import onnxruntime, onnx, matplotlib
inc = os.path.join(sys.prefix, "include", "oneapi", "dnnl", "dnnl.h")
lib = os.path.join(sys.prefix, "lib", "libdnnl.so")
assert os.path.exists(inc) and os.path.exists(lib), "oneDNN headers/library missing"
EOF
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && check >/dev/null 2>&1; then
  echo "install_peers: peers already installed in $venv"
  exit 0
fi

t0=$(date +%s)
pip=("$py" -m pip install --disable-pip-version-check --progress-bar off)
"${pip[@]}" -q -r "$here/requirements.txt"
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ "$full" = 1 ]; then
  if [ -f "$site/nvidia/cu13/lib/GNK_BENCH_CUDA_STUBS" ]; then rm -rf "$site/nvidia/cu13/lib"; fi
  "${pip[@]}" -q -r "$here/requirements-torch.txt"
else
  "${pip[@]}" -q --no-deps -r "$here/requirements-torch.txt"
  # Stubs only where the real CUDA runtime wheel is absent.
  if ! "$py" -c 'import torch' >/dev/null 2>&1 || [ -f "$site/nvidia/cu13/lib/GNK_BENCH_CUDA_STUBS" ]; then
    "$py" "$here/torch_cuda_stubs.py" --site "$site"
  fi
fi
check
echo "$want" >"$stamp"
echo "install_peers: done in $(( $(date +%s) - t0 )) s"
"$py" -c 'import torch, onnxruntime, matplotlib; print("torch", torch.__version__, "| onnxruntime", onnxruntime.__version__, "| matplotlib", matplotlib.__version__)'
