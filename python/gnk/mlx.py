"""MLX preset: mlx.nn.GroupNorm.

    gnk.mlx.group_norm(x, num_groups, dims, eps=1e-5, affine=True, weight=None, bias=None,
                       pytorch_compatible=False)

Semantics (python/mlx/nn/layers/normalization.py): features on the LAST axis, batch on
axis 0, any rank >= 2. Default grouping is interleaved: feature c belongs to group
c % num_groups (x.reshape(B, -1, num_groups)); pytorch_compatible=True uses PyTorch's
contiguous groups. Biased two-pass variance, (x - mean) * rsqrt(var + eps), then
weight * x + bias when affine (weight/bias: the module's parameters, `dims` values,
None = ones / zeros).

dtypes: MLX normalizes in x's dtype and then applies float32 weight/bias, so with
affine=True and float32 parameters a float16/bfloat16 x gives a float32 result (type
promotion); gnk returns the same dtype (computed from x in double, rounded once).
Without affine the result has x's dtype.

Errors: MLX's checks with its messages (gnk.GnkError instead of ValueError); also
x.shape[-1] != dims (MLX fails later on a reshape or broadcast). Empty tensors as in MLX:
an empty batch is an error ("[reshape] Cannot infer the shape of an empty array"), other
zero-size axes give an empty result.
"""

import numpy as np

from . import _lib as L
from ._api import _F32, _NP_TO_GNK, _error
from ._general import general_group_norm

__all__ = ["group_norm"]


def group_norm(x, num_groups, dims, eps=1e-5, affine=True, weight=None, bias=None,
               pytorch_compatible=False):
    """mlx.nn.GroupNorm(num_groups, dims, eps, affine, pytorch_compatible)(x) with the
    module's weight/bias."""
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    if eps <= 0.0:
        raise _error(L.Status.ERR_BAD_EPS, f"[GroupNorm] 'eps' must be positive but got {eps}.")
    if num_groups <= 0:
        raise _error(L.Status.ERR_BAD_GROUPS,
                     f"The number of groups ({num_groups}) must be a positive integer.")
    if dims <= 0:
        raise _error(L.Status.ERR_NEGATIVE_SIZE,
                     f"The number of features ({dims}) must be a positive integer.")
    if dims % num_groups != 0:
        raise _error(L.Status.ERR_GROUPS_NOT_DIVISOR,
                     f"The number of features ({dims}) must be evenly divisible by the number "
                     f"of groups ({num_groups}).")
    if x.ndim < 2:
        raise _error(L.Status.ERR_BAD_RANK,
                     f"[GroupNorm] expected an input of rank >= 2 (batch, ..., features), got "
                     f"shape {x.shape}")
    if x.shape[-1] != dims:
        raise _error(L.Status.ERR_NEGATIVE_SIZE,
                     f"[GroupNorm] the input's last dimension ({x.shape[-1]}) does not match "
                     f"dims ({dims})")
    if x.shape[0] == 0:  # MLX's reshape(batch, -1, ...) cannot infer -1 for an empty batch
        raise _error(L.Status.ERR_NEGATIVE_SIZE, "[reshape] Cannot infer the shape of an empty array")
    gm = bt = None
    out_dtype = x.dtype
    if affine:
        gm = np.ones(dims, _F32) if weight is None else np.asarray(weight)
        bt = np.zeros(dims, _F32) if bias is None else np.asarray(bias)
        if gm.dtype not in _NP_TO_GNK:
            gm = gm.astype(_F32)
        if bt.dtype not in _NP_TO_GNK:
            bt = bt.astype(_F32)
        out_dtype = np.result_type(x.dtype, gm.dtype, bt.dtype)
        if out_dtype not in (x.dtype, _F32):
            out_dtype = _F32
    xin = x.astype(out_dtype) if out_dtype != x.dtype else x
    pdt = xin.dtype if (gm is not None and gm.dtype == xin.dtype and bt.dtype == xin.dtype) \
        else _F32
    return general_group_norm(xin, num_groups, axis=-1,
                              grouping="contiguous" if pytorch_compatible else "interleaved",
                              gamma=gm, beta=bt, eps=eps, param_dtype=pdt)
