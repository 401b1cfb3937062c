"""gnk.general_group_norm (the C general API through ctypes) against a float64 numpy
reference of gnk.h's definition: every option the presets build on. Needs no framework."""
import math

import numpy as np
import pytest

import gnk
import parity_util
from parity_util import DTYPES, F32, assert_close, data, dtype_id, params


def ref(x, G, axis=1, grouping="contiguous", reduce_axes=None, gamma=None, beta=None,
        affine="channel", eps=1e-5, mask=None, act=None):
    x = np.asarray(x).astype(np.float64)
    r = x.ndim
    ax = axis % r
    C = x.shape[ax]
    G = C if G == -1 else G
    D = C // G
    red = [i for i in range(1, r) if i != ax] if reduce_axes is None else [a % r for a in reduce_axes]
    xm = np.moveaxis(x, ax, -1)
    shp = xm.shape[:-1] + ((G, D) if grouping == "contiguous" else (D, G))
    xg = xm.reshape(shp)
    raxes = tuple(i if i < ax else i - 1 for i in red) + ((r,) if grouping == "contiguous" else (r - 1,))
    w = np.ones_like(xg) if mask is None else np.moveaxis(
        np.broadcast_to(mask, x.shape).astype(np.float64), ax, -1).reshape(shp)
    W = w.sum(axis=raxes, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(W > 0, (w * xg).sum(axis=raxes, keepdims=True) / W, 0.0)
        var = np.where(W > 0, (w * (xg - mean) ** 2).sum(axis=raxes, keepdims=True) / W, 0.0)
    z = ((xg - mean) / np.sqrt(var + eps)).reshape(xm.shape)
    gidx = np.arange(C) // D if grouping == "contiguous" else np.arange(C) % G
    if gamma is not None:
        g64 = np.asarray(gamma).astype(np.float64)
        z = z * (g64[gidx] if affine == "group" else g64)
    if beta is not None:
        b64 = np.asarray(beta).astype(np.float64)
        z = z + (b64[gidx] if affine == "group" else b64)
    if act == "silu":
        z = z / (1 + np.exp(-z))
    elif act == "relu":
        z = np.maximum(z, 0)
    elif act == "gelu":
        z = 0.5 * z * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    elif act == "gelu_tanh":
        z = 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z ** 3)))
    return np.moveaxis(z, -1, ax)


CASES = [  # shape, groups, axis, grouping, reduce_axes
    ((2, 6, 5, 3), 3, 1, "contiguous", None),
    ((2, 6, 5, 3), 3, 1, "interleaved", None),
    ((2, 5, 6, 3), 2, 2, "interleaved", None),
    ((3, 4, 5, 6), 3, -1, "contiguous", (1,)),
    ((3, 4, 6, 5), 2, 2, "contiguous", (3,)),
    ((2, 4, 6, 4, 3), 2, 2, "interleaved", (1, 4)),
    ((2, 8), 4, 1, "contiguous", None),
    ((2, 3, 8), -1, -1, "contiguous", ()),
    ((2, 3, 300, 7), 3, 1, "contiguous", (2,)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_options(case, masked, dtype):
    shape, G, axis, grouping, red = case
    x = data(shape, dtype, seed=sum(shape))
    c = shape[axis]
    gm, bt = params(c, seed=c)
    mask = (np.random.default_rng(1).random(shape) > 0.3).astype(np.float32) if masked else None
    y, mean, rstd = gnk.general_group_norm(x, G, axis=axis, grouping=grouping, reduce_axes=red,
                                           gamma=gm, beta=bt, mask=mask, return_stats=True)
    assert_close(y.astype(np.float32), ref(x, G, axis, grouping, red, gm, bt, mask=mask), dtype,
                 str(case))
    g = c if G == -1 else G
    kept = [] if red is None else [i for i in range(1, len(shape))
                                   if i != axis % len(shape) and i not in [a % len(shape) for a in red]]
    assert mean.shape == rstd.shape == (shape[0], *[shape[i] for i in kept], g)


@pytest.mark.parametrize("act", ["silu", "relu", "gelu", "gelu_tanh"])
@pytest.mark.parametrize("affine", ["channel", "group"])
def test_activations_and_affine(act, affine):
    x = data((2, 12, 7), F32, seed=4)
    n = 3 if affine == "group" else 12
    gm, bt = params(n, seed=n)
    y = gnk.general_group_norm(x, 3, gamma=gm, beta=bt, affine=affine, act=act)
    assert_close(y, ref(x, 3, gamma=gm, beta=bt, affine=affine, act=act), F32, act)


def test_one_based_axis_and_sumsq():
    x = data((2, 3, 8, 5), F32, seed=5)
    a = gnk.general_group_norm(x, 4, axis=3, one_based=True)
    b = gnk.general_group_norm(x, 4, axis=2, variance="sumsq")
    assert_close(a, ref(x, 4, axis=2), F32, "R axis 3")
    assert_close(b, ref(x, 4, axis=2), F32, "sumsq")
    with pytest.raises(gnk.GnkError, match="1-based"):
        gnk.general_group_norm(x, 4, axis=1, one_based=True)


def test_routing_names():
    assert gnk.general_kernel_name((2, 32, 4, 4), 8).startswith("gnk_")
    assert gnk.general_kernel_name((2, 4, 4, 32), 8, axis=-1).startswith("gnk_")
    assert gnk.general_kernel_name((2, 32, 4, 4), 8, grouping="interleaved") == "general_f32"
    assert gnk.general_kernel_name((2, 32, 4, 4), 8, act="gelu") == "general_f32"


@pytest.mark.parametrize("kwargs,status", [
    (dict(axis=0), "GNK_ERR_BAD_AXIS"), (dict(axis=4), "GNK_ERR_BAD_AXIS"),
    (dict(reduce_axes=(0, 2)), "GNK_ERR_BAD_AXIS"), (dict(reduce_axes=(1,)), "GNK_ERR_BAD_AXIS"),
    (dict(groups=3), "GNK_ERR_GROUPS_NOT_DIVISOR"), (dict(groups=0), "GNK_ERR_BAD_GROUPS"),
    (dict(grouping="weird"), "GNK_ERR_BAD_OPTION"), (dict(eps=-1.0), "GNK_ERR_BAD_EPS"),
])
def test_errors(kwargs, status):
    x = np.zeros((2, 8, 3, 3), np.float32)
    kw = dict(groups=4)
    kw.update(kwargs)
    with pytest.raises(gnk.GnkError) as e:
        gnk.general_group_norm(x, kw.pop("groups"), **kw)
    assert e.value.status == status, (e.value.status, str(e.value))


def test_rank_errors():
    with pytest.raises(gnk.GnkError, match="at least 2") as e:
        gnk.general_group_norm(np.zeros(4, np.float32), 1)
    assert e.value.status == "GNK_ERR_BAD_RANK"
    with pytest.raises(gnk.GnkError, match="GNK_MAX_RANK"):
        gnk.general_group_norm(np.zeros((1,) * 9, np.float32), 1)


def test_loud_skip(monkeypatch):
    """A framework that does not import is skipped with its import error, and recorded
    for the session summary."""
    failures = {}
    monkeypatch.setattr(parity_util, "IMPORT_FAILURES", failures)
    with pytest.raises(pytest.skip.Exception, match="LOUD SKIP: nosuchframework failed to import"):
        parity_util.need("gnk_no_such_framework_module", "nosuchframework")
    assert "ModuleNotFoundError" in failures["nosuchframework"]
