"""gnk: GroupNorm kernels (ctypes bindings over libgnk.so, numpy in/out).

The shared library is found at <repo>/build/libgnk.so or at $GNK_LIBRARY,
and loaded on first use.
"""

from ._api import (GnkError, cpu_isa, export_wisdom, forget_wisdom, group_norm,
                   import_wisdom, kernel_name, kernels, measure, plan_cache_clear,
                   plan_cache_size, run_kernel, version, wisdom_size)
from ._lib import Status, library_path

__all__ = ["GnkError", "Status", "cpu_isa", "export_wisdom", "forget_wisdom",
           "group_norm", "import_wisdom", "kernel_name", "kernels", "library_path",
           "measure", "plan_cache_clear", "plan_cache_size", "run_kernel", "version",
           "wisdom_size"]
__version__ = "0.1.0"
