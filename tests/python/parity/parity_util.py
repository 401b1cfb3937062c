"""Shared helpers of the parity tests: framework imports (loud skips), data, tolerances."""
import importlib
import sys

import numpy as np
import pytest

try:
    import ml_dtypes
    BF16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - ml_dtypes is in requirements.txt
    BF16 = None
F32 = np.dtype(np.float32)
F16 = np.dtype(np.float16)

IMPORT_FAILURES = {}  # framework -> reason (listed again in the session summary)
VERSIONS = {}

# reliability.md: f32 1e-5/1e-5, f16 5e-3/1e-3, bf16 2e-2/1e-2 (relative, absolute).
TOL = {F32: (1e-5, 1e-5), F16: (5e-3, 1e-3)}
if BF16 is not None:
    TOL[BF16] = (2e-2, 1e-2)

DTYPES = [F32, F16] + ([BF16] if BF16 is not None else [])


def dtype_id(dt):
    return {F32: "f32", F16: "f16"}.get(np.dtype(dt), "bf16")


def need(module, label=None):
    """Import `module` or skip LOUDLY with the import error (printed, and listed in the
    session summary)."""
    label = label or module
    try:
        m = importlib.import_module(module)
    except Exception as e:  # ImportError, or a broken install raising anything else
        why = f"{type(e).__name__}: {e}"
        IMPORT_FAILURES[label] = why
        print(f"\n!!! PARITY SKIP: {label} failed to import -- {why}", file=sys.stderr, flush=True)
        pytest.skip(f"LOUD SKIP: {label} failed to import: {why}")
    VERSIONS.setdefault(label, getattr(m, "__version__", "?"))
    return m


def data(shape, dtype, seed, scale=2.0, shift=0.5):
    """Normal data rounded to dtype (the framework and gnk see the same values)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * scale + shift).astype(np.float32).astype(dtype)


def params(n, seed, dtype=F32):
    rng = np.random.default_rng(seed + 1000)
    g = (1.0 + 0.5 * rng.standard_normal(n)).astype(np.float32).astype(dtype)
    b = (0.5 * rng.standard_normal(n)).astype(np.float32).astype(dtype)
    return g, b


def assert_close(got, want, dtype, what="", rtol=None, atol=None, mag=None):
    """|got - want| <= atol + rtol * max(|want|, mag) elementwise (NaN must match NaN).

    mag: optional magnitudes of the framework's intermediate terms (e.g. |x * scale| of a
    folded x * scale + shift), so that its own rounding of them is taken into account."""
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    r, a = TOL[np.dtype(dtype)]
    r = r if rtol is None else rtol
    a = a if atol is None else atol
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    nan_g, nan_w = np.isnan(g), np.isnan(w)
    assert np.array_equal(nan_g, nan_w), f"{what}: NaN positions differ"
    g, w = g[~nan_w], w[~nan_w]
    err = np.abs(g - w)
    m = np.abs(w)
    if mag is not None:
        m = np.maximum(m, np.broadcast_to(np.asarray(mag, np.float64), nan_w.shape)[~nan_w])
    bound = a + r * m
    bad = err > bound
    if bad.any():
        i = int(np.argmax(err - bound))
        raise AssertionError(f"{what}: {int(bad.sum())}/{g.size} values out of tolerance "
                             f"(rtol {r}, atol {a}); worst got {g[i]!r} want {w[i]!r}")


def messages_match(gnk_msg, fw_msg):
    """The gnk message names the same problem: identical text, or the framework's text
    contained in it (frameworks prefix their own decorations)."""
    norm = lambda s: " ".join(str(s).split())  # noqa: E731
    return norm(fw_msg) in norm(gnk_msg) or norm(gnk_msg) in norm(fw_msg)


def ref_stats(x, groups, axis=1, grouping="contiguous"):
    """float64 mean and rstd-less variance per element's group (broadcast to x's shape),
    statistics over every axis but 0 and the channel axis."""
    x64 = np.moveaxis(np.asarray(x).astype(np.float64), axis, -1)
    c = x64.shape[-1]
    shp = (x64.shape[0], -1, groups, c // groups) if grouping == "contiguous" else \
        (x64.shape[0], -1, c // groups, groups)
    xg = x64.reshape(shp)
    red = (1, 3) if grouping == "contiguous" else (1, 2)
    mean = xg.mean(axis=red, keepdims=True)
    var = ((xg - mean) ** 2).mean(axis=red, keepdims=True)
    mean = np.moveaxis(np.broadcast_to(mean, xg.shape).reshape(x64.shape), -1, axis)
    var = np.moveaxis(np.broadcast_to(var, xg.shape).reshape(x64.shape), -1, axis)
    return mean, var


def folded_mag(x, groups, eps, gamma=None, axis=1, grouping="contiguous"):
    """|x| * rstd * |gamma|: the size of the terms of a folded x * scale + shift (PyTorch,
    Keras and TF compute y that way), whose f32 rounding dominates when var ~ 0."""
    mean, var = ref_stats(x, groups, axis, grouping)
    m = np.abs(np.asarray(x).astype(np.float64)) / np.sqrt(var + eps)
    if gamma is not None:
        shape = [1] * np.ndim(x)
        shape[axis] = -1
        m = m * np.abs(np.asarray(gamma).astype(np.float64)).reshape(shape)
    return m
