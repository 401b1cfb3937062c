"""Numerically hard inputs: large offsets, constant groups, NaN, huge groups."""

import numpy as np
import pytest

import gnk
from reference import ref_group_norm

TOL = dict(rtol=1e-5, atol=1e-5)


def _to_layout(x, layout):
    return x if layout == "nchw" else np.ascontiguousarray(np.moveaxis(x, 1, -1))


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("shape,G", [((2, 8, 16, 16), 4), ((2, 320, 32, 32), 32),
                                      ((1, 4, 64, 64), 1), ((3, 5), 5), ((2, 6, 3), 1)])
def test_mean_much_larger_than_std(shape, G, layout):
    rng = np.random.default_rng(11)
    x = _to_layout((1e4 + 1e-2 * rng.standard_normal(shape)).astype(np.float32), layout)
    C = shape[1]
    gamma = rng.standard_normal(C).astype(np.float32)
    beta = rng.standard_normal(C).astype(np.float32)
    y, mean, rstd = gnk.group_norm(x, G, gamma, beta, layout=layout, return_stats=True)
    ry, rmean, rrstd = ref_group_norm(x, G, gamma, beta, 1e-5, layout, return_stats=True)
    np.testing.assert_allclose(y, ry, **TOL)
    np.testing.assert_allclose(mean, rmean, rtol=1e-6)
    np.testing.assert_allclose(rstd, rrstd, rtol=1e-5)


@pytest.mark.parametrize("value", [0.1, -37.3, 1e4 + 0.5, 3e-8, 0.0])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_constant_group_gives_beta(value, layout):
    rng = np.random.default_rng(5)
    N, C, H, W, G = 2, 6, 5, 7, 3
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    x[0, 2:4] = value                 # sample 0, group 1
    x[1, 4:6] = value                 # sample 1, group 2
    gamma = rng.standard_normal(C).astype(np.float32)
    beta = rng.standard_normal(C).astype(np.float32)
    x = _to_layout(x, layout)
    y, mean, rstd = gnk.group_norm(x, G, gamma, beta, layout=layout, return_stats=True)
    yn = y if layout == "nchw" else np.moveaxis(y, -1, 1)
    expect = np.broadcast_to(beta[:, None, None], (C, H, W))
    np.testing.assert_array_equal(yn[0, 2:4], expect[2:4])
    np.testing.assert_array_equal(yn[1, 4:6], expect[4:6])
    np.testing.assert_array_equal(mean[[0, 1], [1, 2]], np.float32(value))
    np.testing.assert_allclose(rstd[[0, 1], [1, 2]], 1 / np.sqrt(1e-5), rtol=1e-5)
    np.testing.assert_allclose(y, ref_group_norm(x, G, gamma, beta, 1e-5, layout), **TOL)
    # No affine: exactly zero.
    y0 = gnk.group_norm(x, G, layout=layout)
    y0n = y0 if layout == "nchw" else np.moveaxis(y0, -1, 1)
    assert not y0n[0, 2:4].any() and not y0n[1, 4:6].any()


@pytest.mark.parametrize("value", [0.1, 0.7, -2.3])
def test_constant_large_group_gives_beta(value):
    x = np.full((1, 4, 123, 129), value, np.float32)
    beta = np.array([0.25, -1.5, 3.0, 0.1], np.float32)
    gamma = np.array([2.0, 0.5, -1.0, 7.0], np.float32)
    for layout, xx in (("nchw", x), ("nhwc", np.ascontiguousarray(np.moveaxis(x, 1, -1)))):
        y = gnk.group_norm(xx, 1, gamma, beta, layout=layout)
        yn = y if layout == "nchw" else np.moveaxis(y, -1, 1)
        np.testing.assert_array_equal(yn, np.broadcast_to(beta[None, :, None, None], x.shape))


@pytest.mark.parametrize("act", [None, "silu", "relu"])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_confined_to_its_group(layout, act, bad):
    rng = np.random.default_rng(7)
    N, C, H, W, G = 2, 8, 4, 4, 4
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    x[1, 2, 1, 3] = bad               # sample 1, group 1 (channels 2..3)
    gamma = rng.standard_normal(C).astype(np.float32)
    beta = rng.standard_normal(C).astype(np.float32)
    x = _to_layout(x, layout)
    with np.errstate(invalid="ignore"):
        ref, rmean, rrstd = ref_group_norm(x, G, gamma, beta, 1e-5, layout, act,
                                           return_stats=True)
    y, mean, rstd = gnk.group_norm(x, G, gamma, beta, layout=layout, act=act,
                                   return_stats=True)
    yn = y if layout == "nchw" else np.moveaxis(y, -1, 1)
    assert np.isnan(yn[1, 2:4]).all()
    mask = np.ones(yn.shape, bool)
    mask[1, 2:4] = False
    assert np.isfinite(yn[mask]).all()
    refn = ref if layout == "nchw" else np.moveaxis(ref, -1, 1)
    np.testing.assert_allclose(yn[mask], refn[mask], **TOL)
    assert np.isnan(rstd[1, 1]) or np.isnan(mean[1, 1])
    smask = np.ones((N, G), bool)
    smask[1, 1] = False
    np.testing.assert_allclose(mean[smask], rmean[smask], **TOL)
    np.testing.assert_allclose(rstd[smask], rrstd[smask], **TOL)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_group_larger_than_2_pow_22(layout):
    # One group of 2 * (2**21 + 5) = 2**22 + 10 elements; ~17 MB of float32.
    S = 2 ** 21 + 5
    rng = np.random.default_rng(3)
    shape = (1, 2, S) if layout == "nchw" else (1, S, 2)
    x = rng.standard_normal(shape, dtype=np.float32)
    x *= 3.0
    x += 5.0
    gamma = np.array([1.5, -0.5], np.float32)
    beta = np.array([0.25, 2.0], np.float32)
    y, mean, rstd = gnk.group_norm(x, 1, gamma, beta, layout=layout, act="silu",
                                   return_stats=True)
    ref, rmean, rrstd = ref_group_norm(x, 1, gamma, beta, 1e-5, layout, "silu",
                                       return_stats=True)
    np.testing.assert_allclose(mean, rmean, rtol=1e-6)
    np.testing.assert_allclose(rstd, rrstd, rtol=1e-5)
    np.testing.assert_allclose(y, ref, **TOL)
