"""gnk: GroupNorm kernels (ctypes bindings over libgnk.so, numpy in/out).

The shared library is found at <repo>/build/libgnk.so or at $GNK_LIBRARY,
and loaded on first use.
"""

from ._api import (GnkError, cache_sizes, cpu_isa, export_wisdom, forget_wisdom, group_norm,
                   import_wisdom, kernel_name, kernels, measure, plan_cache_clear, plan_info,
                   plan_cache_size, run_kernel, version, wisdom_size)
from ._general import general_group_norm, general_kernel_name
from ._lib import Status, library_path
# Framework presets: gnk.torch, gnk.keras, gnk.contrib, gnk.mlx, gnk.onnx (none of them
# imports its framework).
from . import contrib, keras, mlx, onnx, torch  # noqa: E402  (after the core API)

__all__ = ["GnkError", "Status", "cache_sizes", "contrib", "cpu_isa", "export_wisdom", "forget_wisdom",
           "general_group_norm", "general_kernel_name", "group_norm", "keras", "mlx", "onnx",
           "torch", "import_wisdom", "kernel_name", "kernels", "library_path",
           "measure", "plan_cache_clear", "plan_cache_size", "plan_info", "run_kernel", "version",
           "wisdom_size"]
__version__ = "0.1.0"
