"""numpy-level access to the general GroupNorm (gnk_general_*, see gnk.h).

`general_group_norm` exposes every option of gnk_general_desc; the framework
presets (gnk.torch, gnk.keras, gnk.contrib, gnk.mlx, gnk.onnx) are thin layers
over it that reproduce each framework's defaults, dtypes and errors.
"""

import ctypes
import operator

import numpy as np

from . import _lib as L
from ._api import (_F32, _Plan, _NP_TO_GNK, _c_aligned, _check, _check_dtype, _contiguous_out,
                   _error, _int_in, _param_dtype, _ptr)

__all__ = ["general_group_norm", "general_kernel_name", "GROUPINGS", "ACTIVATIONS"]

GROUPINGS = {"contiguous": L.Grouping.CONTIGUOUS, "interleaved": L.Grouping.INTERLEAVED}
AFFINES = {"channel": L.Affine.PER_CHANNEL, "group": L.Affine.PER_GROUP}
VARIANCES = {"accurate": L.Variance.ACCURATE, "sumsq": L.Variance.SUMSQ}
ACTIVATIONS = {None: L.Act.NONE, "none": L.Act.NONE, "silu": L.Act.SILU, "swish": L.Act.SILU,
               "relu": L.Act.RELU, "gelu": L.Act.GELU_ERF, "gelu_erf": L.Act.GELU_ERF,
               "gelu_tanh": L.Act.GELU_TANH}


def _choice(table, value, what, status=L.Status.ERR_BAD_OPTION):
    key = value.lower() if isinstance(value, str) else value
    if key not in table:
        names = ", ".join(repr(k) for k in table if k is not None)
        raise _error(status, f"unknown {what} {value!r} (expected one of {names})")
    return table[key]


def _desc(shape, groups, axis, one_based, grouping, reduce_axes, affine, variance, eps, act,
          has_mask, dtype, param_dtype):
    shape = tuple(operator.index(s) for s in shape)
    d = L.GnkGeneralDesc()
    L.lib().gnk_general_desc_init(ctypes.byref(d))
    rank = len(shape)
    if rank < 2 or rank > L.GNK_MAX_RANK:
        # The C side gives the message; keep the shape out of the fixed-size array.
        d.rank = rank
        _check(L.lib().gnk_general_plan_create(ctypes.byref(ctypes.c_void_p()), ctypes.byref(d),
                                               None))
    d.dtype = dtype
    d.param_dtype = param_dtype
    d.rank = rank
    for i, s in enumerate(shape):
        d.shape[i] = _int_in(s, f"shape[{i}]", -2**63, 2**63 - 1, L.Status.ERR_SIZE_OVERFLOW)
    d.channel_axis = _int_in(axis, "axis", -2**31, 2**31 - 1, L.Status.ERR_BAD_AXIS)
    d.groups = _int_in(groups, "groups", -2**63, 2**63 - 1, L.Status.ERR_BAD_GROUPS)
    d.grouping = _choice(GROUPINGS, grouping, "grouping")
    flags = L.GNK_AXIS_ONE_BASED if one_based else 0
    if reduce_axes is not None:
        bits = 0
        for a in reduce_axes:
            a = operator.index(a)
            r = a + rank if a < 0 else a
            if not 0 <= r < rank:
                raise _error(L.Status.ERR_BAD_AXIS,
                             f"reduction axis {a} is out of range for a tensor of rank {rank}")
            bits |= 1 << r
        d.reduce_axes = bits
        flags |= L.GNK_REDUCE_AXES_EXACT
    d.affine = _choice(AFFINES, affine, "affine")
    d.variance = _choice(VARIANCES, variance, "variance")
    d.eps = float(eps)
    d.act = _choice(ACTIVATIONS, act, "activation", L.Status.ERR_BAD_ACTIVATION)
    d.has_mask = 1 if has_mask else 0
    d.flags = flags
    return d


def _general_plan(desc, threads=None):
    """A plan for a gnk_general_desc (the shared _Plan handle wrapper)."""
    return _Plan(desc, L.GNK_ESTIMATE, threads, create=L.lib().gnk_general_plan_create)


def _params(v, name, n, dtype):
    if v is None:
        return None
    a = np.asarray(v)
    if a.ndim != 1 or a.shape[0] != n:
        raise _error(L.Status.ERR_NEGATIVE_SIZE,
                     f"{name} must be a 1-D array of length {n}, got shape {a.shape}")
    return _c_aligned(a, dtype)


def _resolved(shape, axis, one_based, groups, reduce_axes):
    """(0-based channel axis, G, kept axes) as the C side resolves them (after validation)."""
    rank = len(shape)
    ax = axis - 1 if one_based and axis > 0 else axis
    ax = ax + rank if ax < 0 else ax
    g = shape[ax] if groups == -1 else groups
    if reduce_axes is None:
        kept = []
    else:
        red = {a + rank if a < 0 else a for a in reduce_axes}
        kept = [i for i in range(1, rank) if i != ax and i not in red]
    return ax, g, kept


