"""gnk.group_norm against the float64 reference on seeded random problems."""

import zlib

import ml_dtypes
import numpy as np
import pytest

import gnk
from reference import ref_group_norm

TOL = dict(rtol=1e-5, atol=1e-5)

# (N, C, *spatial) in logical NCHW order, groups.
CASES = [
    ((2, 4), 2),              # rank 2
    ((3, 6), 1),              # rank 2, G=1
    ((1, 20), 4),
    ((1, 5), 5),              # rank 2, G=C
    ((2, 3, 7), 3),           # G=C, odd C
    ((2, 5, 1), 5),           # spatial 1
    ((2, 12, 1, 1), 6),       # spatial 1, rank 4
    ((2, 64, 1), 64),
    ((1, 1, 10), 1),          # C=1
    ((1, 7, 9), 7),
    ((3, 9, 13), 3),
    ((2, 17, 4, 3), 17),
    ((2, 17, 5), 1),
    ((1, 33, 5, 5), 3),       # D=11
    ((2, 33, 6), 11),
    ((2, 40, 11), 8),         # D=5
    ((1, 96, 3, 3), 24),      # D=4
    ((2, 48, 31), 16),        # D=3
    ((2, 8, 3, 4, 5), 4),     # rank 5
    ((1, 16, 2, 3, 4), 16),   # rank 5, G=C
    ((4, 64, 7, 7), 32),
    ((1, 256, 32), 32),
    ((2, 128, 16, 16), 32),
    ((1, 320, 8, 8), 32),
    ((2, 320, 64, 64), 32),   # the SD UNet shape
]


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _to_layout(x, layout):
    return x if layout == "nchw" else np.ascontiguousarray(np.moveaxis(x, 1, -1))


def _problem(shape, G, layout, act):
    rng = _rng(shape, G, layout, act)
    C = shape[1]
    scale = rng.choice([0.5, 1.0, 3.0])
    offset = rng.choice([0.0, 0.0, 2.0, -5.0])
    x = (rng.standard_normal(shape) * scale + offset).astype(np.float32)
    x = _to_layout(x, layout)
    mode = rng.integers(4)
    gamma = rng.standard_normal(C).astype(np.float32) if mode & 1 else None
    beta = rng.standard_normal(C).astype(np.float32) if mode & 2 else None
    return x, gamma, beta


@pytest.mark.parametrize("act", [None, "silu", "relu"])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("shape,G", CASES, ids=[f"{'x'.join(map(str, s))}g{g}"
                                                   for s, g in CASES])
def test_random_vs_reference(shape, G, layout, act):
    x, gamma, beta = _problem(shape, G, layout, act)
    x_before = x.copy()
    y = gnk.group_norm(x, G, gamma, beta, layout=layout, act=act)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert y is not x
    np.testing.assert_array_equal(x, x_before)  # input untouched
    np.testing.assert_allclose(y, ref_group_norm(x, G, gamma, beta, 1e-5, layout, act),
                               **TOL)


@pytest.mark.parametrize("eps", [0.0, 1e-6, 1e-3, 0.5])
def test_eps(eps):
    rng = _rng("eps", eps)
    x = rng.standard_normal((2, 12, 5, 5)).astype(np.float32)
    y = gnk.group_norm(x, 4, eps=eps, act="silu")
    np.testing.assert_allclose(y, ref_group_norm(x, 4, eps=eps, act="silu"), **TOL)


@pytest.mark.parametrize("act", [None, "silu", "relu"])
@pytest.mark.parametrize("shape,G", [((2, 6, 5), 3), ((1, 17, 3, 3), 17),
                                      ((2, 64, 8, 8), 32), ((2, 320, 16, 16), 32),
                                      ((3, 10), 5), ((1, 24, 2, 3, 4), 6)])
