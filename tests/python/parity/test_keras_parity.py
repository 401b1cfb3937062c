"""gnk.keras vs Keras 3 (JAX backend) keras.layers.GroupNormalization, and the R
entry point gnk.keras.layer_group_normalization (1-based axes) against the same layer."""
import numpy as np
import pytest

import gnk
from parity_util import (BF16, DTYPES, F16, F32, assert_close, data, dtype_id, folded_mag,
                         messages_match, need, params)

# (shape, groups, axis): ranks 2..5, channel axis last / 1 / in the middle, G = 1, G = C,
# groups = -1, spatial size 1.
CASES = [((3, 6), 3, -1), ((4, 8), 1, 1), ((2, 6), -1, -1), ((2, 5, 6), 2, -1),
         ((2, 6, 5), 3, 1), ((2, 4, 3, 8), 4, -1), ((2, 8, 4, 3), 8, 1), ((2, 4, 8, 3), 2, 2),
         ((2, 4, 8, 3), 4, -2), ((1, 1, 1, 16), 4, -1), ((3, 1, 12), -1, 2),
         ((2, 3, 4, 2, 6), 3, -1), ((2, 6, 3, 2, 2), 2, 1), ((2, 5, 4, 64), 32, -1)]


def _keras():
    k = need("keras")
    if k.backend.backend() != "jax":
        pytest.fail(f"Keras runs on backend {k.backend.backend()!r}; the parity tests need "
                    "KERAS_BACKEND=jax set before keras is imported")
    return k


def _policy(dtype):
    # f16/bf16 inputs: compute dtype x's dtype, float32 weights (mixed policy); the layer
    # itself upcasts to float32 for the arithmetic (Keras 3.7+) and casts back.
    return {F32: "float32", F16: "mixed_float16"}.get(np.dtype(dtype), "mixed_bfloat16")


def _layer(keras, x, dtype, gamma=None, beta=None, **kw):
    layer = keras.layers.GroupNormalization(dtype=_policy(dtype), **kw)
    layer.build(x.shape)
    if gamma is not None and layer.gamma is not None:
        layer.gamma.assign(gamma)
    if beta is not None and layer.beta is not None:
        layer.beta.assign(beta)
    y = layer(x.astype(np.float32) if dtype == BF16 else x)
    return np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(y, "float32")))


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape,groups,axis", CASES, ids=[f"{s}g{g}a{a}" for s, g, a in CASES])
def test_group_normalization(shape, groups, axis, dtype):
    keras = _keras()
    x = data(shape, dtype, seed=sum(shape) + groups)
    c = shape[axis]
    gamma, beta = params(c, seed=c)
    want = _layer(keras, x, dtype, gamma, beta, groups=groups, axis=axis, epsilon=1e-3)
    got = gnk.keras.group_normalization(x, groups=groups, axis=axis, epsilon=1e-3, gamma=gamma,
                                        beta=beta)
    assert got.dtype == x.dtype
    g = c if groups == -1 else groups
    assert_close(got.astype(np.float32), want, dtype, f"{shape} G={groups} axis={axis}",
                 mag=folded_mag(x, g, 1e-3, gamma, axis=axis % len(shape)))


@pytest.mark.parametrize("center,scale", [(False, True), (True, False), (False, False)])
def test_center_scale(center, scale):
    keras = _keras()
    x = data((2, 5, 4, 8), F32, seed=11)
    gamma, beta = params(8, seed=11)
    want = _layer(keras, x, F32, gamma, beta, groups=4, center=center, scale=scale)
    got = gnk.keras.group_normalization(x, groups=4, center=center, scale=scale, gamma=gamma,
                                        beta=beta)
    assert_close(got, want, F32, f"center={center} scale={scale}",
                 mag=folded_mag(x, 4, 1e-3, gamma if scale else None, axis=3))


def test_defaults():
    """groups=32, axis=-1, epsilon=1e-3, center/scale with ones/zeros weights."""
    keras = _keras()
    x = data((2, 3, 3, 64), F32, seed=5)
    layer = keras.layers.GroupNormalization()
    want = np.asarray(layer(x))
    assert_close(gnk.keras.group_normalization(x), want, F32, "defaults",
                 mag=folded_mag(x, 32, 1e-3, axis=3))


@pytest.mark.parametrize("r_axis,py_axis", [(2, 1), (4, 3), (3, 2), (-1, -1), (-3, -3)])
def test_r_layer_group_normalization(r_axis, py_axis):
    """R's layer_group_normalization(axis = k) is Keras' axis k - 1 for k > 0."""
    keras = _keras()
    x = data((2, 4, 6, 8), F32, seed=r_axis + 10)
    c = x.shape[py_axis]
    gamma, beta = params(c, seed=c)
    want = _layer(keras, x, F32, gamma, beta, groups=2, axis=py_axis, epsilon=0.001)
    got = gnk.keras.layer_group_normalization(x, groups=2, axis=r_axis, epsilon=0.001,
                                              gamma=gamma, beta=beta)
    assert_close(got, want, F32, f"R axis {r_axis}",
                 mag=folded_mag(x, 2, 1e-3, gamma, axis=py_axis % 4))


def test_r_axis_zero_is_an_error():
    with pytest.raises(gnk.GnkError, match="1 based, received 0"):
        gnk.keras.layer_group_normalization(data((2, 4, 8), F32, 1), groups=2, axis=0)


ERRORS = [  # (shape, groups, axis)
    ((2, 4, 6), 0, -1),     # groups not positive
    ((2, 4, 6), -3, -1),
    ((2, 4, 6), 8, -1),     # groups > channels
    ((2, 4, 6), 4, -1),     # channels % groups
    ((2, 4, 6), 2, 3),      # axis out of bounds
    ((2, 4, 6), 2, -4),
]


@pytest.mark.parametrize("shape,groups,axis", ERRORS, ids=[str(e) for e in ERRORS])
def test_errors(shape, groups, axis):
    keras = _keras()
    x = np.zeros(shape, np.float32)
    with pytest.raises(Exception) as fw:
        keras.layers.GroupNormalization(groups=groups, axis=axis)(x)
    with pytest.raises(gnk.GnkError) as ours:
        gnk.keras.group_normalization(x, groups=groups, axis=axis)
    if not isinstance(fw.value, IndexError):  # Keras indexes the shape before checking
        assert messages_match(str(ours.value), str(fw.value)), (str(ours.value), str(fw.value))
    else:
        assert "out of bounds" in str(ours.value)


@pytest.mark.parametrize("shape", [(0, 4, 6), (2, 0, 6), (0, 0, 6)])
def test_empty(shape):
    keras = _keras()
    x = np.zeros(shape, np.float32)
    try:
        want = np.asarray(keras.layers.GroupNormalization(groups=2)(x))
    except Exception as e:  # Keras' own failure: gnk must fail too
        with pytest.raises(gnk.GnkError, match="modulo by zero"):
            gnk.keras.group_normalization(x, groups=2)
        assert "modulo by zero" in str(e)
        return
    got = gnk.keras.group_normalization(x, groups=2)
    assert got.shape == want.shape and got.dtype == want.dtype
