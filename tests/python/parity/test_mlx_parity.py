"""gnk.mlx vs MLX (CPU build) mlx.nn.GroupNorm: interleaved groups by default,
PyTorch-compatible contiguous groups on request, features on the last axis."""
import numpy as np
import pytest

import gnk
from parity_util import (BF16, DTYPES, F32, assert_close, data, dtype_id, folded_mag,
                         messages_match, need, params)

CASES = [((3, 6), 3), ((4, 8), 1), ((2, 6), 6), ((2, 5, 6), 2), ((2, 4, 3, 8), 4),
         ((2, 4, 3, 8), 8), ((1, 1, 1, 16), 4), ((3, 1, 12), 3), ((2, 3, 4, 2, 6), 3),
         ((2, 5, 4, 64), 32)]


def _mx():
    need("mlx.core", "mlx")
    import mlx.core as mx
    import mlx.nn as nn
    return mx, nn


def _to_mx(mx, a):
    if BF16 is not None and a.dtype == BF16:
        return mx.array(a.astype(np.float32)).astype(mx.bfloat16)
    return mx.array(a)


def _to_np(mx, y):
    if y.dtype == mx.bfloat16:
        return np.array(y.astype(mx.float32)), BF16
    return np.array(y), np.dtype(np.array(y).dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("pytorch_compatible", [False, True], ids=["interleaved", "contiguous"])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape,groups", CASES, ids=[f"{s}g{g}" for s, g in CASES])
def test_group_norm(shape, groups, dtype, pytorch_compatible, affine):
    mx, nn = _mx()
    dims = shape[-1]
    x = data(shape, dtype, seed=sum(shape) * 7 + groups)
    w, b = params(dims, seed=dims)
    m = nn.GroupNorm(groups, dims, eps=1e-5, affine=affine, pytorch_compatible=pytorch_compatible)
    if affine:
        m.weight = mx.array(w)
        m.bias = mx.array(b)
    want, want_dt = _to_np(mx, m(_to_mx(mx, x)))
    got = gnk.mlx.group_norm(x, groups, dims, eps=1e-5, affine=affine,
                             weight=w if affine else None, bias=b if affine else None,
                             pytorch_compatible=pytorch_compatible)
    assert np.dtype(got.dtype) == want_dt, (got.dtype, want_dt)
    grouping = "contiguous" if pytorch_compatible else "interleaved"
    # MLX normalizes in x's dtype: for f16/bf16 its normalized values carry that rounding
    # even when the float32 affine gives a float32 result.
    tol_dtype = dtype
    mag = folded_mag(x, groups, 1e-5, w if affine else None, axis=len(shape) - 1,
                     grouping=grouping) if dtype != F32 else None
    assert_close(got.astype(np.float32), want, tol_dtype,
                 f"{shape} G={groups} {grouping} affine={affine}", mag=mag)


def test_defaults_interleaved_differs_from_contiguous():
    """The two groupings agree only for G == 1 or G == dims (a check that the test data
    can tell them apart)."""
    mx, nn = _mx()
    x = data((2, 3, 8), F32, seed=1)
    a = gnk.mlx.group_norm(x, 2, 8)
    b = gnk.mlx.group_norm(x, 2, 8, pytorch_compatible=True)
    assert np.abs(a - b).max() > 1e-3
    assert_close(a, np.array(nn.GroupNorm(2, 8)(mx.array(x))), F32, "default")


ERRORS = [  # (num_groups, dims, eps)
    (0, 8, 1e-5), (-2, 8, 1e-5), (3, 8, 1e-5), (2, 0, 1e-5), (2, 8, 0.0), (2, 8, -1e-5)]


@pytest.mark.parametrize("groups,dims,eps", ERRORS, ids=[str(e) for e in ERRORS])
def test_errors(groups, dims, eps):
    mx, nn = _mx()
    with pytest.raises(Exception) as fw:
        nn.GroupNorm(groups, dims, eps=eps)
    x = np.zeros((2, 3, max(dims, 1)), np.float32)
    with pytest.raises(gnk.GnkError) as ours:
        gnk.mlx.group_norm(x, groups, dims, eps=eps)
    assert messages_match(str(ours.value), str(fw.value)), (str(ours.value), str(fw.value))


def test_dims_mismatch():
    with pytest.raises(gnk.GnkError, match="does not match dims"):
        gnk.mlx.group_norm(np.zeros((2, 3, 8), np.float32), 2, 4)


@pytest.mark.parametrize("pytorch_compatible", [False, True])
@pytest.mark.parametrize("shape", [(0, 4, 6), (0, 6), (2, 0, 6), (2, 0, 0, 6)])
def test_empty(shape, pytorch_compatible):
    mx, nn = _mx()
    x = np.zeros(shape, np.float32)
    m = nn.GroupNorm(2, 6, pytorch_compatible=pytorch_compatible)
    try:
        want = np.array(m(mx.array(x)))
    except ValueError as e:
        with pytest.raises(gnk.GnkError) as ours:
            gnk.mlx.group_norm(x, 2, 6, pytorch_compatible=pytorch_compatible)
        assert messages_match(str(ours.value), str(e))
        return
    got = gnk.mlx.group_norm(x, 2, 6, pytorch_compatible=pytorch_compatible)
    assert got.shape == want.shape and got.dtype == want.dtype
