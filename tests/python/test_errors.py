"""Invalid calls raise gnk.GnkError carrying the library's message and status."""

import numpy as np
import pytest

import gnk
from gnk import Status

X = np.zeros((2, 6, 4, 4), np.float32)


def _err(fn, *args, **kw):
    with pytest.raises(gnk.GnkError) as info:
        fn(*args, **kw)
    e = info.value
    assert isinstance(e, ValueError)
    assert isinstance(e.status, str) and e.status
    assert str(e)
    return e


def test_groups_zero():
    e = _err(gnk.group_norm, X, 0)
    assert e.code == Status.ERR_BAD_GROUPS
    assert "group" in str(e).lower()


def test_groups_negative():
    e = _err(gnk.group_norm, X, -2)
    assert e.code == Status.ERR_BAD_GROUPS
    assert "group" in str(e).lower() and "-2" in str(e)


@pytest.mark.parametrize("G", [4, 5, 12])
def test_groups_not_divisor(G):
    e = _err(gnk.group_norm, X, G)
    assert e.code == Status.ERR_GROUPS_NOT_DIVISOR
    msg = str(e)
    assert "group" in msg.lower() and str(G) in msg and "6" in msg


def test_status_names_distinct():
    a = _err(gnk.group_norm, X, 0)
    b = _err(gnk.group_norm, X, 4)
    assert a.status != b.status


@pytest.mark.parametrize("dtype", [np.float64, np.complex64, np.int32])
def test_wrong_dtype(dtype):
    e = _err(gnk.group_norm, X.astype(dtype), 2)
    assert np.dtype(dtype).name in str(e)
    assert e.code == Status.ERR_BAD_DTYPE


def test_rank_1():
    e = _err(gnk.group_norm, np.zeros(6, np.float32), 2)
    assert "rank" in str(e)
    _err(gnk.group_norm, np.float32(1.0), 1)


def test_bad_layout():
    e = _err(gnk.group_norm, X, 2, layout="nchwc")
    assert "nchwc" in str(e) and "layout" in str(e)
    assert e.code == Status.ERR_BAD_LAYOUT


def test_bad_act():
    e = _err(gnk.group_norm, X, 2, act="gelu")
    assert "gelu" in str(e)
    assert e.code == Status.ERR_BAD_ACTIVATION


@pytest.mark.parametrize("which", ["gamma", "beta"])
@pytest.mark.parametrize("length", [5, 7, 0])
def test_param_wrong_length(which, length):
    e = _err(gnk.group_norm, X, 2, **{which: np.ones(length, np.float32)})
    assert which in str(e) and "6" in str(e)


def test_param_wrong_rank():
    e = _err(gnk.group_norm, X, 2, gamma=np.ones((2, 3), np.float32))
    assert "gamma" in str(e)


@pytest.mark.parametrize("eps", [-1e-5, float("nan"), float("inf")])
def test_bad_eps(eps):
    e = _err(gnk.group_norm, X, 2, eps=eps)
    assert e.code == Status.ERR_BAD_EPS
    assert "eps" in str(e)


@pytest.mark.parametrize("threads", [-1, 257, 2 ** 40])
def test_bad_threads(threads):
    e = _err(gnk.group_norm, X, 2, threads=threads)
    assert e.code == Status.ERR_BAD_THREADS
    assert "thread" in str(e)


def test_out_wrong_shape_or_dtype():
    e = _err(gnk.group_norm, X, 2, out=np.empty((2, 6, 4, 5), np.float32))
    assert "shape" in str(e)
    e = _err(gnk.group_norm, X, 2, out=np.empty(X.shape, np.float64))
    assert "float64" in str(e)
    ro = np.empty(X.shape, np.float32)
    ro.flags.writeable = False
    _err(gnk.group_norm, X, 2, out=ro)


def test_huge_groups_not_truncated():
    e = _err(gnk.group_norm, X, 2 ** 64 + 2)
    assert "groups" in str(e)


def test_library_recovers_after_errors():
    _err(gnk.group_norm, X, 0)
    y = gnk.group_norm(np.arange(12, dtype=np.float32).reshape(2, 6), 2)
    assert np.isfinite(y).all()
    e = _err(gnk.group_norm, X, 5)
    assert "5" in str(e)
