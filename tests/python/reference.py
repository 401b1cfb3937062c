"""float64 numpy reference for GroupNorm (two-pass, on the float32 inputs)."""

import math

import numpy as np


def _to_nchw(x, layout):
    if layout == "nchw":
        return x
    if layout == "nhwc":
        return np.moveaxis(x, -1, 1)
    raise ValueError(layout)


def _from_nchw(x, layout):
    return x if layout == "nchw" else np.moveaxis(x, 1, -1)


def ref_group_norm(x, G, gamma=None, beta=None, eps=1e-5, layout="nchw", act=None,
                   return_stats=False):
    """y (float64, x's shape) and optionally mean, rstd of shape (N, G)."""
    x64 = _to_nchw(np.asarray(x).astype(np.float64), layout)
    N, C = x64.shape[:2]
    S = math.prod(x64.shape[2:])
    xr = np.ascontiguousarray(x64).reshape(N, G, (C // G) * S)
    mean = xr.mean(axis=2, keepdims=True)
    d = xr - mean
    var = np.mean(d * d, axis=2, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    z = (d * rstd).reshape(N, C, S)
    del d
    if gamma is not None:
        z *= np.asarray(gamma, np.float32).astype(np.float64)[None, :, None]
    if beta is not None:
        z += np.asarray(beta, np.float32).astype(np.float64)[None, :, None]
    if act == "silu":
        with np.errstate(over="ignore"):
            z = z / (1.0 + np.exp(-z))
    elif act == "relu":
        z = np.maximum(z, 0.0)
    elif act is not None:
        raise ValueError(act)
    y = _from_nchw(z.reshape(x64.shape), layout)
    if return_stats:
        return y, mean.reshape(N, G), rstd.reshape(N, G)
    return y
