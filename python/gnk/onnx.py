"""ONNX preset: the GroupNormalization operator (opset 18 and 21).

    gnk.onnx.group_normalization(x, scale, bias, epsilon=1e-5, num_groups=None, opset=21,
                                 stash_type=1, variance="sumsq")

Semantics (onnx/defs/nn/defs.cc opset 21, onnx/defs/nn/old.cc opset 18): X is
(N, C, D1, ..., Dn) with channels on axis 1, contiguous groups; num_groups is required.
The function body's variance is E[x^2] - mean^2 (variance="sumsq", here accumulated in
double; "accurate" picks the two-pass form instead), y = (x - mean) / sqrt(var + eps).
  opset 18: scale and bias have num_groups elements (per-GROUP affine), type T.
  opset 21: scale and bias have C elements (per-channel affine), type T; stash_type
            (1 = float, the default; 10 float16, 16 bfloat16, 11 double) is the
            precision of the statistics, which gnk always keeps in double.
epsilon is a float attribute: it is used as float32(epsilon).

Differences: the normalization and the affine are computed in double and rounded once
to T (ONNX rounds the normalized value to T, then multiplies and adds in T); T = double
is refused (gnk has float32/float16/bfloat16 kernels).
Errors: named as the operator's spec states them (gnk.GnkError). An empty X is an error,
as in onnxruntime and the reference evaluator (the function body's Reshape fails).
"""

import numpy as np

from . import _lib as L
from ._api import _error
from ._general import general_group_norm

__all__ = ["group_normalization"]

_STASH_TYPES = {1: "float", 10: "float16", 11: "double", 16: "bfloat16"}


def group_normalization(x, scale, bias, epsilon=1e-5, num_groups=None, opset=21,
                        stash_type=1, variance="sumsq"):
    """GroupNormalization(X, scale, bias) with attributes epsilon, num_groups (required)
    and, from opset 21, stash_type."""
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    if opset not in (18, 21):
        raise _error(L.Status.ERR_BAD_OPTION,
                     f"GroupNormalization: opset {opset} is not supported (18 or 21; the "
                     "operator exists since opset 18 and changed in 21)")
    if num_groups is None:
        raise _error(L.Status.ERR_BAD_GROUPS,
                     "GroupNormalization: attribute num_groups is required")
    if opset == 21 and stash_type not in _STASH_TYPES:
        raise _error(L.Status.ERR_BAD_OPTION,
                     f"GroupNormalization: stash_type {stash_type} is not a floating-point "
                     "type (1 float, 10 float16, 11 double, 16 bfloat16)")
    if x.ndim < 2:
        raise _error(L.Status.ERR_BAD_RANK,
                     f"GroupNormalization: X must be (N, C, D1, ..., Dn), got shape {x.shape}")
    c = x.shape[1]
    if x.size == 0:  # the function body's Reshape to (N, G, -1) fails on empty tensors
        raise _error(L.Status.ERR_NEGATIVE_SIZE,
                     f"GroupNormalization: X of shape {x.shape} is empty; the function body's "
                     "Reshape cannot infer its -1 dimension (onnxruntime and the reference "
                     "evaluator fail the same way)")
    if num_groups <= 0:
        raise _error(L.Status.ERR_BAD_GROUPS,
                     f"GroupNormalization: num_groups ({num_groups}) must be positive")
    if c % num_groups != 0:
        raise _error(L.Status.ERR_GROUPS_NOT_DIVISOR,
                     f"GroupNormalization: num_groups ({num_groups}) must be a divisor of the "
                     f"number of channels C ({c})")
    n_par = num_groups if opset == 18 else c
    what = "num_groups" if opset == 18 else "C"
    for name, v in (("scale", scale), ("bias", bias)):
        a = np.asarray(v)
        if a.ndim != 1 or a.shape[0] != n_par:
            raise _error(L.Status.ERR_NEGATIVE_SIZE,
                         f"GroupNormalization-{opset}: {name} must have shape ({what},) = "
                         f"({n_par},), got {a.shape}")
        if a.dtype != x.dtype:
            raise _error(L.Status.ERR_BAD_DTYPE,
                         f"GroupNormalization: {name} has type {a.dtype} but X has {x.dtype}; "
                         "X, scale and bias share the type T")
    eps = float(np.float32(epsilon))
    return general_group_norm(x, num_groups, axis=1, gamma=scale, beta=bias,
                              affine="group" if opset == 18 else "channel",
                              variance=variance, eps=eps, param_dtype=x.dtype)