def test_nchw_nhwc_agree(shape, G, act):
    rng = _rng("agree", shape, G, act)
    x = rng.standard_normal(shape).astype(np.float32)
    C = shape[1]
    gamma = rng.standard_normal(C).astype(np.float32)
    beta = rng.standard_normal(C).astype(np.float32)
    y1, m1, r1 = gnk.group_norm(x, G, gamma, beta, act=act, return_stats=True)
    xt = np.moveaxis(x, 1, -1)                       # strided view
    y2, m2, r2 = gnk.group_norm(xt, G, gamma, beta, layout="nhwc", act=act,
                                return_stats=True)
    y3 = gnk.group_norm(np.ascontiguousarray(xt), G, gamma, beta, layout="nhwc", act=act)
    np.testing.assert_allclose(np.moveaxis(y2, -1, 1), y1, **TOL)
    np.testing.assert_array_equal(y3, y2)
    np.testing.assert_allclose(m2, m1, **TOL)
    np.testing.assert_allclose(r2, r1, **TOL)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("shape,G", [((1, 4, 300, 300), 1), ((2, 320, 64, 64), 32),
                                      ((1, 64, 128, 128), 32), ((8, 33, 17), 11),
                                      ((64, 32), 8)])
def test_threads_bitwise(shape, G, layout):
    rng = _rng("threads", shape, G, layout)
    x = _to_layout((rng.standard_normal(shape) * 2 + 1).astype(np.float32), layout)
    C = shape[1]
    gamma = rng.standard_normal(C).astype(np.float32)
    beta = rng.standard_normal(C).astype(np.float32)
    y1, m1, r1 = gnk.group_norm(x, G, gamma, beta, layout=layout, act="silu",
                                threads=1, return_stats=True)
    y2, m2, r2 = gnk.group_norm(x, G, gamma, beta, layout=layout, act="silu",
                                threads=2, return_stats=True)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(r1, r2)
    y0 = gnk.group_norm(x, G, gamma, beta, layout=layout, act="silu")
    np.testing.assert_array_equal(y0, y1)
    np.testing.assert_allclose(y1, ref_group_norm(x, G, gamma, beta, 1e-5, layout, "silu"),
                               **TOL)


def _kernel_problems(info):
    """Problems (shape in the kernel's layout, groups) kernel `info` accepts."""
    G = info["groups"] or 8
    C = info["channels"] or G * 5
    out = []
    for n, spatial in ((2, (3, 5)), (1, (1,)), (1, (67,)), (3, (2, 16))):
        shape = (n, C) + spatial
        out.append((shape if info["layout"] == "nchw" else (n,) + spatial + (C,), G))
    if not info["groups"]:
        out.append(((2, 7, 3) if info["layout"] == "nchw" else (2, 3, 7), 7))
        out.append(((1, 6, 11) if info["layout"] == "nchw" else (1, 11, 6), 1))
    return out


# (relative, absolute) against float64 on the inputs as rounded to the dtype.
TOLERANCE = {"float32": (1e-5, 1e-5), "float16": (5e-3, 1e-3), "bfloat16": (2e-2, 1e-2)}


def test_every_supported_kernel_vs_reference():
    ks = [k for k in gnk.kernels() if k["supported"]]
    assert ks, "no kernel is supported on this CPU"
    failures = []
    for k in ks:
        for shape, G in _kernel_problems(k):
            rng = _rng("kernel", k["name"], shape)
            dt = {"float32": np.float32, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}[k["dtype"]]
            rtol, atol = TOLERANCE[k["dtype"]]
            x = (rng.standard_normal(shape) * 2 - 1).astype(dt)
            C = shape[1] if k["layout"] == "nchw" else shape[-1]
            gamma = rng.standard_normal(C).astype(np.float32)
            beta = rng.standard_normal(C).astype(np.float32)
            try:
                y = gnk.run_kernel(k["index"], x, G, gamma, beta)
            except gnk.GnkError as e:
                failures.append(f"{k['name']} on {shape} g{G}: {e.status}: {e}")
                continue
            assert y.dtype == x.dtype
            ref = ref_group_norm(x, G, gamma, beta, 1e-5, k["layout"], k["act"])
            err = np.abs(y.astype(np.float64) - ref) - (atol + rtol * np.abs(ref))
            if not np.all(err <= 0):
                failures.append(f"{k['name']} on {shape} g{G}: max excess {np.nanmax(err)}")
    assert not failures, "\n".join(failures)

