"""Loading of libgnk.so and ctypes mirrors of the structs/prototypes in gnk.h."""

import ctypes
import enum
import os
import threading
from pathlib import Path

__all__ = ["Status", "Layout", "DType", "Act", "Isa", "Grouping", "Affine", "Variance",
           "GNK_ESTIMATE", "GNK_MEASURE", "GNK_WISDOM_ONLY", "GNK_NO_CACHE", "GNK_MAX_THREADS",
           "GNK_MAX_RANK", "GNK_AXIS_ONE_BASED", "GNK_REDUCE_AXES_EXACT", "GnkDesc", "GnkGeneralDesc",
           "GnkPlanOptions", "GnkKernelInfo", "library_path", "lib"]


class Status(enum.IntEnum):
    """gnk_status (values follow the order of the C enum)."""
    OK = 0
    ERR_NULL_ARGUMENT = 1
    ERR_BAD_LAYOUT = 2
    ERR_BAD_DTYPE = 3
    ERR_BAD_ACTIVATION = 4
    ERR_BAD_GROUPS = 5
    ERR_GROUPS_NOT_DIVISOR = 6
    ERR_NEGATIVE_SIZE = 7
    ERR_SIZE_OVERFLOW = 8
    ERR_BAD_EPS = 9
    ERR_BAD_FLAGS = 10
    ERR_BAD_THREADS = 11
    ERR_NO_KERNEL = 12
    ERR_OUT_OF_MEMORY = 13
    ERR_WISDOM_ONLY_MISS = 14
    ERR_WISDOM_IO = 15
    ERR_WISDOM_CORRUPT = 16
    ERR_WISDOM_VERSION = 17
    ERR_WISDOM_CPU = 18
    ERR_WISDOM_KERNELS = 19
    ERR_OVERLAP = 20
    ERR_BAD_RANK = 21
    ERR_BAD_AXIS = 22
    ERR_BAD_OPTION = 23
    ERR_MISALIGNED = 24
    ERR_PARALLEL_FOR = 25


class Layout(enum.IntEnum):
    NCHW = 0
    NHWC = 1


class DType(enum.IntEnum):
    F32 = 0
    F16 = 1
    BF16 = 2


class Act(enum.IntEnum):
    NONE = 0
    SILU = 1
    RELU = 2
    GELU_ERF = 3
    GELU_TANH = 4


class Isa(enum.IntEnum):
    SCALAR = 0
    AVX2 = 1
    AVX512 = 2
    AVX512_BF16 = 3


class Grouping(enum.IntEnum):
    CONTIGUOUS = 0
    INTERLEAVED = 1


class Affine(enum.IntEnum):
    PER_CHANNEL = 0
    PER_GROUP = 1


class Variance(enum.IntEnum):
    ACCURATE = 0
    SUMSQ = 1


GNK_MAX_RANK = 8
GNK_AXIS_ONE_BASED = 0x1
GNK_REDUCE_AXES_EXACT = 0x2
GNK_ESTIMATE = 0x0
GNK_MEASURE = 0x1
GNK_WISDOM_ONLY = 0x2
GNK_NO_CACHE = 0x100
GNK_MAX_THREADS = 256

# Enums are C ints; `unsigned` is c_uint.
_enum = ctypes.c_int


class GnkDesc(ctypes.Structure):
    _fields_ = [
        ("layout", _enum),
        ("dtype", _enum),
        ("n", ctypes.c_int64),
        ("c", ctypes.c_int64),
        ("spatial", ctypes.c_int64),
        ("groups", ctypes.c_int64),
        ("eps", ctypes.c_double),
        ("act", _enum),
        ("flags", ctypes.c_uint),
        ("param_dtype", _enum),
    ]


class GnkGeneralDesc(ctypes.Structure):
    _fields_ = [
        ("dtype", _enum),
        ("param_dtype", _enum),
        ("rank", ctypes.c_int),
        ("shape", ctypes.c_int64 * GNK_MAX_RANK),
        ("channel_axis", ctypes.c_int),
        ("groups", ctypes.c_int64),
        ("grouping", _enum),
        ("reduce_axes", ctypes.c_uint),
        ("affine", _enum),
        ("variance", _enum),
        ("eps", ctypes.c_double),
        ("act", _enum),
        ("has_mask", ctypes.c_int),
        ("flags", ctypes.c_uint),
    ]


TASK_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64)
PARALLEL_FOR_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, TASK_FN, ctypes.c_void_p,
                                   ctypes.c_int64)


class GnkPlanOptions(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint),
        ("threads", ctypes.c_int),
        ("parallel_for", PARALLEL_FOR_FN),  # NULL (default) = gnk's own pool
        ("parallel_for_ctx", ctypes.c_void_p),
    ]


class GnkKernelInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("isa", _enum),
        ("dtype", _enum),
        ("layout", _enum),
        ("act", _enum),
        ("groups", ctypes.c_int64),
        ("channels", ctypes.c_int64),
        ("unroll", ctypes.c_int),
    ]


_c = ctypes
_vp = ctypes.c_void_p
_st = ctypes.c_int  # gnk_status

# name: (restype, argtypes)
_PROTOTYPES = {
    "gnk_version": (_c.c_char_p, []),
    "gnk_status_string": (_c.c_char_p, [_st]),
    "gnk_last_error": (_c.c_char_p, []),
    "gnk_cpu_isa": (_enum, []),
    "gnk_cpu_cache_bytes": (_c.c_size_t, [_c.c_int]),
    "gnk_isa_name": (_c.c_char_p, [_enum]),
    "gnk_desc_init": (None, [_c.POINTER(GnkDesc)]),
    "gnk_desc_validate": (_st, [_c.POINTER(GnkDesc)]),
    "gnk_desc_string": (_st, [_c.POINTER(GnkDesc), _c.c_char_p, _c.c_size_t]),
    "gnk_plan_create": (_st, [_c.POINTER(_vp), _c.POINTER(GnkDesc), _c.c_uint]),
    "gnk_plan_create_ex": (_st, [_c.POINTER(_vp), _c.POINTER(GnkDesc),
                                 _c.POINTER(GnkPlanOptions)]),
    "gnk_plan_destroy": (None, [_vp]),
    "gnk_plan_kernel_name": (_c.c_char_p, [_vp]),
    "gnk_plan_source": (_c.c_char_p, [_vp]),
    "gnk_plan_threads": (_c.c_int, [_vp]),
    "gnk_plan_schedule": (_c.c_char_p, [_vp]),
    "gnk_plan_desc": (_c.POINTER(GnkDesc), [_vp]),
    "gnk_execute": (_st, [_vp, _vp, _vp, _vp, _vp]),
    "gnk_execute_stats": (_st, [_vp, _vp, _vp, _vp, _vp, _vp, _vp]),
    "gnk_plan_cache_size": (_c.c_size_t, []),
    "gnk_plan_cache_clear": (None, []),
    "gnk_wisdom_export_file": (_st, [_c.c_char_p]),
    "gnk_wisdom_import_file": (_st, [_c.c_char_p]),
    "gnk_wisdom_export_string": (_st, [_c.POINTER(_vp)]),
    "gnk_wisdom_import_string": (_st, [_c.c_char_p]),
    "gnk_wisdom_forget": (None, []),
    "gnk_wisdom_size": (_c.c_size_t, []),
    "gnk_free": (None, [_vp]),
    "gnk_kernel_count": (_c.c_int, []),
    "gnk_kernel_name": (_c.c_char_p, [_c.c_int]),
    "gnk_kernel_get_info": (_st, [_c.c_int, _c.POINTER(GnkKernelInfo)]),
    "gnk_kernel_run": (_st, [_c.c_int, _c.POINTER(GnkDesc), _vp, _vp, _vp, _vp]),
    "gnk_kernel_supported": (_c.c_int, [_c.c_int]),
    "gnk_general_desc_init": (None, [_c.POINTER(GnkGeneralDesc)]),
    "gnk_general_plan_create": (_st, [_c.POINTER(_vp), _c.POINTER(GnkGeneralDesc),
                                      _c.POINTER(GnkPlanOptions)]),
    "gnk_general_execute": (_st, [_vp, _vp, _vp, _vp, _vp, _vp, _vp, _vp]),
    "gnk_general_stats_count": (_c.c_int64, [_vp]),
}


def library_path():
    """Path of the shared library: $GNK_LIBRARY, else <repo>/build/libgnk.so."""
    env = os.environ.get("GNK_LIBRARY")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "build" / "libgnk.so"


_lock = threading.Lock()
_lib = None


def lib():
    """The loaded, prototyped library (loaded on first use)."""
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is None:
            path = library_path()
            if not path.exists():
                raise OSError(
                    f"gnk: shared library not found at {path}; build it with `make` "
                    "in the repository root or point GNK_LIBRARY at libgnk.so")
            try:
                handle = ctypes.CDLL(str(path))
            except OSError as e:
                raise OSError(f"gnk: cannot load {path}: {e}") from e
            for name, (restype, argtypes) in _PROTOTYPES.items():
                try:
                    fn = getattr(handle, name)
                except AttributeError as e:
                    raise OSError(f"gnk: {path} lacks symbol {name}") from e
                fn.restype = restype
                fn.argtypes = argtypes
            _lib = handle
    return _lib
