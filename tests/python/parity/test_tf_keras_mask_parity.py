"""gnk.keras masks vs tf.keras 2 (tf_keras.layers.GroupNormalization, on TensorFlow):
the mask broadcast to the input is used as frequency weights (tf.nn.weighted_moments),
0/0 := 0 for a fully masked group, and masked positions are still normalized."""
import numpy as np
import pytest

import gnk
from parity_util import F16, F32, assert_close, data, folded_mag, need, params


def _tf_keras():
    need("tensorflow")
    return need("tf_keras")


def _run(tfk, x, mask, groups, axis, gamma, beta, epsilon=1e-3, dtype=F32):
    import tensorflow as tf
    layer = tfk.layers.GroupNormalization(groups=groups, axis=axis, epsilon=epsilon,
                                          dtype="float16" if dtype == F16 else "float32")
    layer.build(x.shape)
    layer.gamma.assign(gamma.astype(dtype))
    layer.beta.assign(beta.astype(dtype))
    m = None if mask is None else tf.constant(mask.astype(dtype))
    return layer(tf.constant(x), mask=m).numpy()


MASKS = ["binary", "weights", "group_masked", "broadcast", "all_zero", "ones"]


@pytest.mark.parametrize("kind", MASKS)
@pytest.mark.parametrize("shape,groups,axis", [((3, 10, 8), 4, -1), ((2, 6, 5, 4), 2, -1),
                                               ((2, 8, 5, 3), 4, 1), ((4, 12), 3, -1)])
def test_mask(shape, groups, axis, kind):
    tfk = _tf_keras()
    rng = np.random.default_rng(sum(shape) + len(kind))
    x = data(shape, F32, seed=sum(shape))
    c = shape[axis]
    gamma, beta = params(c, seed=c)
    if kind == "binary":
        mask = (rng.random(shape) > 0.4).astype(np.float32)
    elif kind == "weights":  # non-binary frequency weights
        mask = rng.integers(0, 4, shape).astype(np.float32)
    elif kind == "group_masked":  # one (sample, group) fully masked: mean = var = 0
        mask = (rng.random(shape) > 0.3).astype(np.float32)
        sl = [0] + [slice(None)] * (len(shape) - 1)
        ax = axis % len(shape)
        sl[ax] = slice(0, c // groups)
        mask[tuple(sl)] = 0.0
    elif kind == "broadcast":  # a mask without the channel axis, broadcast by the layer
        mshape = list(shape)
        mshape[axis % len(shape)] = 1
        mask = (rng.random(mshape) > 0.3).astype(np.float32)
    elif kind == "all_zero":
        mask = np.zeros(shape, np.float32)
    else:
        mask = np.ones(shape, np.float32)
    want = _run(tfk, x, mask, groups, axis, gamma, beta)
    got = gnk.keras.group_normalization(x, groups=groups, axis=axis, gamma=gamma, beta=beta,
                                        mask=mask)
    # tf.nn.batch_normalization folds the affine (x * inv + (beta - mean * inv)); with a
    # fully masked group inv = rsqrt(eps) * gamma, so |x * inv| sets the rounding scale.
    mag = np.abs(x).astype(np.float64) * np.abs(gamma).reshape(
        [-1 if i == axis % len(shape) else 1 for i in range(len(shape))]) / np.sqrt(1e-3)
    assert_close(got, want, F32, f"mask {kind}", mag=mag if kind in ("group_masked", "all_zero")
                 else folded_mag(x, groups, 1e-3, gamma, axis=axis % len(shape)))


def test_no_mask_same_as_keras3_semantics():
    tfk = _tf_keras()
    x = data((2, 5, 4, 8), F32, seed=3)
    gamma, beta = params(8, seed=3)
    want = _run(tfk, x, None, 4, -1, gamma, beta)
    got = gnk.keras.group_normalization(x, groups=4, gamma=gamma, beta=beta)
    assert_close(got, want, F32, "no mask", mag=folded_mag(x, 4, 1e-3, gamma, axis=3))


def test_mask_f16():
    tfk = _tf_keras()
    rng = np.random.default_rng(9)
    x = data((2, 6, 8), F16, seed=9)
    mask = (rng.random((2, 6, 8)) > 0.3).astype(np.float32)
    gamma, beta = params(8, seed=9, dtype=F16)
    want = _run(tfk, x, mask, 4, -1, gamma, beta, dtype=F16)
    got = gnk.keras.group_normalization(x, groups=4, gamma=gamma, beta=beta, mask=mask)
    assert got.dtype == F16
    # tf.keras 2 normalizes in float16 (weighted_moments in float32): its f16 rounding of
    # the folded terms counts.
    assert_close(got.astype(np.float32), want.astype(np.float32), F16, "mask f16",
                 mag=folded_mag(x, 4, 1e-3, gamma, axis=2))
