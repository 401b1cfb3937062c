"""f16 and bf16: kernels, statistics outputs, mixed-precision parameters and
the numerics that broke other libraries (16-bit overflow and stalling sums).

Reference: float64 two-pass statistics on the inputs as rounded to the dtype.
Tolerances (relative, absolute): f16 5e-3 / 1e-3, bf16 2e-2 / 1e-2."""
import ml_dtypes
import numpy as np
import pytest

import gnk
from reference import ref_group_norm

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
TOL = {F16: (5e-3, 1e-3), BF16: (2e-2, 1e-2), np.dtype(np.float32): (1e-5, 1e-5)}


def _close(y, ref, dtype):
    rtol, atol = TOL[np.dtype(dtype)]
    assert y.dtype == np.dtype(dtype)
    err = np.abs(y.astype(np.float64) - ref) - (atol + rtol * np.abs(ref))
    assert np.all(err <= 0), f"max excess {np.nanmax(err)} at {np.unravel_index(np.nanargmax(err), err.shape)}"


def _x(rng, shape, dtype, scale=1.0, offset=0.0):
    return (rng.standard_normal(shape) * scale + offset).astype(dtype)


@pytest.mark.parametrize("dtype", [F16, BF16])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("act", [None, "silu", "relu"])
@pytest.mark.parametrize("shape,G", [((2, 320, 8, 8), 32), ((1, 7, 5), 7), ((3, 33, 17), 3), ((2, 16), 4)])
def test_dtype_vs_reference(dtype, layout, act, shape, G):
    rng = np.random.default_rng(abs(hash((str(dtype), layout, act, shape))) % 2**32)
    x = _x(rng, shape, dtype, 2.0, 0.5)
    if layout == "nhwc":
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    C = shape[1]
    gamma = rng.standard_normal(C).astype(np.float32)
    beta = rng.standard_normal(C).astype(np.float32)
    y, mean, rstd = gnk.group_norm(x, G, gamma, beta, layout=layout, act=act, return_stats=True)
    ref, rmean, rrstd = ref_group_norm(x, G, gamma, beta, 1e-5, layout, act, return_stats=True)
    _close(y, ref, dtype)
    assert mean.dtype == np.float32 and rstd.dtype == np.float32 and mean.shape == (shape[0], G)
    np.testing.assert_allclose(mean, rmean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rstd, rrstd, rtol=1e-5)


@pytest.mark.parametrize("dtype", [F16, BF16])
def test_mixed_parameters_in_input_dtype(dtype):
    """gamma/beta given in x's 16-bit dtype stay in it (PyTorch's mixed type)."""
    rng = np.random.default_rng(7)
    x = _x(rng, (2, 64, 9), dtype)
    g = rng.standard_normal(64).astype(dtype)
    b = rng.standard_normal(64).astype(dtype)
    y = gnk.group_norm(x, 8, g, b, act="silu")
    ref = ref_group_norm(x, 8, g.astype(np.float32), b.astype(np.float32), 1e-5, "nchw", "silu")
    _close(y, ref, dtype)
    # the same values passed as float32 give the same bits
    y32 = gnk.group_norm(x, 8, g.astype(np.float32), b.astype(np.float32), act="silu")
    assert np.array_equal(y.view(np.uint16), y32.view(np.uint16))


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_f16_large_values(layout):
    """|x| > 256 (x^2 overflows f16) up to the f16 maximum 65504."""
    rng = np.random.default_rng(3)
    x = np.clip(rng.standard_normal((2, 32, 16, 16)) * 12000 + 20000, -65504, 65504).astype(F16)
    x[0, 0, 0, 0] = 65504
    x[1, 5, 3, 3] = -65504
    if layout == "nhwc":
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    y, mean, rstd = gnk.group_norm(x, 8, layout=layout, return_stats=True)
    ref, rmean, rrstd = ref_group_norm(x, 8, None, None, 1e-5, layout, None, return_stats=True)
    assert np.all(np.isfinite(y.astype(np.float32)))
    _close(y, ref, F16)
    np.testing.assert_allclose(mean, rmean, rtol=1e-5)
    np.testing.assert_allclose(rstd, rrstd, rtol=1e-5)


@pytest.mark.parametrize("n_elems", [65504 + 1000, 2**24 + 16])
def test_f16_groups_beyond_16bit_counts(n_elems):
    """Groups with more than 65504 elements (an f16 count overflows) and more
    than 2^24 (an f32 count stops being exact)."""
    rng = np.random.default_rng(n_elems)
    x = (rng.random((1, 1, n_elems)) * 4 + 100).astype(F16)
    y, mean, rstd = gnk.group_norm(x, 1, return_stats=True)
    ref, rmean, rrstd = ref_group_norm(x, 1, None, None, 1e-5, "nchw", None, return_stats=True)
    np.testing.assert_allclose(mean, rmean, rtol=1e-6)
    np.testing.assert_allclose(rstd, rrstd, rtol=1e-5)
    _close(y, ref, F16)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_bf16_all_ones(layout):
    """A bf16 running sum of ones stalls at 256; statistics are f32/f64 here."""
    x = np.ones((1, 8, 300, 300), BF16)
    if layout == "nhwc":
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    beta = np.linspace(-1, 1, 8).astype(np.float32)
    y, mean, rstd = gnk.group_norm(x, 2, beta=beta, layout=layout, return_stats=True)
    assert np.all(mean == 1.0)
    np.testing.assert_allclose(rstd, 1 / np.sqrt(1e-5), rtol=1e-6)
    chan = np.moveaxis(y.astype(np.float32), -1, 1) if layout == "nhwc" else y.astype(np.float32)
    for c in range(8):  # a constant group gives exactly beta (rounded to bf16)
        assert np.all(chan[0, c] == np.float32(BF16.type(beta[c])))


@pytest.mark.parametrize("dtype", [F16, BF16])
def test_nan_stays_in_its_group(dtype):
    rng = np.random.default_rng(11)
    x = _x(rng, (2, 8, 40), dtype)
    x[1, 3, 7] = np.nan
    y = gnk.group_norm(x, 4).astype(np.float32)
    assert np.all(np.isnan(y[1, 2:4]))
    mask = np.ones(y.shape, bool)
    mask[1, 2:4] = False
    assert np.all(np.isfinite(y[mask]))


@pytest.mark.parametrize("dtype", [F16, BF16])
def test_16bit_layouts_agree(dtype):
    rng = np.random.default_rng(5)
    x = _x(rng, (2, 96, 7, 9), dtype)
    a = gnk.group_norm(x, 32, act="silu")
    b = gnk.group_norm(np.ascontiguousarray(np.moveaxis(x, 1, -1)), 32, layout="nhwc", act="silu")
    _close(a, ref_group_norm(x, 32, None, None, 1e-5, "nchw", "silu"), dtype)
    assert np.abs(a.astype(np.float32) - np.moveaxis(b, -1, 1).astype(np.float32)).max() <= 2 * TOL[dtype][1] + 0.05


def test_threads_bitwise_16bit():
    rng = np.random.default_rng(9)
    for dtype in (F16, BF16):
        x = _x(rng, (1, 64, 128, 64), dtype)
        y1 = gnk.group_norm(x, 1, threads=1)
        y2 = gnk.group_norm(x, 1, threads=2)
        assert np.array_equal(y1.view(np.uint16), y2.view(np.uint16))