def general_group_norm(x, groups, *, axis=1, one_based=False, grouping="contiguous",
                       reduce_axes=None, gamma=None, beta=None, affine="channel",
                       variance="accurate", eps=1e-5, act=None, mask=None, param_dtype=None,
                       out=None, threads=None, return_stats=False):
    """GroupNorm with every option of gnk_general_desc.

    x: float32 / float16 / bfloat16 array, rank 2..8, batch on axis 0 (any strides).
    groups: > 0, or -1 for one group per channel. axis: the channel axis (negative
    counts from the end; with one_based=True a positive axis counts from 1, R style).
    grouping: "contiguous" (c // (C/G)) or "interleaved" (c % G).
    reduce_axes: None (every non-batch, non-channel axis) or the axes (0-based, may be
    negative) reduced with the group's channels; the others keep separate statistics.
    gamma/beta: None or 1-D of C (affine="channel") or G (affine="group") values.
    variance: "accurate" (two-pass) or "sumsq" (E[x^2] - mean^2, unclamped).
    act: None, "silu", "relu", "gelu" (erf), "gelu_tanh".
    mask: None or frequency weights broadcastable to x's shape (0/0 := 0).
    param_dtype: dtype of gamma/beta as passed to C (default: x's 16-bit dtype when
    both are given in it, else float32).
    Returns y (x's dtype), or (y, mean, rstd) with mean/rstd float32 of shape
    (N, *kept axes, G) when return_stats is true.
    """
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    dt = _check_dtype(x.dtype)
    xdt = x.dtype
    pdt = _param_dtype(xdt, gamma, beta) if param_dtype is None else np.dtype(param_dtype)
    if pdt not in (_F32, xdt):
        raise _error(L.Status.ERR_BAD_DTYPE,
                     f"param_dtype {pdt}: gamma/beta must be float32 or x's dtype {xdt}")
    desc = _desc(x.shape, groups, axis, one_based, grouping, reduce_axes, affine, variance, eps,
                 act, mask is not None, dt, _NP_TO_GNK[pdt])
    with _general_plan(desc, threads) as plan:
        ax, g, kept = _resolved(x.shape, axis, one_based, groups, reduce_axes)
        c = x.shape[ax]
        n_par = g if _choice(AFFINES, affine, "affine") == L.Affine.PER_GROUP else c
        gm = _params(gamma, "gamma", n_par, pdt)
        bt = _params(beta, "beta", n_par, pdt)
        m = None
        if mask is not None:
            try:
                m = _c_aligned(np.broadcast_to(np.asarray(mask, dtype=np.float32), x.shape))
            except ValueError:
                raise _error(L.Status.ERR_NEGATIVE_SIZE,
                             f"mask of shape {np.shape(mask)} does not broadcast to x's "
                             f"shape {x.shape}") from None
        xc = _c_aligned(x)
        if out is None:
            y = np.empty(x.shape, xdt)
        else:
            y = _contiguous_out(out, x)
            if np.may_share_memory(y, xc) and y.ctypes.data != xc.ctypes.data:
                xc = xc.copy()
            # the other inputs must not alias the output either (GNK_ERR_OVERLAP)
            gm, bt, m = (None if a is None else a.copy() if np.may_share_memory(a, y) else a
                         for a in (gm, bt, m))
        count = int(L.lib().gnk_general_stats_count(plan.handle))
        mean = rstd = None
        if return_stats:
            mean = np.empty(max(count, 0), np.float32)
            rstd = np.empty(max(count, 0), np.float32)
        _check(L.lib().gnk_general_execute(plan.handle, _ptr(xc), _ptr(y), _ptr(gm), _ptr(bt),
                                           _ptr(m), _ptr(mean), _ptr(rstd)))
    if out is not None and y is not out:
        out[...] = y
        y = out
    if return_stats:
        sshape = (x.shape[0], *[x.shape[i] for i in kept], g)
        return y, mean.reshape(sshape), rstd.reshape(sshape)
    return y


def general_kernel_name(shape, groups, *, dtype="float32", **options):
    """Name of the kernel gnk_general_plan_create picks ("gnk_..." for the fast
    generated kernels, "general_<dtype>" for the general one)."""
    if dtype == "bfloat16":
        from ._api import _BF16
        dtype = _BF16
    dt = _check_dtype(dtype)
    opts = dict(axis=1, one_based=False, grouping="contiguous", reduce_axes=None,
                affine="channel", variance="accurate", eps=1e-5, act=None, has_mask=False)
    unknown = set(options) - set(opts)
    if unknown:
        raise TypeError(f"unknown options {sorted(unknown)}")
    opts.update(options)
    desc = _desc(shape, groups, opts["axis"], opts["one_based"], opts["grouping"],
                 opts["reduce_axes"], opts["affine"], opts["variance"], opts["eps"], opts["act"],
                 opts["has_mask"], dt, L.DType.F32)
    with _general_plan(desc) as plan:
        return plan.kernel_name

