"""numpy-level API over libgnk (see runtime/include/gnk.h)."""

import ctypes
import math
import operator
import os

import numpy as np

from . import _lib as L

__all__ = ["GnkError", "group_norm", "kernel_name", "plan_info", "run_kernel", "measure", "export_wisdom",
           "import_wisdom", "forget_wisdom", "wisdom_size", "kernels", "cpu_isa", "cache_sizes",
           "version", "plan_cache_size", "plan_cache_clear"]

_LAYOUTS = {"nchw": L.Layout.NCHW, "nhwc": L.Layout.NHWC}
_ACTS = {None: L.Act.NONE, "none": L.Act.NONE, "silu": L.Act.SILU, "relu": L.Act.RELU}
_ISA_NAMES = {L.Isa.SCALAR: "scalar", L.Isa.AVX2: "avx2", L.Isa.AVX512: "avx512",
              L.Isa.AVX512_BF16: "avx512bf16"}
_F32 = np.dtype(np.float32)
try:  # numpy has no bfloat16; ml_dtypes provides it
    import ml_dtypes as _ml_dtypes
    _BF16 = np.dtype(_ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - ml_dtypes is in requirements.txt
    _BF16 = None
_F16 = np.dtype(np.float16)
_NP_TO_GNK = {_F32: L.DType.F32, _F16: L.DType.F16}
if _BF16 is not None:
    _NP_TO_GNK[_BF16] = L.DType.BF16
_GNK_TO_NP = {v: k for k, v in _NP_TO_GNK.items()}


class GnkError(ValueError):
    """A failure reported by libgnk (or a check the C side cannot make).

    ``str(e)`` is the library's message (gnk_last_error), ``e.status`` the
    status name (gnk_status_string) and ``e.code`` the gnk_status value.
    Checks only Python can make (dtype, rank, layout/act strings, gamma/beta
    and out shapes) use the nearest C status.
    """

    def __init__(self, message, status=None, code=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


def _status_name(code):
    s = L.lib().gnk_status_string(int(code))
    return s.decode() if s else f"status {int(code)}"


def _error(code, message):
    """A GnkError for a check made in Python, named like the C status."""
    return GnkError(message, _status_name(code), L.Status(code))


def _check(code):
    """Raise GnkError for a non-OK gnk_status, with gnk_last_error's message."""
    if code == L.Status.OK:
        return
    lib = L.lib()
    name = _status_name(code)
    msg = lib.gnk_last_error()
    msg = msg.decode(errors="replace") if msg else ""
    try:
        code = L.Status(code)
    except ValueError:
        pass
    raise GnkError(msg or name, name, code)


def _dec(s):
    return s.decode(errors="replace") if s is not None else None


def _layout(layout):
    key = layout.lower() if isinstance(layout, str) else layout
    if key not in _LAYOUTS:
        raise _error(L.Status.ERR_BAD_LAYOUT,
                     f"unknown layout {layout!r} (expected 'nchw' or 'nhwc')")
    return _LAYOUTS[key]


def _act(act):
    key = act.lower() if isinstance(act, str) else act
    if key not in _ACTS:
        raise _error(L.Status.ERR_BAD_ACTIVATION,
                     f"unknown activation {act!r} (expected None, 'silu' or 'relu')")
    return _ACTS[key]


def _dims(shape, layout):
    """(n, c, spatial) of a tensor shape for the layout enum."""
    shape = tuple(operator.index(s) for s in shape)
    if len(shape) < 2:
        raise _error(L.Status.ERR_NEGATIVE_SIZE,
                     f"tensor rank must be >= 2 (N, C, ...), got rank {len(shape)} "
                     f"with shape {shape}")
    if layout == L.Layout.NCHW:
        return shape[0], shape[1], math.prod(shape[2:])
    return shape[0], shape[-1], math.prod(shape[1:-1])


def _int_in(v, name, lo, hi, status):
    """v as an int within [lo, hi] (ctypes would silently truncate it)."""
    v = operator.index(v)
    if not lo <= v <= hi:
        raise _error(status, f"{name} ({v}) does not fit the C type")
    return v


def _desc(shape, groups, layout, act, eps, dtype=L.DType.F32, param_dtype=L.DType.F32):
    lay = _layout(layout)
    ac = _act(act)
    n, c, s = _dims(shape, lay)
    d = L.GnkDesc()
    L.lib().gnk_desc_init(ctypes.byref(d))
    d.layout = lay
    d.dtype = dtype
    d.param_dtype = param_dtype
    d.n, d.c, d.spatial = n, c, s
    d.groups = _int_in(groups, "groups", -2**63, 2**63 - 1, L.Status.ERR_SIZE_OVERFLOW)
    d.eps = float(eps)
    d.act = ac
    d.flags = 0
    return d


class _Plan:
    """A gnk_plan handle, destroyed on exit of the with block. `create` is
    gnk_plan_create_ex (a gnk_desc) or gnk_general_plan_create (a
    gnk_general_desc)."""

    def __init__(self, desc, flags=L.GNK_ESTIMATE, threads=None, create=None):
        opt = L.GnkPlanOptions()
        opt.flags = flags
        opt.threads = 0 if threads is None else _int_in(
            threads, "threads", -2**31, 2**31 - 1, L.Status.ERR_BAD_THREADS)
        h = ctypes.c_void_p()
        create = create or L.lib().gnk_plan_create_ex
        _check(create(ctypes.byref(h), ctypes.byref(desc), ctypes.byref(opt)))
        self.handle = h

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.handle:
            L.lib().gnk_plan_destroy(self.handle)
            self.handle = None

    @property
    def kernel_name(self):
        return _dec(L.lib().gnk_plan_kernel_name(self.handle))

    @property
    def source(self):
        return _dec(L.lib().gnk_plan_source(self.handle))

    @property
    def schedule(self):
        return _dec(L.lib().gnk_plan_schedule(self.handle))

    @property
    def threads(self):
        return int(L.lib().gnk_plan_threads(self.handle))


def _check_dtype(dtype):
    """The gnk dtype of a numpy dtype (float32, float16, ml_dtypes.bfloat16)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in _NP_TO_GNK:
        raise _error(L.Status.ERR_BAD_DTYPE,
                     f"unsupported dtype {dtype if dt is None else dt}; gnk supports "
                     "float32, float16 and bfloat16 (ml_dtypes)")
    return _NP_TO_GNK[dt]


def _param_dtype(x_dtype, gamma, beta):
    """gamma/beta stay in x's 16-bit dtype when both are given in it ("mixed"
    parameters as PyTorch allows); otherwise they are passed as float32."""
    given = [v for v in (gamma, beta) if v is not None]
    if x_dtype != _F32 and given and all(
            isinstance(v, np.ndarray) and v.dtype == x_dtype for v in given):
        return x_dtype
    return _F32


def _param(v, name, c, dtype=_F32):
    """gamma/beta as a contiguous vector of length c in `dtype` (or None)."""
    if v is None:
        return None
    try:
        a = np.asarray(v, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise _error(L.Status.ERR_BAD_DTYPE,
                     f"{name} is not convertible to float32: {e}") from None
    if a.ndim != 1 or a.shape[0] != c:
        raise _error(L.Status.ERR_NEGATIVE_SIZE,
                     f"{name} must be a 1-D array of length C={c}, got shape {a.shape}")
    return _c_aligned(a)


def _c_aligned(a, dtype=None):
    """a as a C-contiguous array aligned to its element size (copied only when it
    is not one already): libgnk refuses pointers off their element alignment
    (GNK_ERR_MISALIGNED), and numpy can make such views (np.frombuffer at an odd
    offset)."""
    return np.require(a, dtype=dtype, requirements=["C", "A"])


def _contiguous_out(out, x):
    """The array to pass as y for a caller's `out` that must be a writeable
    C-contiguous array of x's dtype and shape (run_kernel, general_group_norm):
    out itself, or an aligned temp when out is off its element alignment (the
    caller then copies the temp into out). A read-only out can be immutable
    memory (np.frombuffer of bytes): refused, never written."""
    if (not isinstance(out, np.ndarray) or out.dtype != x.dtype or out.shape != x.shape
            or not out.flags.c_contiguous or not out.flags.writeable):
        raise _error(L.Status.ERR_BAD_DTYPE,
                     "out must be a writeable C-contiguous array of x's dtype and shape")
    return out if out.flags.aligned else np.empty(x.shape, x.dtype)


def _ptr(a):
    return None if a is None else a.ctypes.data


def _same_view(a, b):
    return (a.ctypes.data == b.ctypes.data and a.shape == b.shape
            and a.strides == b.strides)


def group_norm(x, groups, gamma=None, beta=None, eps=1e-5, layout="nchw", act=None,
               out=None, threads=None, return_stats=False):
    """GroupNorm of a float32, float16 or bfloat16 array (rank >= 2, any
    strides) with libgnk; the result has x's dtype, statistics are f32.

    layout "nchw": channels on axis 1; "nhwc": channels on the last axis.
    act: None, "silu" or "relu". out: preallocated float32 array of x's shape
    (may be x itself). Returns y, or (y, mean, rstd) with mean/rstd of shape
    (N, groups) when return_stats is true.
    """
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    dt = _check_dtype(x.dtype)
    xdt = x.dtype
    pdt = _param_dtype(xdt, gamma, beta)
    desc = _desc(x.shape, groups, layout, act, eps, dt, _NP_TO_GNK[pdt])
    c = desc.c
    g = _param(gamma, "gamma", c, pdt)
    b = _param(beta, "beta", c, pdt)
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise _error(L.Status.ERR_NULL_ARGUMENT,
                         f"out must be a numpy array, got {type(out).__name__}")
        if out.dtype != xdt:
            raise _error(L.Status.ERR_BAD_DTYPE,
                         f"out has dtype {out.dtype}; it must be {xdt} like x")
        if out.shape != x.shape:
            raise _error(L.Status.ERR_NEGATIVE_SIZE,
                         f"out has shape {out.shape}; it must match x's shape {x.shape}")
        if not out.flags.writeable:
            raise _error(L.Status.ERR_NULL_ARGUMENT, "out is read-only")

    with _Plan(desc, L.GNK_ESTIMATE, threads) as plan:
        xc = _c_aligned(x)
        copied = xc is not x and not np.may_share_memory(xc, x)
        if out is None:
            y = xc if copied else np.empty(x.shape, xdt)  # a private copy: in place
            target = y
        elif out.flags.c_contiguous and out.flags.aligned and (
                _same_view(out, xc) or not np.may_share_memory(out, xc)):
            y = target = out
        else:  # non-contiguous or partially overlapping out: go through a temp
            y = out
            target = xc if copied else np.empty(x.shape, xdt)
        # gamma/beta must not alias the output being written.
        if g is not None and np.may_share_memory(g, target):
            g = g.copy()
        if b is not None and np.may_share_memory(b, target):
            b = b.copy()
        if return_stats:
            mean = np.empty((desc.n, desc.groups), _F32)
            rstd = np.empty((desc.n, desc.groups), _F32)
            _check(L.lib().gnk_execute_stats(plan.handle, _ptr(xc), _ptr(target),
                                             _ptr(g), _ptr(b), _ptr(mean), _ptr(rstd)))
        else:
            _check(L.lib().gnk_execute(plan.handle, _ptr(xc), _ptr(target),
                                       _ptr(g), _ptr(b)))
    if target is not y:
        y[...] = target
    if return_stats:
        return y, mean, rstd
    return y


def run_kernel(index, x, groups, gamma=None, beta=None, eps=1e-5, out=None):
    """Run kernel `index` directly (gnk_kernel_run, one thread, no planner).

    x is an array of the kernel's dtype (any strides) in the kernel's own
    layout; the layout and activation come from the kernel's info. Returns y.
    """
    if not 0 <= index < L.lib().gnk_kernel_count():
        raise _error(L.Status.ERR_NO_KERNEL, f"no kernel with index {index}")
    info = _kernel_info(index)
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    dt = _check_dtype(x.dtype)
    desc = _desc(x.shape, groups, info["layout"], info["act"], eps, dt)
    g = _param(gamma, "gamma", desc.c)
    b = _param(beta, "beta", desc.c)
    xc = _c_aligned(x)
    y = np.empty(x.shape, x.dtype) if out is None else _contiguous_out(out, x)
    _check(L.lib().gnk_kernel_run(index, ctypes.byref(desc), _ptr(xc), _ptr(y),
                                  _ptr(g), _ptr(b)))
    if out is not None and y is not out:
        out[...] = y
        y = out
    return y


def kernel_name(shape, groups, layout="nchw", act=None, dtype="float32", eps=1e-5):
    """Name of the kernel the planner picks (GNK_ESTIMATE) for the problem."""
    return plan_info(shape, groups, layout, act, dtype, eps)["kernel"]


def measure(shape, groups, layout="nchw", act=None, eps=1e-5, threads=None):
    """Plan the problem with GNK_MEASURE (recorded in wisdom); returns the kernel name."""
    return plan_info(shape, groups, layout, act, eps=eps, threads=threads, measure=True)["kernel"]


def plan_info(shape, groups, layout="nchw", act=None, dtype="float32", eps=1e-5, threads=None,
              measure=False):
    """What the planner chooses for the problem, as gnk_group_norm would run it:
    {"kernel": name, "schedule": "units" | "fused" | "pipeline" | "phases", "threads": n,
    "source": how it was chosen ("estimate", "measured" or "wisdom")}.
    measure=True plans with GNK_MEASURE (timing every candidate, recorded in
    wisdom), else GNK_ESTIMATE. Any schedule gives the same bits."""
    if dtype == "bfloat16" and _BF16 is not None:
        dtype = _BF16
    dt = _check_dtype(dtype)
    flags = L.GNK_MEASURE if measure else L.GNK_ESTIMATE
    with _Plan(_desc(shape, groups, layout, act, eps, dt), flags, threads) as plan:
        return {"kernel": plan.kernel_name, "schedule": plan.schedule, "threads": plan.threads,
                "source": plan.source}


def export_wisdom(path):
    """Write the planner's wisdom to path (atomically)."""
    _check(L.lib().gnk_wisdom_export_file(os.fsencode(path)))


def import_wisdom(path):
    """Load wisdom from path; all-or-nothing, raises GnkError on a bad file."""
    _check(L.lib().gnk_wisdom_import_file(os.fsencode(path)))


def forget_wisdom():
    L.lib().gnk_wisdom_forget()


def wisdom_size():
    return int(L.lib().gnk_wisdom_size())


def plan_cache_size():
    return int(L.lib().gnk_plan_cache_size())


def plan_cache_clear():
    L.lib().gnk_plan_cache_clear()


def _enum_name(table, v):
    return table.get(v, int(v))


def _kernel_info(i):
    lib = L.lib()
    info = L.GnkKernelInfo()
    _check(lib.gnk_kernel_get_info(i, ctypes.byref(info)))
    layouts = {v: k for k, v in _LAYOUTS.items()}
    acts = {L.Act.NONE: None, L.Act.SILU: "silu", L.Act.RELU: "relu"}
    return {
        "index": i,
        "name": _dec(info.name),
        "isa": _isa_name(info.isa),
        "dtype": {L.DType.F32: "float32", L.DType.F16: "float16",
                  L.DType.BF16: "bfloat16"}.get(info.dtype, int(info.dtype)),
        "layout": _enum_name(layouts, info.layout),
        "act": _enum_name(acts, info.act),
        "groups": int(info.groups),
        "channels": int(info.channels),
        "unroll": int(info.unroll),
        "supported": bool(lib.gnk_kernel_supported(i)),
    }


def kernels():
    """The library's kernel list, one dict per kernel (gnk_kernel_get_info)."""
    return [_kernel_info(i) for i in range(L.lib().gnk_kernel_count())]


def _isa_name(isa):
    if isa in _ISA_NAMES:
        return _ISA_NAMES[isa]
    return _dec(L.lib().gnk_isa_name(isa))


def cpu_isa():
    """Best ISA of this CPU (after GNK_MAX_ISA): "scalar", "avx2" or "avx512"."""
    return _isa_name(L.lib().gnk_cpu_isa())


def cache_sizes():
    """The cache sizes gnk's schedules are chosen by, in bytes: {"l2": L2 of one
    core, "l3": last-level cache}; detected, or GNK_CACHE_L2 / GNK_CACHE_L3."""
    lib = L.lib()
    return {"l2": lib.gnk_cpu_cache_bytes(2), "l3": lib.gnk_cpu_cache_bytes(3)}


def version():
    return _dec(L.lib().gnk_version())
