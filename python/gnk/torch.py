"""PyTorch preset: torch.nn.functional.group_norm and torch.native_group_norm on numpy arrays.

    gnk.torch.group_norm(x, num_groups, weight=None, bias=None, eps=1e-5)
    gnk.torch.native_group_norm(input, weight, bias, N, C, HxW, group, eps) -> (y, mean, rstd)
    gnk.torch.group_norm_with_stats(x, num_groups, weight=None, bias=None, eps=1e-5)

Semantics (aten/src/ATen/native/group_norm.cpp): x is (N, C, *), rank >= 2, channel axis 1,
contiguous groups, biased two-pass variance, weight/bias of C values. float32, float16 and
bfloat16 inputs; y has x's dtype. weight/bias may stay float32 next to a 16-bit x ("mixed
type"): mean/rstd are then float32, otherwise they have x's dtype. The same errors as
PyTorch, with its messages, raised as gnk.GnkError (PyTorch raises RuntimeError, or
ValueError for the batch-size quirk). Differences: float64 is refused (gnk has no double
kernels); a negative eps is refused (PyTorch computes NaN).
"""

import math

import numpy as np

from . import _lib as L
from ._api import _F32, _error
from ._general import general_group_norm

__all__ = ["group_norm", "native_group_norm", "group_norm_with_stats"]


def _shape_str(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _as_array(x):
    return x if isinstance(x, np.ndarray) else np.asarray(x)


def _check_params(x, weight, bias):
    c = x.shape[1]
    for name, v in (("weight", weight), ("bias", bias)):
        if v is None:
            continue
        a = _as_array(v)
        if a.ndim != 1 or a.shape[0] != c:
            raise _error(L.Status.ERR_NEGATIVE_SIZE,
                         f"Expected {name} to be a vector of size equal to the number of channels "
                         f"in input, but got {name} of shape {_shape_str(a.shape)} and input of "
                         f"shape {_shape_str(x.shape)}")


def _check(x, num_groups, weight, bias, verify_batch=True):
    if x.ndim < 2:
        raise _error(L.Status.ERR_BAD_RANK,
                     f"Expected at least 2 dimensions for input tensor but received {x.ndim}")
    if not isinstance(num_groups, (int, np.integer)) or isinstance(num_groups, bool):
        raise _error(L.Status.ERR_BAD_GROUPS,
                     f"group_norm(): argument 'num_groups' must be int, not "
                     f"{type(num_groups).__name__}")
    n, c = x.shape[0], x.shape[1]
    if num_groups <= 0:  # F.group_norm itself dies with ZeroDivisionError for 0
        raise _error(L.Status.ERR_BAD_GROUPS,
                     f"Expected num groups to be greater than 0, got {num_groups}")
    if verify_batch:  # torch.nn.functional._verify_batch_size
        size = [n * c // num_groups, num_groups] + list(x.shape[2:])
        if math.prod([size[0]] + size[2:]) == 1:
            raise _error(L.Status.ERR_NEGATIVE_SIZE,
                         f"Expected more than 1 value per channel when training, got input "
                         f"size {size}")
    if c % num_groups != 0:
        raise _error(L.Status.ERR_GROUPS_NOT_DIVISOR,
                     f"Expected number of channels in input to be divisible by num_groups, but "
                     f"got input of shape {_shape_str(x.shape)} and num_groups={num_groups}")
    _check_params(x, weight, bias)
    hxw = math.prod(x.shape[2:])
    if c == 0:
        raise _error(L.Status.ERR_NEGATIVE_SIZE,
                     f"Expected number of channels to be greater than 0, got {c}")
    if n > 0 and hxw == 0:
        raise _error(L.Status.ERR_NEGATIVE_SIZE, f"Expected HxW to be greater than 0, got {hxw}")


def _stats_dtype(x, weight, bias):
    """PyTorch's CPU kernel: mean/rstd in float32 when the parameters are float32 next
    to a 16-bit input (mixed type), else in the input's dtype."""
    mixed = x.dtype != _F32 and any(v is not None and _as_array(v).dtype == _F32
                                    for v in (weight, bias))
    return _F32 if mixed else x.dtype


def _run(x, num_groups, weight, bias, eps, stats):
    x = _as_array(x)
    if x.ndim >= 2 and x.shape[0] == 0:  # empty batch: empty outputs, like PyTorch
        y = np.empty(x.shape, x.dtype)
        if stats:
            sd = _stats_dtype(x, weight, bias)
            return y, np.empty((0, num_groups), sd), np.empty((0, num_groups), sd)
        return y
    r = general_group_norm(x, num_groups, axis=1, gamma=weight, beta=bias, eps=eps,
                           return_stats=stats)
    if not stats:
        return r
    y, mean, rstd = r
    sd = _stats_dtype(x, weight, bias)
    return y, mean.astype(sd), rstd.astype(sd)


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """torch.nn.functional.group_norm(input, num_groups, weight=None, bias=None, eps=1e-05)."""
    x = _as_array(x)
    _check(x, num_groups, weight, bias)
    return _run(x, num_groups, weight, bias, eps, False)


def group_norm_with_stats(x, num_groups, weight=None, bias=None, eps=1e-5):
    """group_norm that also returns mean and rstd of shape (N, num_groups), like
    torch.native_group_norm."""
    x = _as_array(x)
    _check(x, num_groups, weight, bias, verify_batch=False)
    return _run(x, num_groups, weight, bias, eps, True)


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):  # noqa: A002 (torch's name)
    """torch.native_group_norm(input, weight, bias, N, C, HxW, group, eps) -> (y, mean, rstd)."""
    x = _as_array(input)
    numel = x.size
    if numel != N * C * HxW:
        raise _error(L.Status.ERR_NEGATIVE_SIZE,
                     f"Expected input to have {N * C * HxW} elements (N*C*HxW = {N}*{C}*{HxW}), "
                     f"but got {numel}")
    if x.ndim < 2 or x.shape[0] != N or x.shape[1] != C:
        raise _error(L.Status.ERR_NEGATIVE_SIZE,
                     f"Expected input of shape (N, C, *) = ({N}, {C}, ...), got "
                     f"{_shape_str(x.shape)}")
    _check(x, group, weight, bias, verify_batch=False)
    return _run(x, group, weight, bias, eps, True)
