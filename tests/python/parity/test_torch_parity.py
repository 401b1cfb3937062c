"""gnk.torch vs PyTorch (CPU): torch.nn.functional.group_norm and torch.native_group_norm."""
import numpy as np
import pytest

import gnk
from parity_util import (BF16, DTYPES, F32, assert_close, data, dtype_id, folded_mag,
                         messages_match, need, params, ref_stats)

# (shape, groups): ranks 2..5, G = 1, G = C, spatial size 1.
CASES = [((3, 6), 3), ((4, 8), 1), ((2, 6), 6), ((2, 6, 5), 2), ((2, 8, 4, 3), 4),
         ((2, 8, 4, 3), 1), ((2, 8, 4, 3), 8), ((1, 16, 1, 1), 4), ((3, 12, 1), 3),
         ((2, 4, 3, 2, 3), 2), ((2, 64, 7, 9), 32)]


def _torch():
    return need("torch")


def _t(torch, a):
    if a is None:
        return None
    if BF16 is not None and a.dtype == BF16:
        return torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(a))


def _np(t):
    import torch
    return t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape,groups", CASES, ids=[f"{s}g{g}" for s, g in CASES])
@pytest.mark.parametrize("affine", ["none", "f32", "same"])
def test_group_norm(shape, groups, dtype, affine):
    torch = _torch()
    import torch.nn.functional as F
    x = data(shape, dtype, seed=len(shape) * 100 + groups)
    c = shape[1]
    w = b = None
    if affine != "none":
        w, b = params(c, seed=groups, dtype=F32 if affine == "f32" else dtype)
    want = _np(F.group_norm(_t(torch, x), groups, _t(torch, w), _t(torch, b), eps=1e-5))
    got = gnk.torch.group_norm(x, groups, w, b, eps=1e-5)
    assert got.dtype == x.dtype
    # PyTorch folds the affine (y = x * scale + shift): its rounding scales with |x*scale|.
    assert_close(got.astype(np.float32), want, dtype, f"group_norm{shape} G={groups}",
                 mag=folded_mag(x, groups, 1e-5, w))


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("mixed", [False, True])
def test_native_group_norm_stats(dtype, mixed):
    torch = _torch()
    shape, groups = (3, 12, 5, 4), 4
    x = data(shape, dtype, seed=7)
    w, b = params(12, seed=7, dtype=F32 if mixed else dtype)
    n, c, hw = 3, 12, 20
    ty, tm, tr = torch.native_group_norm(_t(torch, x), _t(torch, w), _t(torch, b), n, c, hw,
                                         groups, 1e-5)
    y, m, r = gnk.torch.native_group_norm(x, w, b, n, c, hw, groups, 1e-5)
    assert_close(y.astype(np.float32), _np(ty), dtype, "y")
    # mean/rstd dtype: float32 for mixed 16-bit input, else the input's dtype.
    want_dt = F32 if (mixed or dtype == F32) else dtype
    assert m.dtype == want_dt and r.dtype == want_dt, (m.dtype, r.dtype)
    assert m.shape == (n, groups) and r.shape == (n, groups)
    assert_close(m.astype(np.float32), _np(tm), want_dt, "mean")
    assert_close(r.astype(np.float32), _np(tr), want_dt, "rstd")


def test_group_norm_with_stats_matches_native():
    torch = _torch()
    x = data((2, 6, 7), F32, seed=3)
    y, m, r = gnk.torch.group_norm_with_stats(x, 3)
    ty, tm, tr = torch.native_group_norm(_t(torch, x), None, None, 2, 6, 7, 3, 1e-5)
    assert_close(y, ty.numpy(), F32, "y")
    assert_close(m, tm.numpy(), F32, "mean")
    assert_close(r, tr.numpy(), F32, "rstd")


def test_edge_values():
    """Constant groups (y = beta), a group of one element, large offsets."""
    torch = _torch()
    import torch.nn.functional as F
    x = np.full((2, 4, 3), 7.25, np.float32)
    w, b = params(4, seed=1)
    got = gnk.torch.group_norm(x, 2, w, b)
    np.testing.assert_array_equal(got, np.broadcast_to(b[None, :, None], x.shape))  # exactly beta
    want = F.group_norm(_t(torch, x), 2, _t(torch, w), _t(torch, b)).numpy()
    assert_close(got, want, F32, "const", mag=folded_mag(x, 2, 1e-5, w))
    x = (1e4 + 1e-2 * np.random.default_rng(2).standard_normal((2, 4, 50))).astype(np.float32)
    want = F.group_norm(_t(torch, x), 2).numpy()
    got = gnk.torch.group_norm(x, 2)
    # gnk is exact here (float64 reference); PyTorch's folded f32 x * scale + shift with
    # |x * scale| ~ 1e6 loses ~0.1: compared with that magnitude taken into account.
    mean, var = ref_stats(x, 2)
    assert_close(got, (x - mean) / np.sqrt(var + 1e-5), F32, "offset vs float64")
    assert_close(got, want, F32, "offset", mag=folded_mag(x, 2, 1e-5))


def test_empty_batch():
    torch = _torch()
    import torch.nn.functional as F
    x = np.zeros((0, 4, 3), np.float32)
    assert F.group_norm(_t(torch, x), 2).shape == gnk.torch.group_norm(x, 2).shape
    ty, tm, tr = torch.native_group_norm(_t(torch, x), None, None, 0, 4, 3, 2, 1e-5)
    y, m, r = gnk.torch.native_group_norm(x, None, None, 0, 4, 3, 2, 1e-5)
    assert y.shape == tuple(ty.shape) and m.shape == tuple(tm.shape) and r.shape == tuple(tr.shape)


ERRORS = [  # (shape, groups, weight length, bias length)
    ((4,), 2, None, None),             # rank < 2
    ((2, 6, 4), 4, None, None),        # C % G
    ((2, 6, 4), 8, None, None),        # G > C
    ((2, 6, 4), -2, None, None),       # G < 0
    ((2, 6, 4), 0, None, None),        # G == 0 (PyTorch: ZeroDivisionError)
    ((2, 6, 4), 2, 5, None),           # weight length
    ((2, 6, 4), 2, None, 5),           # bias length
    ((1, 4), 4, None, None),           # one value per channel
    ((1, 4, 1), 4, None, None),
    ((2, 0, 3), 2, None, None),        # no channels
    ((2, 4, 0), 2, None, None),        # HxW == 0
]


@pytest.mark.parametrize("shape,groups,wl,bl", ERRORS, ids=[str(e) for e in ERRORS])
def test_errors(shape, groups, wl, bl):
    torch = _torch()
    import torch.nn.functional as F
    x = np.zeros(shape, np.float32)
    w = np.ones(wl, np.float32) if wl else None
    b = np.ones(bl, np.float32) if bl else None
    with pytest.raises(Exception) as fw:
        F.group_norm(_t(torch, x), groups, _t(torch, w), _t(torch, b))
    with pytest.raises(gnk.GnkError) as ours:
        gnk.torch.group_norm(x, groups, w, b)
    if not isinstance(fw.value, ZeroDivisionError):
        assert messages_match(str(ours.value), str(fw.value)), (str(ours.value), str(fw.value))


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_silu_special_values_match_torch(layout):
    """GN+SiLU with beta = +-Inf, NaN, +-1e38, -1e4, -100: the NaN / +Inf / -Inf pattern of
    PyTorch's silu(group_norm(x)) (silu(-Inf) is NaN in both), the finite values close (for
    z below -88 PyTorch gives -0, gnk -0 or a value below 3e-35 in magnitude)."""
    torch = _torch()
    import torch.nn.functional as F
    C, G = 64, 8
    x = np.random.default_rng(5).standard_normal((2, C, 5, 5)).astype(np.float32)
    w = np.ones(C, np.float32)
    b = np.tile(np.array([np.inf, -np.inf, np.nan, 1e38, -1e38, -1e4, -100.0, 0.5], np.float32), C // 8)
    want = F.silu(F.group_norm(_t(torch, x), G, _t(torch, w), _t(torch, b))).numpy()
    xl = x if layout == "nchw" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    got = gnk.group_norm(xl, G, w, b, layout=layout, act="silu")
    if layout == "nhwc":
        got = got.transpose(0, 3, 1, 2)
    for what, f in (("NaN", np.isnan), ("+Inf", np.isposinf), ("-Inf", np.isneginf)):
        np.testing.assert_array_equal(f(got), f(want), err_msg=f"{what} positions differ from PyTorch")
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-5, atol=1e-5)
